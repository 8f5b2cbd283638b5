/* The device side of data parallelism (src/parallel/grads.c): gradients
 * averaged over the processes in buckets while backward runs, and a
 * parameter store sent from rank 0 to the others. Both are collectives:
 * every rank calls them in the same order. In one process they do nothing.
 * (Batch norm over every process's batch is fk_bn_*_sync in
 * include/figkd/ops.h, given the sums of fk_par_replicas.) */
#ifndef FIGKD_PARALLEL_CL_H
#define FIGKD_PARALLEL_CL_H

#include "figkd/method.h"
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
    bool hold;                /* the hook does nothing (a backward before the step's last) */
    cl_mem add;               /* NULL, or (count) floats added into each bucket's gradients
                               * before its read: an earlier backward's, kept aside */
    /* host seconds in fk_grad_sync_end after the last bucket's read, summed
     * (communication not hidden by the backward) */
    double exposed_s;
    bool poll;                /* move started reductions on while waiting for reads
                               * (FIGKD_GRAD_POLL=0: not, to measure what it gains) */
} fk_grad_sync;

/* Nothing is allocated in one process (fk_par_many false); bucket 0 =
 * FK_GRAD_BUCKET. */
fk_status fk_grad_sync_init(fk_grad_sync *s, const fk_par *par, fk_runtime *rt, fk_param_store *ps, size_t bucket);
void fk_grad_sync_free(fk_grad_sync *s);
/* The hook (ctx: the fk_grad_sync): the gradients at offsets >= grads_from
 * are complete in queue order. */
fk_status fk_grad_sync_ready(void *ctx, size_t grads_from);
/* A step of two backwards (a method of two views): hold the hook during
 * the first; before the last, arm it with the first backward's gradients,
 * kept aside in `add`, which each bucket gets added before its read (the
 * sum the step would otherwise form after the last backward). Both end
 * with fk_grad_sync_end. */
void fk_grad_sync_hold(fk_grad_sync *s);
void fk_grad_sync_arm(fk_grad_sync *s, cl_mem add);
/* After the backward: the remaining reads, the allreduces, the means
 * written back into the gradients (queued before the optimizer step); then
 * ready for the next step. */
fk_status fk_grad_sync_end(fk_grad_sync *s);

/* A loss term that couples the rows of a batch (the method row's
 * .whole_batch) computed over the global batch: every rank gathers the
 * student's and teacher's logits and the labels of all ranks, runs the
 * term on them (the same value on every rank) and keeps the gradient rows
 * of its own samples. */
typedef struct fk_logit_gather {
    const fk_par *par;
    fk_runtime *rt;
    int n, c;                 /* this rank's rows, classes */
    cl_mem student, teacher;  /* (size * n, c) */
    cl_mem dlogits;           /* (size * n, c) */
    fk_tensor dl;             /* dlogits as the term's io points at it */
    cl_mem labels;            /* (size * n) int32 */
    cl_mem work;              /* (work_elems) */
    size_t work_elems;
    float *host;              /* (size * n * c) */
    int *host_labels;         /* (size * n) */
} fk_logit_gather;

/* Nothing is allocated in one process; work: the term's scratch floats for
 * size * n rows. */
fk_status fk_logit_gather_init(fk_logit_gather *g, const fk_par *par, fk_runtime *rt, int n, int c,
                               size_t work_elems);
void fk_logit_gather_free(fk_logit_gather *g);
/* The term's io over the global batch: io's student and teacher logits
 * (n, c) and labels (n) gathered into g's buffers, io pointed at them, at
 * the zeroed global dlogits and at g's work (blocking: waits for the
 * forwards). */
fk_status fk_logit_gather_io(fk_logit_gather *g, fk_method_io *io);
/* After the term: dlogits (n, c) += size * this rank's rows of the global
 * dlogits (the gradients' mean over the ranks then holds the global
 * batch's). */
fk_status fk_logit_gather_scatter(fk_logit_gather *g, const fk_tensor *dlogits);

/* Rank 0's parameters and buffers (and with momentum, the SGD momentum)
 * copied to every rank. */
fk_status fk_par_bcast_params(const fk_par *par, fk_runtime *rt, fk_param_store *ps, bool momentum);

/* The sums of fk_bn_*_sync over the job's ranks (ctx: its fk_par). */
fk_replicas fk_par_replicas(const fk_par *par);

#endif
