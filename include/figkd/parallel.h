/* Data-parallel training across processes (MPI). Built with MPI when meson
 * finds it (-Dmpi=auto|enabled|disabled); without MPI, or in a process not
 * started by mpirun, there is one rank and every call is a no-op, so the
 * program behaves exactly as a single process.
 *
 * Host buffers only: callers read device buffers, reduce here, write back.
 * Collective calls must be made by every rank in the same order. */
#ifndef FIGKD_PARALLEL_H
#define FIGKD_PARALLEL_H

#include "figkd/common.h"

#include <stdbool.h>

typedef struct fk_par {
    bool active;          /* started by mpirun with more than one rank */
    int rank, size;       /* in the job */
    int local_rank, local_size; /* on this node */
} fk_par;

/* Join the job when `launched` (the process was started by an MPI launcher:
 * the CLI tells from the environment, see fk_par_launched_env in
 * src/cli); otherwise *d is rank 0 of 1 and MPI is not touched. */
fk_status fk_par_init(int *argc, char ***argv, bool launched, fk_par *d);
void fk_par_finalize(const fk_par *d);
/* End every rank of the job with this exit status (never returns); in a
 * single process, exit(code). */
_Noreturn void fk_par_abort(const fk_par *d, int code);
/* Whether this build has MPI. */
bool fk_par_built_with_mpi(void);
/* The job this process belongs to: what fk_par_init joined, rank 0 of 1
 * before (or without) it. The training library reads it. */
const fk_par *fk_par_world(void);
/* Rank 0 of the job (also true in a single process). */
static inline bool fk_par_root(const fk_par *d) { return d->rank == 0; }
/* Several ranks take part (collectives do something). */
static inline bool fk_par_many(const fk_par *d) { return d->active && d->size > 1; }

/* In-place sums over all ranks (blocking). */
fk_status fk_par_sum_f32(const fk_par *d, float *x, size_t n);
fk_status fk_par_sum_f64(const fk_par *d, double *x, size_t n);
fk_status fk_par_sum_i64(const fk_par *d, long long *x, size_t n);
/* In-place maximum over all ranks (blocking). */
fk_status fk_par_max_int(const fk_par *d, int *x, size_t n);
/* Root's bytes to every rank. */
fk_status fk_par_bcast(const fk_par *d, void *buf, size_t bytes, int root);
/* In place: rank r's `bytes` at buf + r * bytes to every rank (buf holds
 * size * bytes). */
fk_status fk_par_allgather(const fk_par *d, void *buf, size_t bytes);
fk_status fk_par_barrier(const fk_par *d);

/* Non-blocking in-place mean of float buffers, in buckets: start a bucket
 * as soon as its data is on the host, wait for all before using them. */
typedef struct fk_par_bucket {
    float *data;
    size_t count;
    void *req;            /* MPI_Request while in flight, NULL otherwise */
} fk_par_bucket;

fk_status fk_par_bucket_start(const fk_par *d, fk_par_bucket *b);
/* Let a started bucket's reduction move on (MPI implementations such as
 * Open MPI progress non-blocking collectives only inside MPI calls). */
fk_status fk_par_bucket_test(const fk_par *d, fk_par_bucket *b);
/* Wait for the bucket and scale it by 1/size (the mean). */
fk_status fk_par_bucket_finish(const fk_par *d, fk_par_bucket *b);

/* This rank's share [begin, end) of `total` items split as evenly as
 * possible (the first total % size ranks get one more). */
void fk_par_shard(const fk_par *d, long total, long *begin, long *end);

#endif
