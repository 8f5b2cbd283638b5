/* The device side of data parallelism (src/parallel/): gradients averaged
 * over the processes in buckets while backward runs, a model's state sent
 * from rank 0 to the others, and batch norm with statistics over every
 * process's batch (SyncBatchNorm). All are collectives: every rank calls
 * them in the same order. In one process they do nothing (or, for batch
 * norm, are not called: the graph's sync_bn stays NULL). */
#ifndef FIGKD_PARALLEL_CL_H
#define FIGKD_PARALLEL_CL_H

#include "figkd/graph.h"
#include "figkd/ops.h"
#include "figkd/parallel.h"

/* Floats per gradient bucket: 1 MiB messages. */
#define FK_GRAD_BUCKET ((size_t)1 << 18)

/* Gradient averaging of one graph's parameter store. Buckets are ranges of
 * the store's gradient buffer, highest offsets first (the parameters of
 * the last layers, whose backward ends first). During fk_graph_backward
 * the graph's after_backward hook enqueues the read of each bucket as soon
 * as the backward of every layer it covers has been enqueued; at the end
 * each bucket's non-blocking allreduce starts when its read has completed,
 * while the device still runs the backward of the layers before it. */
typedef struct fk_grad_sync {
    const fk_par *par;
    fk_runtime *rt;
    fk_graph *g;
    size_t count, bucket;     /* floats in the store, per bucket */
    int nb;                   /* buckets */
    float *host;              /* (count) */
    fk_par_bucket *b;         /* (nb) */
    cl_event *ev;             /* (nb) reads in flight, NULL when none */
    int next;                 /* the highest bucket whose read is not enqueued yet (-1: all are) */
    size_t done_lo;           /* gradients at offsets >= done_lo are complete */
} fk_grad_sync;

/* Nothing is allocated in one process (fk_par_many false). */
fk_status fk_grad_sync_init(fk_grad_sync *s, const fk_par *par, fk_runtime *rt, fk_graph *g, size_t bucket);
void fk_grad_sync_free(fk_grad_sync *s);
/* Before fk_graph_backward: set the hook. */
void fk_grad_sync_begin(fk_grad_sync *s);
/* After it: the remaining reads, the allreduces, the means written back
 * into the gradients (before the optimizer step); the hook is removed. */
fk_status fk_grad_sync_end(fk_grad_sync *s);

/* Rank 0's parameters and buffers (and with momentum, the SGD momentum)
 * copied to every rank. */
fk_status fk_par_bcast_params(const fk_par *par, fk_runtime *rt, fk_param_store *ps, bool momentum);

/* Train-mode batch norm over the batches of every rank, with the
 * arguments of fk_bn_forward_train and fk_bn_backward (include/figkd/ops.h):
 * mean and variance of all N x ranks samples, the running statistics
 * updated with them; backward with the sums of dy and dy * xhat over all
 * samples (dgamma, dbeta: this rank's sums, averaged with the other
 * gradients). The sums are taken on the host in double precision. */
fk_status fk_sync_bn_forward(const fk_par *par, fk_runtime *rt, fk_tensor out, fk_tensor save_mean,
                             fk_tensor save_invstd, fk_tensor in, fk_tensor gamma, fk_tensor beta,
                             fk_tensor running_mean, fk_tensor running_var, fk_tensor num_batches,
                             const fk_bn_dims *d);
fk_status fk_sync_bn_backward(const fk_par *par, fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma,
                              const fk_tensor *dbeta, fk_tensor dout, fk_tensor in, fk_tensor gamma,
                              fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d);

#endif
