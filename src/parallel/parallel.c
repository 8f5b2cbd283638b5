/* include/figkd/parallel.h: MPI when built with it and started by a launcher,
 * one rank otherwise. */
#include "figkd/parallel.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef FK_HAVE_MPI
#include <mpi.h>
#endif

void fk_par_shard(const fk_par *d, long total, long *begin, long *end)
{
    long size = d->size > 0 ? d->size : 1, r = d->rank;
    long base = total / size, extra = total % size;
    *begin = r * base + (r < extra ? r : extra);
    *end = *begin + base + (r < extra ? 1 : 0);
}

static fk_par world = {false, 0, 1, 0, 1};

const fk_par *fk_par_world(void) { return &world; }

bool fk_par_built_with_mpi(void)
{
#ifdef FK_HAVE_MPI
    return true;
#else
    return false;
#endif
}

#ifdef FK_HAVE_MPI

static fk_status mpi_fail(int rc, const char *call)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", rc);
    return fk_error(FK_ERR_IO, "%s failed: %s", call, msg);
}

#define MPI_TRY(call)                                                          \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != MPI_SUCCESS)                                                \
            return mpi_fail(rc_, #call);                                       \
    } while (0)

fk_status fk_par_init(int *argc, char ***argv, bool launched, fk_par *d)
{
    *d = (fk_par){false, 0, 1, 0, 1};
    if (!launched)
        return FK_OK;
    int provided;
    MPI_TRY(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
    /* errors come back as codes, so that each is reported with its call */
    MPI_TRY(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_TRY(MPI_Comm_rank(MPI_COMM_WORLD, &d->rank));
    MPI_TRY(MPI_Comm_size(MPI_COMM_WORLD, &d->size));
    MPI_Comm local;
    MPI_TRY(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local));
    MPI_TRY(MPI_Comm_rank(local, &d->local_rank));
    MPI_TRY(MPI_Comm_size(local, &d->local_size));
    MPI_Comm_free(&local);
    d->active = true;
    world = *d;
    return FK_OK;
}

void fk_par_finalize(const fk_par *d)
{
    if (d->active)
        MPI_Finalize();
}

_Noreturn void fk_par_abort(const fk_par *d, int code)
{
    fflush(stdout);
    fflush(stderr);
    if (d && d->active && d->size > 1)
        MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    exit(code);
}

static fk_status sum(const fk_par *d, void *x, size_t n, MPI_Datatype type)
{
    if (!d->active || d->size == 1 || n == 0)
        return FK_OK;
    /* MPI counts are int: reduce in pieces */
    size_t item = type == MPI_FLOAT ? 4 : 8;
    for (size_t done = 0; done < n;) {
        int count = n - done > (size_t)1 << 30 ? 1 << 30 : (int)(n - done);
        MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, (char *)x + done * item, count, type, MPI_SUM, MPI_COMM_WORLD));
        done += (size_t)count;
    }
    return FK_OK;
}

fk_status fk_par_sum_f32(const fk_par *d, float *x, size_t n) { return sum(d, x, n, MPI_FLOAT); }
fk_status fk_par_sum_f64(const fk_par *d, double *x, size_t n) { return sum(d, x, n, MPI_DOUBLE); }
fk_status fk_par_sum_i64(const fk_par *d, long long *x, size_t n) { return sum(d, x, n, MPI_LONG_LONG); }

fk_status fk_par_max_int(const fk_par *d, int *x, size_t n)
{
    if (!d->active || d->size == 1 || n == 0)
        return FK_OK;
    if (n > (size_t)1 << 30)
        return fk_error(FK_ERR_ARG, "fk_par_max_int: %zu values is over 2^30", n);
    MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    return FK_OK;
}

fk_status fk_par_bcast(const fk_par *d, void *buf, size_t bytes, int root)
{
    if (!d->active || d->size == 1)
        return FK_OK;
    for (size_t done = 0; done < bytes;) {
        int count = bytes - done > (size_t)1 << 30 ? 1 << 30 : (int)(bytes - done);
        MPI_TRY(MPI_Bcast((char *)buf + done, count, MPI_BYTE, root, MPI_COMM_WORLD));
        done += (size_t)count;
    }
    return FK_OK;
}

fk_status fk_par_allgather(const fk_par *d, void *buf, size_t bytes)
{
    if (!d->active || d->size == 1)
        return FK_OK;
    if (bytes > (size_t)1 << 30)
        return fk_error(FK_ERR_ARG, "fk_par_allgather: %zu bytes per rank is over 2^30", bytes);
    MPI_TRY(MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, (int)bytes, MPI_BYTE, MPI_COMM_WORLD));
    return FK_OK;
}

fk_status fk_par_barrier(const fk_par *d)
{
    if (d->active && d->size > 1)
        MPI_TRY(MPI_Barrier(MPI_COMM_WORLD));
    return FK_OK;
}

fk_status fk_par_bucket_start(const fk_par *d, fk_par_bucket *b)
{
    b->req = NULL;
    if (!d->active || d->size == 1 || b->count == 0)
        return FK_OK;
    if (b->count > (size_t)1 << 30)
        return fk_error(FK_ERR_ARG, "fk_par_bucket_start: bucket of %zu floats is over 2^30", b->count);
    MPI_Request *r = fk_malloc(sizeof *r);
    if (!r)
        return FK_ERR_NOMEM;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, b->data, (int)b->count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, r);
    if (rc != MPI_SUCCESS) {
        free(r);
        return mpi_fail(rc, "MPI_Iallreduce");
    }
    b->req = r;
    return FK_OK;
}

fk_status fk_par_bucket_test(const fk_par *d, fk_par_bucket *b)
{
    (void)d;
    if (!b->req)
        return FK_OK;
    int done = 0; /* once done the request is MPI_REQUEST_NULL: the wait returns at once */
    MPI_TRY(MPI_Test(b->req, &done, MPI_STATUS_IGNORE));
    return FK_OK;
}

fk_status fk_par_bucket_finish(const fk_par *d, fk_par_bucket *b)
{
    if (!b->req)
        return FK_OK;
    MPI_Request *r = b->req;
    int rc = MPI_Wait(r, MPI_STATUS_IGNORE);
    free(r);
    b->req = NULL;
    if (rc != MPI_SUCCESS)
        return mpi_fail(rc, "MPI_Wait");
    float scale = 1.0f / (float)d->size;
    for (size_t i = 0; i < b->count; i++)
        b->data[i] *= scale;
    return FK_OK;
}

#else /* one process */

fk_status fk_par_init(int *argc, char ***argv, bool launched, fk_par *d)
{
    (void)argc;
    (void)argv;
    *d = (fk_par){false, 0, 1, 0, 1};
    if (launched)
        fprintf(stderr, "figkd-cl: started by an MPI launcher, but this build has no MPI: every rank trains alone "
                        "(rebuild with -Dmpi=enabled)\n");
    return FK_OK;
}

void fk_par_finalize(const fk_par *d) { (void)d; }

_Noreturn void fk_par_abort(const fk_par *d, int code)
{
    (void)d;
    exit(code);
}

fk_status fk_par_sum_f32(const fk_par *d, float *x, size_t n) { (void)d, (void)x, (void)n; return FK_OK; }
fk_status fk_par_sum_f64(const fk_par *d, double *x, size_t n) { (void)d, (void)x, (void)n; return FK_OK; }
fk_status fk_par_sum_i64(const fk_par *d, long long *x, size_t n) { (void)d, (void)x, (void)n; return FK_OK; }
fk_status fk_par_max_int(const fk_par *d, int *x, size_t n) { (void)d, (void)x, (void)n; return FK_OK; }
fk_status fk_par_bcast(const fk_par *d, void *buf, size_t bytes, int root)
{
    (void)d, (void)buf, (void)bytes, (void)root;
    return FK_OK;
}
fk_status fk_par_allgather(const fk_par *d, void *buf, size_t bytes)
{
    (void)d, (void)buf, (void)bytes;
    return FK_OK;
}
fk_status fk_par_barrier(const fk_par *d) { (void)d; return FK_OK; }
fk_status fk_par_bucket_start(const fk_par *d, fk_par_bucket *b)
{
    (void)d;
    b->req = NULL;
    return FK_OK;
}
fk_status fk_par_bucket_test(const fk_par *d, fk_par_bucket *b)
{
    (void)d;
    (void)b;
    return FK_OK;
}
fk_status fk_par_bucket_finish(const fk_par *d, fk_par_bucket *b)
{
    (void)d;
    (void)b;
    return FK_OK;
}

#endif
