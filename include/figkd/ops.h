/* Layer ops, forward and backward, on device tensors (NCHW, float32).
 *
 * Conventions (docs/design.md):
 * - outputs first, then inputs, then weights, then sizes;
 * - forward overwrites its output; backward ADDS into every gradient it
 *   produces (input, weight and bias gradients alike): the caller zeroes
 *   gradient buffers once per step, and a tensor used twice (a residual)
 *   collects both contributions;
 * - a gradient pointer that is NULL is not computed;
 * - nothing here allocates device memory: scratch space ("work") comes from
 *   the caller, sized by the matching *_work function (floats);
 * - nothing here waits for the device.
 * One op per file: src/ops/<op>.c with its kernels in cl/<op>.cl. */
#ifndef FIGKD_OPS_H
#define FIGKD_OPS_H

#include "figkd/runtime.h"

/* ---- conv2d (src/ops/conv.c, cl/conv.cl) ------------------------------ */

typedef struct fk_conv_dims {
    int n, c_in, h, w;      /* input (N, C_in, H, W) */
    int c_out, kh, kw;      /* weight (C_out, C_in / groups, KH, KW) */
    int stride, pad, groups;
    int h_out, w_out;       /* filled by fk_conv_dims_init */
    bool bias;              /* bias (C_out) present */
} fk_conv_dims;

/* Fill dims and compute the output size as PyTorch does (square kernel k,
 * the same stride and padding in both directions, floor rounding); returns
 * FK_ERR_ARG for impossible shapes (channels not divisible by groups, kernel
 * larger than the padded input, non-positive sizes). */
fk_status fk_conv_dims_init(fk_conv_dims *d, int n, int c_in, int h, int w, int c_out, int k,
                            int stride, int pad, int groups, bool bias);
/* Scratch floats needed by forward and by backward (im2col columns and the
 * weight gradient's per-sample parts, or for the whole-batch path the
 * columns and the channel-major output gradient: room for either, as the
 * path is chosen per runtime); 0 when groups > 1. `work` is scratch
 * only: its contents are not kept between calls, so one work area can serve
 * every conv of a model. */
size_t fk_conv_work(const fk_conv_dims *d);
/* The scratch floats of the path rt takes (forward, and with train the
 * backward too): on CPU devices with the own GEMMs, Winograd and the
 * weight gradient in chunks of samples, much less than fk_conv_work;
 * elsewhere fk_conv_work. */
size_t fk_conv_work_on(fk_runtime *rt, const fk_conv_dims *d, bool train);
/* out (N, C_out, H_out, W_out) = conv2d(in (N, C_in, H, W), weight
 * (C_out, C_in/groups, k, k)) + bias (C_out); bias must be given exactly
 * when d->bias. Backward adds into din (like in), dweight (like weight) and
 * dbias (C_out; only when d->bias); out, din and dout must not overlap work. */
fk_status fk_conv_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                          const fk_tensor *bias, fk_tensor work, const fk_conv_dims *d);
fk_status fk_conv_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dweight,
                           const fk_tensor *dbias, fk_tensor dout, fk_tensor in, fk_tensor weight,
                           fk_tensor work, const fk_conv_dims *d);
/* Inference: out = relu?(conv2d(in, weight) + bias (C_out) + res (like out)),
 * bias and res optional (NULL), d->bias ignored (bias says); out overlaps
 * neither in nor res. One pass after the product, or none (Winograd adds
 * them in its output step). */
fk_status fk_conv_forward_fused(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                                const fk_tensor *bias, const fk_tensor *res, bool relu, fk_tensor work,
                                const fk_conv_dims *d);

/* What a conv of (frozen, shape) runs with rt's switches and tune table:
 * "GEMM FORWARD" for the frozen teacher's fused forward, else "GEMM
 * FORWARD/BACKWARD" (own | wi | clblast; columns | winograd | batch). */
void fk_conv_choice_describe(fk_runtime *rt, const fk_conv_dims *d, bool frozen, char *out, size_t n);
/* The dims of node `id` of a built graph as a conv of batch n (bias as
 * the layer has it); false when the node is no conv. src/graph/layer_conv.c. */
typedef struct fk_graph fk_graph;
bool fk_graph_conv_dims(fk_graph *g, int id, int n, fk_conv_dims *d);

/* ---- batchnorm2d (src/ops/batchnorm.c, cl/batchnorm.cl) --------------- */

typedef struct fk_bn_dims {
    int n, c, h, w;
    float eps;       /* 1e-5 */
    float momentum;  /* 0.1 */
} fk_bn_dims;

/* Train mode: normalise with the batch mean and biased variance; save mean
 * and 1/sqrt(var + eps) per channel for backward; update running_mean and
 * running_var (unbiased variance) with momentum, and add 1 to
 * num_batches_tracked (a float on the device, saved as int64). */
fk_status fk_bn_forward_train(fk_runtime *rt, fk_tensor out, fk_tensor save_mean, fk_tensor save_invstd,
                              fk_tensor in, fk_tensor gamma, fk_tensor beta, fk_tensor running_mean,
                              fk_tensor running_var, fk_tensor num_batches, const fk_bn_dims *d);
/* Eval mode: running statistics. */
fk_status fk_bn_forward_eval(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor gamma,
                             fk_tensor beta, fk_tensor running_mean, fk_tensor running_var,
                             const fk_bn_dims *d);
/* Backward of train mode. */
fk_status fk_bn_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma,
                         const fk_tensor *dbeta, fk_tensor dout, fk_tensor in, fk_tensor gamma,
                         fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d);

/* The same with the ReLU that follows the BN fused in (src/graph/graph.c
 * fuses a ReLU that runs in place on a BN's output): forward writes
 * relu(bn(in)) into out in the same pass; backward takes the ReLU's
 * gradient dout and its output out (relu(bn(in))) and gates dout by
 * out > 0 on the way. Element for element the floats of fk_bn_forward_*
 * then fk_relu_forward, and of fk_relu_backward into a zeroed buffer then
 * fk_bn_backward (the channel sums in the same order). */
fk_status fk_bn_relu_forward_train(fk_runtime *rt, fk_tensor out, fk_tensor save_mean, fk_tensor save_invstd,
                                   fk_tensor in, fk_tensor gamma, fk_tensor beta, fk_tensor running_mean,
                                   fk_tensor running_var, fk_tensor num_batches, const fk_bn_dims *d);
fk_status fk_bn_relu_forward_eval(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor gamma,
                                  fk_tensor beta, fk_tensor running_mean, fk_tensor running_var,
                                  const fk_bn_dims *d);
fk_status fk_bn_relu_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma,
                              const fk_tensor *dbeta, fk_tensor dout, fk_tensor out, fk_tensor in,
                              fk_tensor gamma, fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d);

/* The replicas of a data-parallel job (include/figkd/parallel.h): sum
 * (in place, over every replica, each calling it in the same order). */
typedef struct fk_replicas {
    fk_status (*sum)(void *ctx, double *x, size_t n);
    void *ctx;
} fk_replicas;

/* Train-mode batch norm over the batches of every replica (SyncBatchNorm;
 * src/ops/batchnorm_sync.c), with the arguments of fk_bn_forward_train and
 * fk_bn_backward: mean and variance of all the replicas' samples, the
 * running statistics updated with them; backward with the sums of dy and
 * dy * xhat over all samples (dgamma, dbeta: this replica's sums, averaged
 * later with the other gradients). The per-channel sums are taken on the
 * host in double precision (each call reads the layer's tensors back). */
fk_status fk_bn_forward_train_sync(const fk_replicas *r, fk_runtime *rt, fk_tensor out, fk_tensor save_mean,
                                   fk_tensor save_invstd, fk_tensor in, fk_tensor gamma, fk_tensor beta,
                                   fk_tensor running_mean, fk_tensor running_var, fk_tensor num_batches,
                                   const fk_bn_dims *d);
fk_status fk_bn_backward_sync(const fk_replicas *r, fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma,
                              const fk_tensor *dbeta, fk_tensor dout, fk_tensor in, fk_tensor gamma,
                              fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d);
/* The same with a fused ReLU (as fk_bn_relu_*: out is the ReLU's output,
 * dout its gradient). */
fk_status fk_bn_relu_forward_train_sync(const fk_replicas *r, fk_runtime *rt, fk_tensor out, fk_tensor save_mean,
                                        fk_tensor save_invstd, fk_tensor in, fk_tensor gamma, fk_tensor beta,
                                        fk_tensor running_mean, fk_tensor running_var, fk_tensor num_batches,
                                        const fk_bn_dims *d);
fk_status fk_bn_relu_backward_sync(const fk_replicas *r, fk_runtime *rt, const fk_tensor *din,
                                   const fk_tensor *dgamma, const fk_tensor *dbeta, fk_tensor dout, fk_tensor out,
                                   fk_tensor in, fk_tensor gamma, fk_tensor save_mean, fk_tensor save_invstd,
                                   const fk_bn_dims *d);

/* ---- relu (src/ops/relu.c, cl/relu.cl) --------------------------------- */

fk_status fk_relu_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, size_t count);
/* din += dout where out > 0 (out may alias in when run in place) */
fk_status fk_relu_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, fk_tensor out, size_t count);

/* ---- pooling (src/ops/pool.c, cl/pool.cl) ------------------------------ */

typedef struct fk_pool_dims {
    int n, c, h, w;
    int k, stride, pad;
    int h_out, w_out;   /* filled by fk_pool_dims_init (floor mode, as PyTorch) */
} fk_pool_dims;

fk_status fk_pool_dims_init(fk_pool_dims *d, int n, int c, int h, int w, int k, int stride, int pad);
/* Max pool; backward sends each output's gradient to the position PyTorch
 * picks (the first maximum in the window in row-major order). */
fk_status fk_maxpool_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, const fk_pool_dims *d);
fk_status fk_maxpool_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, fk_tensor in,
                              const fk_pool_dims *d);
/* Average pool with PyTorch's defaults (count_include_pad = true). */
fk_status fk_avgpool_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, const fk_pool_dims *d);
fk_status fk_avgpool_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, const fk_pool_dims *d);
/* Global average pool: (N, C, H, W) -> (N, C). */
fk_status fk_gap_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, int n, int c, int hw);
fk_status fk_gap_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, int n, int c, int hw);

/* ---- linear (src/ops/linear.c, cl/linear.cl) --------------------------- */

/* out (N, O) = in (N, I) * weight (O, I)^T + bias (O) */
fk_status fk_linear_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                            const fk_tensor *bias, int n, int in_features, int out_features);
fk_status fk_linear_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dweight,
                             const fk_tensor *dbias, fk_tensor dout, fk_tensor in, fk_tensor weight,
                             int n, int in_features, int out_features);

/* ---- tensor plumbing (src/ops/tensor_ops.c, cl/tensor_ops.cl) ---------- */

/* out = a + b (residual). Backward: da += dout, db += dout (fk_add_backward
 * does one of them; call it for each input). */
fk_status fk_add_forward(fk_runtime *rt, fk_tensor out, fk_tensor a, fk_tensor b, size_t count);
fk_status fk_add_backward(fk_runtime *rt, fk_tensor dx, fk_tensor dout, size_t count);
/* out = relu(a + b) in one pass (a ReLU fused into the add, src/graph/graph.c);
 * backward: with g = dout gated by out > 0 as fk_relu_backward leaves it in
 * a zeroed buffer, da += g and db += g (either may be NULL), element for
 * element what fk_relu_backward then fk_add_backward for each input give. */
fk_status fk_add_relu_forward(fk_runtime *rt, fk_tensor out, fk_tensor a, fk_tensor b, size_t count);
fk_status fk_add_relu_backward(fk_runtime *rt, const fk_tensor *da, const fk_tensor *db, fk_tensor dout,
                               fk_tensor out, size_t count);
/* Concatenate along channels: a (N, Ca, HW), b (N, Cb, HW) -> out (N, Ca+Cb, HW). */
fk_status fk_concat_forward(fk_runtime *rt, fk_tensor out, fk_tensor a, fk_tensor b, int n, int ca,
                            int cb, int hw);
fk_status fk_concat_backward(fk_runtime *rt, const fk_tensor *da, const fk_tensor *db, fk_tensor dout,
                             int n, int ca, int cb, int hw);
/* Split channels: in (N, Ca+Cb, HW) -> a (N, Ca, HW), b (N, Cb, HW). */
fk_status fk_split_forward(fk_runtime *rt, fk_tensor a, fk_tensor b, fk_tensor in, int n, int ca, int cb,
                           int hw);
fk_status fk_split_backward(fk_runtime *rt, fk_tensor din, const fk_tensor *da, const fk_tensor *db, int n,
                            int ca, int cb, int hw);
/* Channel shuffle as ShuffleNet: view (N, g, C/g, HW), transpose to (N, C/g, g, HW). */
fk_status fk_shuffle_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, int n, int c, int groups, int hw);
fk_status fk_shuffle_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, int n, int c, int groups, int hw);

/* ---- metrics (src/ops/metrics.c, cl/metrics.cl) ----------------------- */

/* Adds the top-1 and top-5 hits of logits (N, C) against labels (int32, from
 * labels_off) into acc[acc_off] and acc[acc_off + 1] (floats). A row holding
 * NaN or Inf never counts as a hit. */
fk_status fk_topk_hits(fk_runtime *rt, cl_mem acc, size_t acc_off, fk_tensor logits,
                       cl_mem labels, size_t labels_off, int n, int c);
/* Adds the number of rows of logits (N, C) holding a NaN or an Inf into
 * acc[acc_off]: non-zero means the evaluation is not to be trusted. */
fk_status fk_nonfinite_rows(fk_runtime *rt, cl_mem acc, size_t acc_off, fk_tensor logits,
                            int n, int c);

#endif
