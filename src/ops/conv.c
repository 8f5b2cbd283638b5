/* conv2d forward and backward (PyTorch's F.conv2d with square kernel,
 * stride and padding; any groups; optional bias). Kernels: cl/conv.cl.
 *
 * groups == 1: im2col over the whole batch into `work` as
 * col (N, C_in*KH*KW, HO*WO), then per-sample GEMMs:
 *   forward   out_n (C_out, P) = W (C_out, CKK) * col_n (CKK, P), + bias;
 *   dW        dW += sum over n of dout_n * col_n^T;
 *   dX        col_n = W^T * dout_n (overwrites col), then
 *             din += col2im(col);
 *   dbias     per-channel sums of dout.
 * CPU devices: im2col / col2im with one work-item per (sample, channel,
 * row), plain copy / add loops (per-element index arithmetic made them
 * most of the conv time on PoCL); GPUs: one work-item per element.
 * GEMMs: on CPU devices the register-tiled kernels gemm_nn16 (forward, dX)
 * and gemm_nt16 (dW: one launch for the whole batch, dot products along P,
 * no partial buffers) of cl/conv_gemm.cl; elsewhere CLBlast strided-batched
 * GEMMs (dW: per chunk of samples into work after col, then a reduction).
 * Per-sample col layout: leading dimension P for every GEMM.
 * 1x1 stride-1 unpadded conv uses the input itself as col (no im2col; its
 * data gradient is din_n += W^T * dout_n, batched with beta 1).
 * groups > 1 (grouped, depthwise): direct kernels, no work space. */
#include "figkd/ops.h"
#include "ops/conv_ig.h"

#include <limits.h>

fk_status fk_conv_dims_init(fk_conv_dims *d, int n, int c_in, int h, int w, int c_out, int k,
                            int stride, int pad, int groups, bool bias)
{
    if (n <= 0 || c_in <= 0 || h <= 0 || w <= 0 || c_out <= 0 || k <= 0 || stride <= 0 || pad < 0 ||
        groups <= 0)
        return fk_error(FK_ERR_ARG,
                        "conv2d: sizes must be positive (n=%d c_in=%d h=%d w=%d c_out=%d k=%d "
                        "stride=%d groups=%d) and pad >= 0 (pad=%d)",
                        n, c_in, h, w, c_out, k, stride, groups, pad);
    if (c_in % groups || c_out % groups)
        return fk_error(FK_ERR_ARG, "conv2d: c_in=%d and c_out=%d must both be divisible by groups=%d",
                        c_in, c_out, groups);
    if (h + 2 * pad < k || w + 2 * pad < k)
        return fk_error(FK_ERR_ARG, "conv2d: kernel %d larger than the padded input %dx%d (pad %d)", k,
                        h + 2 * pad, w + 2 * pad, pad);
    d->n = n, d->c_in = c_in, d->h = h, d->w = w;
    d->c_out = c_out, d->kh = k, d->kw = k;
    d->stride = stride, d->pad = pad, d->groups = groups;
    d->h_out = (h + 2 * pad - k) / stride + 1;
    d->w_out = (w + 2 * pad - k) / stride + 1;
    d->bias = bias;
    return FK_OK;
}

static bool is_pointwise(const fk_conv_dims *d)
{
    return d->groups == 1 && d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

static size_t col_elems(const fk_conv_dims *d)
{
    return (size_t)d->c_in * d->kh * d->kw * d->n * d->h_out * d->w_out;
}

/* samples per batched weight-gradient GEMM: the parts (chunk, C_out, CKK)
 * take at most as much work space as col, and at least one sample */
static size_t dw_chunk(const fk_conv_dims *d)
{
    size_t part = (size_t)d->c_out * d->c_in * d->kh * d->kw;
    size_t chunk = col_elems(d) / part;
    return chunk < 1 ? 1 : chunk > (size_t)d->n ? (size_t)d->n : chunk;
}

static size_t batch_work(const fk_conv_dims *d);

size_t fk_conv_work(const fk_conv_dims *d)
{
    if (d->groups != 1)
        return 0;
    size_t col = is_pointwise(d) ? 0 : col_elems(d);
    size_t sample = col + dw_chunk(d) * d->c_out * d->c_in * d->kh * d->kw;
    /* the path is chosen per device at run time: room for either */
    return sample > batch_work(d) ? sample : batch_work(d);
}

/* a kernel of cl/conv.cl built for this layer's shape */
static fk_status conv_kernel(fk_runtime *rt, const fk_conv_dims *d, fk_kernel_id id, cl_kernel *k)
{
    int defs[] = {d->kh, d->kw, d->stride, d->pad, d->c_in / d->groups, d->c_out / d->groups, d->bias ? 1 : 0};
    return fk_kernel_defs(rt, id, defs, k);
}

/* the size arguments of the im2col / col2im kernels */
#define IMAGE_SIZES(d) FK_A((d)->n), FK_A((d)->c_in), FK_A((d)->h), FK_A((d)->w), FK_A((d)->h_out), FK_A((d)->w_out)
/* the size arguments of the direct (grouped) kernels */
#define DIRECT_SIZES(d) FK_A((d)->n), FK_A((d)->h), FK_A((d)->w), FK_A((d)->c_out), FK_A((d)->h_out), FK_A((d)->w_out)

/* CPU devices: im2col and col2im one work-item per (sample, channel, row);
 * elsewhere (and with FIGKD_CONV_GEMM=clblast) one per element. */
static bool use_own_gemm(const fk_runtime *rt);

static fk_status im2col(fk_runtime *rt, fk_tensor col, fk_tensor in, const fk_conv_dims *d)
{
    const bool rows = use_own_gemm(rt);
    cl_kernel k;
    FK_TRY(conv_kernel(rt, d, rows ? FK_K_IM2COL : FK_K_IM2COL_PX, &k));
    size_t global[2] = {fk_round_up((size_t)d->n * d->h_out * d->w_out, 64),
                        (size_t)d->c_in * d->kh * d->kw};
    if (rows)
        global[0] = fk_round_up((size_t)d->n * d->c_in * d->h_out, 64);
    FK_RUN(rt, k, rows ? 1 : 2, global, NULL, FK_T(col), FK_T(in), IMAGE_SIZES(d));
    return FK_OK;
}

static fk_status col2im_add(fk_runtime *rt, fk_tensor din, fk_tensor col, const fk_conv_dims *d)
{
    const bool rows = use_own_gemm(rt);
    cl_kernel k;
    FK_TRY(conv_kernel(rt, d, rows ? FK_K_COL2IM_ADD : FK_K_COL2IM_ADD_PX, &k));
    FK_RUN_1D(rt, k, (size_t)d->n * d->c_in * d->h * (rows ? 1 : (size_t)d->w), FK_T(din), FK_T(col),
              IMAGE_SIZES(d));
    return FK_OK;
}

/* kernels (dst, dst_off, src, src_off, n, c, p) with count work-items */
static fk_status run_ncp(fk_runtime *rt, fk_kernel_id id, fk_tensor dst, fk_tensor src, int n, int c, int p,
                         size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, id, &k));
    FK_RUN_1D(rt, k, count, FK_T(dst), FK_T(src), FK_A(n), FK_A(c), FK_A(p));
    return FK_OK;
}

static fk_tensor offset_tensor(fk_tensor t, size_t extra)
{
    t.off += extra;
    return t;
}

/* Samples per launch for a kernel whose work-item loops over per_sample
 * iterations for each sample (bias_grad, direct_backward_weight): at most
 * LOOP_BUDGET in all, at least one sample. Mesa's llvmpipe leaves a
 * kernel after 65535 loop iterations, counted over all of its loops
 * together (src/runtime/probe.c), so a loop cut into pieces inside the
 * kernel does not avoid it: the host launches slices, each adding its
 * samples' part. */
#define LOOP_BUDGET 16384u

static size_t samples_per_launch(size_t per_sample, size_t n)
{
    size_t per = LOOP_BUDGET / (per_sample ? per_sample : 1);
    return per < 1 ? 1 : per > n ? n : per;
}

/* GEMM back end. CPU devices (PoCL): gemm_nn16 / gemm_nt16 of
 * cl/conv_gemm.cl, register tiles in float16 vectors, with the row-wise
 * im2col / col2im. GPUs: CLBlast with the per-element im2col / col2im.
 * FIGKD_CONV_GEMM=own or =clblast forces one of the two on any device
 * (tests run both). */
static bool use_own_gemm(const fk_runtime *rt)
{
    if (rt->opts.conv_gemm != FK_CONV_GEMM_DEFAULT)
        return rt->opts.conv_gemm != FK_CONV_GEMM_CLBLAST;
    return rt->dev.is_cpu;
}

/* The own GEMMs' per-work-item variant (gemm_nn_wi, gemm_nt_wi of
 * cl/conv_gemm.cl) on devices that leave long loops early (Mesa's
 * llvmpipe; see src/runtime/probe.c): gemm_nn16 loops over all of K with
 * 16 rows inside and would be cut short. FIGKD_CONV_GEMM=wi (or =ig)
 * forces it. */
#define WI_TM 8          /* rows per work-item (WI_TM of cl/conv_gemm.cl) */
#define WI_TN 8          /* columns per work-item (WI_TN) */
#define WI_COLS 32       /* work-items along the columns rounded up to this */
#define WI_K_SLICE 2048u /* longest loop of a work-item */

static fk_status use_wi_gemm(fk_runtime *rt, bool *wi)
{
    long limit;
    FK_TRY(fk_device_loop_limit(rt, &limit));
    *wi = limit != 0 || rt->opts.conv_gemm == FK_CONV_GEMM_WI || rt->opts.conv_gemm == FK_CONV_GEMM_IG;
    return FK_OK;
}

/* The per-work-item devices' forward (or data gradient) of a groups == 1
 * conv that is not pointwise: the implicit GEMMs of src/ops/conv_ig.c (no
 * im2col / col2im) where they measured faster on llvmpipe, stride 1 and an
 * output (or input) plane of at least IG_MIN_PLANE pixels (resnet8 at
 * batch 64, 28x28 maps: forward 1.6x, data gradient 2.5x; 14x14 1.2x and
 * 1.3x; slower on 7x7 maps and at stride 2, whose taps mostly miss);
 * plane 0: the weight gradient, implicit on every such conv (1.8x over
 * resnet8's convs). With FIGKD_CONV_GEMM=ig on every such conv. */
#define IG_MIN_PLANE 128

static fk_status use_implicit(fk_runtime *rt, const fk_conv_dims *d, size_t plane, bool *ig)
{
    *ig = false;
    if (!use_own_gemm(rt) || is_pointwise(d))
        return FK_OK;
    FK_TRY(use_wi_gemm(rt, ig));
    if (rt->opts.conv_gemm != FK_CONV_GEMM_IG && plane)
        *ig = *ig && d->stride == 1 && plane >= IG_MIN_PLANE;
    return FK_OK;
}

/* size of a buffer in floats (the own GEMMs read whole vectors up to it) */
static fk_status buffer_floats(cl_mem m, cl_ulong *len)
{
    size_t bytes = 0;
    FK_CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    *len = bytes / sizeof(float);
    return FK_OK;
}

/* C_b (m, n) = op(W) (m, k) * B_b (k, n) (+ C_b when accumulate),
 * batched; trans_w: A = W^T with W stored (k, m), else A = W stored (m, k). */
static fk_status weight_gemm(fk_runtime *rt, bool trans_w, size_t m, size_t n, size_t k, fk_tensor w,
                             cl_mem b, size_t b_off, size_t ldb, size_t b_stride, bool accumulate,
                             cl_mem c, size_t c_off, size_t ldc, size_t c_stride, size_t batch)
{
    if (!use_own_gemm(rt))
        return fk_gemm_strided_batched(rt, trans_w, false, m, n, k, 1.0f, w.buf, w.off, trans_w ? m : k, 0,
                                       b, b_off, ldb, b_stride, accumulate ? 1.0f : 0.0f, c, c_off, ldc,
                                       c_stride, batch);
    bool wi;
    FK_TRY(use_wi_gemm(rt, &wi));
    cl_kernel kn;
    FK_TRY(fk_kernel(rt, wi ? FK_K_GEMM_NN_WI : FK_K_GEMM_NN16, &kn));
    cl_ulong b_len;
    FK_TRY(buffer_floats(b, &b_len));
    const int lda_r = trans_w ? 1 : (int)k, lda_c = trans_w ? (int)m : 1;
    if (wi) {
        /* K in slices of at most WI_K_SLICE, added into C after the first */
        size_t global[3] = {fk_round_up((n + WI_TN - 1) / WI_TN, WI_COLS), (m + WI_TM - 1) / WI_TM, batch};
        for (size_t k0 = 0; k0 < k; k0 += WI_K_SLICE) {
            int kc = (int)(k - k0 < WI_K_SLICE ? k - k0 : WI_K_SLICE);
            FK_RUN(rt, kn, 3, global, NULL, FK_A(c), FK_A(c_off), FK_A(w.buf), FK_A(w.off + k0 * (size_t)lda_c),
                   FK_A(b), FK_A(b_off + k0 * ldb), FK_A((int)m), FK_A((int)n), FK_A(kc), FK_A(lda_r), FK_A(lda_c),
                   FK_A((int)ldb), FK_A(b_stride), FK_A((int)ldc), FK_A(c_stride), FK_A(accumulate || k0 > 0 ? 1 : 0),
                   FK_A(b_len));
        }
        return FK_OK;
    }
    /* 16 columns x NN_TM = 16 rows per work-item */
    size_t global[3] = {(n + 15) / 16, (m + 15) / 16, batch}, local[3] = {1, 1, 1};
    FK_RUN(rt, kn, 3, global, local, FK_A(c), FK_A(c_off), FK_T(w), FK_A(b), FK_A(b_off), FK_A((int)m),
           FK_A((int)n), FK_A((int)k), FK_A(lda_r), FK_A(lda_c), FK_A((int)ldb),
           FK_A(b_stride), FK_A((int)ldc), FK_A(c_stride), FK_A(accumulate ? 1 : 0), FK_A(b_len));
    return FK_OK;
}

/* dW (m, n) += sum over the batch of A_b (m, k) * B_b (n, k)^T, row-major
 * with leading dimension k (dout_n and col_n) */
static fk_status weight_grad_gemm(fk_runtime *rt, size_t m, size_t n, size_t k, cl_mem a, size_t a_off,
                                  size_t a_stride, cl_mem b, size_t b_off, size_t b_stride, fk_tensor dw,
                                  size_t batch)
{
    bool wi;
    FK_TRY(use_wi_gemm(rt, &wi));
    cl_kernel kn;
    FK_TRY(fk_kernel(rt, wi ? FK_K_GEMM_NT_WI : FK_K_GEMM_NT16, &kn));
    cl_ulong a_len, b_len;
    FK_TRY(buffer_floats(a, &a_len));
    FK_TRY(buffer_floats(b, &b_len));
    if (wi) {
        /* at most WI_K_SLICE products per work-item and launch: slices of
         * the samples, and of K when one sample's K is longer */
        size_t global[2] = {fk_round_up((n + WI_TN - 1) / WI_TN, WI_COLS), (m + WI_TM - 1) / WI_TM};
        size_t kslice = k < WI_K_SLICE ? k : WI_K_SLICE, per = WI_K_SLICE / kslice;
        for (size_t s0 = 0; s0 < batch; s0 += per)
            for (size_t k0 = 0; k0 < k; k0 += kslice) {
                int sb = (int)(batch - s0 < per ? batch - s0 : per);
                int kc = (int)(k - k0 < kslice ? k - k0 : kslice);
                FK_RUN(rt, kn, 2, global, NULL, FK_T(dw), FK_A(a), FK_A(a_off + s0 * a_stride + k0), FK_A(b),
                       FK_A(b_off + s0 * b_stride + k0), FK_A((int)m), FK_A((int)n), FK_A(kc), FK_A((int)k),
                       FK_A(a_stride), FK_A((int)k), FK_A(b_stride), FK_A((int)n), FK_A(sb), FK_A(1), FK_A(a_len),
                       FK_A(b_len));
            }
        return FK_OK;
    }
    /* NT_TM x NT_TN = 4 x 4 outputs per work-item */
    size_t global[2] = {(n + 3) / 4, (m + 3) / 4}, local[2] = {1, 1};
    FK_RUN(rt, kn, 2, global, local, FK_T(dw), FK_A(a), FK_A(a_off), FK_A(b), FK_A(b_off), FK_A((int)m),
           FK_A((int)n), FK_A((int)k), FK_A((int)k), FK_A(a_stride), FK_A((int)k), FK_A(b_stride), FK_A((int)n),
           FK_A((int)batch), FK_A(1), FK_A(a_len), FK_A(b_len));
    return FK_OK;
}

/* ---- whole-batch path (GPUs), kernels: cl/conv_batch.cl -----------------
 * The batch is folded into the GEMM columns (NP = N*HO*WO), so each GEMM is
 * one large product instead of N small ones:
 *   forward   col (CKK, NP) = im2col(in); y (C_out, NP) = W * col;
 *             out (N, C_out, HO, WO) = y laid out per sample, + bias;
 *   backward  dy (C_out, NP) = dout with its channel axis first;
 *             dbias += row sums of dy; dW += dy * col^T (one GEMM, K = NP);
 *             col = W^T * dy, din += col2im(col).
 * Work space: col (CKK * NP) then y or dy (C_out * NP). 1x1 convs take the
 * same route (their im2col is the layout change of the input).
 * FIGKD_CONV_PATH=batch or =sample picks a path on any device; by default
 * GPUs (every non-CPU device) take this one. */
static size_t batch_work(const fk_conv_dims *d)
{
    size_t np = (size_t)d->n * d->h_out * d->w_out;
    return ((size_t)d->c_in * d->kh * d->kw + d->c_out) * np;
}

/* Default on GPUs: the batch path forward (H100: resnet32x4 forward at
 * batch 64 11.5 ms against 13.1 per sample) and the sample path backward
 * (5.5 ms against 19.7: the batch path's weight-gradient GEMM, K = N*P,
 * is slow in CLBlast). The sample backward makes its own columns, so the
 * two mix. FIGKD_CONV_PATH=batch|sample forces one path for both, =mixed
 * this GPU default on any device. */
static fk_status use_batch_path(const fk_runtime *rt, const fk_conv_dims *d, bool backward, bool *batch)
{
    const fk_conv_path path = rt->opts.conv_path;
    *batch = false;
    if (d->groups != 1)
        return FK_OK;
    if (path == FK_CONV_PATH_BATCH || path == FK_CONV_PATH_SAMPLE)
        *batch = path == FK_CONV_PATH_BATCH;
    else
        *batch = (!rt->dev.is_cpu || path == FK_CONV_PATH_MIXED) && !backward;
    /* its kernels index in int */
    if (batch_work(d) >= INT_MAX || (size_t)d->n * d->c_in * d->h * d->w >= INT_MAX)
        *batch = false;
    return FK_OK;
}

/* im2col_batch (col <- in) or col2im_batch_add (din += col) */
static fk_status batch_col(fk_runtime *rt, const fk_conv_dims *d, fk_kernel_id id, fk_tensor dst,
                           fk_tensor src, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel_defs(rt, id, (int[]){d->kh, d->kw, d->stride, d->pad}, &k));
    FK_RUN_1D(rt, k, count, FK_T(dst), FK_T(src), IMAGE_SIZES(d));
    return FK_OK;
}

static fk_status batch_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                               const fk_tensor *bias, fk_tensor work, const fk_conv_dims *d)
{
    const size_t p = (size_t)d->h_out * d->w_out, np = d->n * p;
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    fk_tensor col = work, y = offset_tensor(work, ckk * np);
    FK_TRY(batch_col(rt, d, FK_K_IM2COL_BATCH, col, in, d->c_in * np));
    FK_TRY(fk_gemm(rt, false, false, d->c_out, np, ckk, 1.0f, weight.buf, weight.off, ckk, col.buf, col.off,
                   np, 0.0f, y.buf, y.off, np));
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_CM_TO_NCHW_BIAS, &k));
    fk_tensor b = bias ? *bias : weight; /* unused without bias */
    FK_RUN_1D(rt, k, d->c_out * np, FK_T(out), FK_T(y), FK_A(d->n), FK_A(d->c_out), FK_A((int)p), FK_T(b),
              FK_A(bias ? 1 : 0));
    return FK_OK;
}

static fk_status batch_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dweight,
                                const fk_tensor *dbias, fk_tensor dout, fk_tensor in, fk_tensor weight,
                                fk_tensor work, const fk_conv_dims *d)
{
    if (dbias && !d->bias)
        return fk_error(FK_ERR_ARG, "conv2d backward: dbias given for a conv without bias");
    if (!din && !dweight && !dbias)
        return FK_OK;
    const size_t p = (size_t)d->h_out * d->w_out, np = d->n * p;
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    fk_tensor col = work, dy = offset_tensor(work, ckk * np);
    FK_TRY(run_ncp(rt, FK_K_NCHW_TO_CM, dy, dout, d->n, d->c_out, (int)p, d->c_out * np));
    if (dbias) {
        cl_kernel k;
        FK_TRY(fk_kernel(rt, FK_K_ROW_SUM_ADD, &k));
        size_t global = (size_t)d->c_out * 64, local = 64;
        FK_RUN(rt, k, 1, &global, &local, FK_T(*dbias), FK_T(dy), FK_A(d->c_out), FK_A((int)np));
    }
    if (dweight) {
        FK_TRY(batch_col(rt, d, FK_K_IM2COL_BATCH, col, in, d->c_in * np));
        FK_TRY(fk_gemm(rt, false, true, d->c_out, ckk, np, 1.0f, dy.buf, dy.off, np, col.buf, col.off, np,
                       1.0f, dweight->buf, dweight->off, ckk));
    }
    if (din) {
        FK_TRY(fk_gemm(rt, true, false, ckk, np, d->c_out, 1.0f, weight.buf, weight.off, ckk, dy.buf, dy.off,
                       np, 0.0f, col.buf, col.off, np));
        FK_TRY(batch_col(rt, d, FK_K_COL2IM_BATCH_ADD, *din, col, (size_t)d->n * d->c_in * d->h * d->w));
    }
    return FK_OK;
}

fk_status fk_conv_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                          const fk_tensor *bias, fk_tensor work, const fk_conv_dims *d)
{
    if (d->bias != (bias != NULL))
        return fk_error(FK_ERR_ARG, "conv2d forward: dims say bias=%d but bias tensor %s", d->bias,
                        bias ? "given" : "missing");
    bool batch;
    FK_TRY(use_batch_path(rt, d, false, &batch));
    if (batch)
        return batch_forward(rt, out, in, weight, bias, work, d);
    const size_t p = (size_t)d->h_out * d->w_out;
    if (d->groups != 1) {
        cl_kernel k;
        FK_TRY(conv_kernel(rt, d, FK_K_DIRECT_FORWARD, &k));
        fk_tensor b = bias ? *bias : weight; /* unused without bias */
        FK_RUN_1D(rt, k, (size_t)d->n * d->c_out * p, FK_T(out), FK_T(in), FK_T(weight), FK_T(b),
                  DIRECT_SIZES(d));
        return FK_OK;
    }
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    bool ig;
    FK_TRY(use_implicit(rt, d, p, &ig));
    if (is_pointwise(d)) {
        FK_TRY(weight_gemm(rt, false, d->c_out, p, d->c_in, weight, in.buf, in.off, p, d->c_in * p, false,
                           out.buf, out.off, p, d->c_out * p, d->n));
    } else if (ig) {
        FK_TRY(fk_conv_ig_forward(rt, out, in, weight, d));
    } else {
        FK_TRY(im2col(rt, work, in, d));
        FK_TRY(weight_gemm(rt, false, d->c_out, p, ckk, weight, work.buf, work.off, p, ckk * p, false,
                           out.buf, out.off, p, d->c_out * p, d->n));
    }
    if (bias)
        FK_TRY(run_ncp(rt, FK_K_CONV_BIAS_ADD, out, *bias, d->n, d->c_out, (int)p, d->n * d->c_out * p));
    return FK_OK;
}

fk_status fk_conv_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dweight,
                           const fk_tensor *dbias, fk_tensor dout, fk_tensor in, fk_tensor weight,
                           fk_tensor work, const fk_conv_dims *d)
{
    bool batch;
    FK_TRY(use_batch_path(rt, d, true, &batch));
    if (batch)
        return batch_backward(rt, din, dweight, dbias, dout, in, weight, work, d);
    const size_t p = (size_t)d->h_out * d->w_out;
    if (dbias) {
        if (!d->bias)
            return fk_error(FK_ERR_ARG, "conv2d backward: dbias given for a conv without bias");
        const size_t per = samples_per_launch(p + 1, (size_t)d->n);
        for (size_t s0 = 0; s0 < (size_t)d->n; s0 += per)
            FK_TRY(run_ncp(rt, FK_K_CONV_BIAS_GRAD, *dbias, offset_tensor(dout, s0 * d->c_out * p),
                           (int)((size_t)d->n - s0 < per ? (size_t)d->n - s0 : per), d->c_out, (int)p, d->c_out));
    }
    if (d->groups != 1) {
        cl_kernel k;
        if (dweight) {
            FK_TRY(conv_kernel(rt, d, FK_K_DIRECT_BACKWARD_WEIGHT, &k));
            const size_t per = samples_per_launch((size_t)d->h_out * (d->w_out + 1) + 1, (size_t)d->n);
            for (size_t s0 = 0; s0 < (size_t)d->n; s0 += per) {
                fk_conv_dims part = *d;
                part.n = (int)((size_t)d->n - s0 < per ? (size_t)d->n - s0 : per);
                FK_RUN_1D(rt, k, (size_t)d->c_out * (d->c_in / d->groups) * d->kh * d->kw, FK_T(*dweight),
                          FK_T(offset_tensor(dout, s0 * d->c_out * p)),
                          FK_T(offset_tensor(in, s0 * d->c_in * d->h * d->w)), DIRECT_SIZES(&part));
            }
        }
        if (din) {
            FK_TRY(conv_kernel(rt, d, FK_K_DIRECT_BACKWARD_DATA, &k));
            FK_RUN_1D(rt, k, (size_t)d->n * d->c_in * d->h * d->w, FK_T(*din), FK_T(dout), FK_T(weight),
                      DIRECT_SIZES(d));
        }
        return FK_OK;
    }
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    const bool pw = is_pointwise(d);
    /* col and its per-sample stride and leading dimension */
    fk_tensor col = pw ? in : work;
    const size_t col_stride = ckk * p, col_ld = p;
    bool ig_dw;
    FK_TRY(use_implicit(rt, d, 0, &ig_dw));
    if (dweight && ig_dw) {
        FK_TRY(fk_conv_ig_backward_weight(rt, *dweight, dout, in, d));
    } else if (dweight) {
        if (!pw)
            FK_TRY(im2col(rt, col, in, d));
        if (use_own_gemm(rt))
            FK_TRY(weight_grad_gemm(rt, d->c_out, ckk, p, dout.buf, dout.off, d->c_out * p, col.buf,
                                    col.off, col_stride, *dweight, d->n));
        fk_tensor part = offset_tensor(work, pw ? 0 : col_elems(d));
        const size_t chunk = dw_chunk(d), len = (size_t)d->c_out * ckk;
        for (size_t s0 = 0; s0 < (size_t)d->n && !use_own_gemm(rt); s0 += chunk) {
            size_t b = (size_t)d->n - s0 < chunk ? (size_t)d->n - s0 : chunk;
            FK_TRY(fk_gemm_strided_batched(rt, false, true, d->c_out, ckk, p, 1.0f, dout.buf,
                                           dout.off + s0 * d->c_out * p, p, d->c_out * p, col.buf,
                                           col.off + s0 * col_stride, col_ld, col_stride, 0.0f,
                                           part.buf, part.off, ckk, len, b));
            cl_kernel k;
            FK_TRY(fk_kernel(rt, FK_K_SUM_BATCHES_ADD, &k));
            FK_RUN_1D(rt, k, len, FK_T(*dweight), FK_T(part), FK_A((int)b), FK_A((int)len));
        }
    }
    bool ig;
    FK_TRY(use_implicit(rt, d, (size_t)d->h * d->w, &ig));
    if (din) {
        if (pw) {
            FK_TRY(weight_gemm(rt, true, d->c_in, p, d->c_out, weight, dout.buf, dout.off, p, d->c_out * p,
                               true, din->buf, din->off, p, d->c_in * p, d->n));
        } else if (ig) {
            FK_TRY(fk_conv_ig_backward_data(rt, *din, dout, weight, d));
        } else {
            FK_TRY(weight_gemm(rt, true, ckk, p, d->c_out, weight, dout.buf, dout.off, p, d->c_out * p,
                               false, col.buf, col.off, p, ckk * p, d->n));
            FK_TRY(col2im_add(rt, *din, col, d));
        }
    }
    return FK_OK;
}
