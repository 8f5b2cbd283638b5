/* The device side of data parallelism (src/parallel/grads.c): gradients
 * averaged over the processes in buckets while backward runs, and a
 * parameter store sent from rank 0 to the others. Both are collectives:
 * every rank calls them in the same order. In one process they do nothing.
 * (Batch norm over every process's batch is fk_bn_*_sync in
 * include/figkd/ops.h, given the sums of fk_par_replicas.) */
#ifndef FIGKD_PARALLEL_CL_H
#define FIGKD_PARALLEL_CL_H

#include "figkd/ops.h"
#include "figkd/parallel.h"
#include "figkd/runtime.h"

/* Floats per gradient bucket: 1 MiB messages. */
#define FK_GRAD_BUCKET ((size_t)1 << 18)

/* Gradient averaging of one parameter store. Buckets are ranges of the
 * store's gradient buffer, highest offsets first (the parameters of the
 * last layers, whose backward ends first). As the graph's after_backward
 * hook (fk_grad_sync_ready), it enqueues the read of each bucket as soon as
 * the backward of every layer the bucket covers is enqueued; fk_grad_sync_end
 * then starts each bucket's non-blocking allreduce once its read has
 * completed, while the device still runs the backward of the layers below. */
typedef struct fk_grad_sync {
    const fk_par *par;
    fk_runtime *rt;
    fk_param_store *ps;
    size_t count, bucket;     /* floats in the store, per bucket */
    int nb;                   /* buckets */
    float *host;              /* (count) */
    fk_par_bucket *b;         /* (nb) */
    cl_event *ev;             /* (nb) reads in flight, NULL when none */
    int next;                 /* the highest bucket whose read is not enqueued yet (-1: all are) */
    size_t done_lo;           /* gradients at offsets >= done_lo are complete */
} fk_grad_sync;

/* Nothing is allocated in one process (fk_par_many false); bucket 0 =
 * FK_GRAD_BUCKET. */
fk_status fk_grad_sync_init(fk_grad_sync *s, const fk_par *par, fk_runtime *rt, fk_param_store *ps, size_t bucket);
void fk_grad_sync_free(fk_grad_sync *s);
/* The hook (ctx: the fk_grad_sync): the gradients at offsets >= grads_from
 * are complete in queue order. */
fk_status fk_grad_sync_ready(void *ctx, size_t grads_from);
/* After the backward: the remaining reads, the allreduces, the means
 * written back into the gradients (queued before the optimizer step); then
 * ready for the next step. */
fk_status fk_grad_sync_end(fk_grad_sync *s);

/* Rank 0's parameters and buffers (and with momentum, the SGD momentum)
 * copied to every rank. */
fk_status fk_par_bcast_params(const fk_par *par, fk_runtime *rt, fk_param_store *ps, bool momentum);

/* The sums of fk_bn_*_sync over the job's ranks (ctx: its fk_par). */
fk_replicas fk_par_replicas(const fk_par *par);

#endif
