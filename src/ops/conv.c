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

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    const char *e = getenv("FIGKD_CONV_PATH");
    if (e && !strcmp(e, "sample"))
        return sample;
    return sample > batch_work(d) ? sample : batch_work(d);
}

static fk_status conv_kernel(fk_runtime *rt, const fk_conv_dims *d, const char *name, cl_kernel *k)
{
    char opts[160];
    snprintf(opts, sizeof opts, "-DKH=%d -DKW=%d -DSTRIDE=%d -DPAD=%d -DCIPG=%d -DCOPG=%d -DHAS_BIAS=%d",
             d->kh, d->kw, d->stride, d->pad, d->c_in / d->groups, d->c_out / d->groups, d->bias ? 1 : 0);
    return fk_kernel_get(rt, "conv", opts, name, k);
}

/* Launch a kernel with the usual argument list
 * (dst, dst_off, src, src_off, then ints). */
static fk_status launch_1d(fk_runtime *rt, cl_kernel k, size_t count)
{
    size_t global = fk_round_up(count, 64);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}

static fk_status set_dst_src(cl_kernel k, fk_tensor dst, fk_tensor src)
{
    cl_ulong doff = dst.off, soff = src.off;
    FK_ARG(k, 0, dst.buf);
    FK_ARG(k, 1, doff);
    FK_ARG(k, 2, src.buf);
    FK_ARG(k, 3, soff);
    return FK_OK;
}

static fk_status set_ints(cl_kernel k, cl_uint first, const int *v, int count)
{
    for (int i = 0; i < count; i++)
        FK_CL_CHECK(clSetKernelArg(k, first + (cl_uint)i, sizeof(int), &v[i]));
    return FK_OK;
}

/* CPU devices: im2col and col2im one work-item per (sample, channel, row);
 * elsewhere (and with FIGKD_CONV_GEMM=clblast) one per element. */
static bool use_own_gemm(const fk_runtime *rt);

static fk_status im2col(fk_runtime *rt, fk_tensor col, fk_tensor in, const fk_conv_dims *d)
{
    const bool rows = use_own_gemm(rt);
    cl_kernel k;
    FK_TRY(conv_kernel(rt, d, rows ? "im2col" : "im2col_px", &k));
    FK_TRY(set_dst_src(k, col, in));
    int v[6] = {d->n, d->c_in, d->h, d->w, d->h_out, d->w_out};
    FK_TRY(set_ints(k, 4, v, 6));
    if (rows)
        return launch_1d(rt, k, (size_t)d->n * d->c_in * d->h_out);
    size_t global[2] = {fk_round_up((size_t)d->n * d->h_out * d->w_out, 64),
                        (size_t)d->c_in * d->kh * d->kw};
    FK_LAUNCH(rt, k, 2, global, NULL);
    return FK_OK;
}

static fk_status col2im_add(fk_runtime *rt, fk_tensor din, fk_tensor col, const fk_conv_dims *d)
{
    const bool rows = use_own_gemm(rt);
    cl_kernel k;
    FK_TRY(conv_kernel(rt, d, rows ? "col2im_add" : "col2im_add_px", &k));
    FK_TRY(set_dst_src(k, din, col));
    int v[6] = {d->n, d->c_in, d->h, d->w, d->h_out, d->w_out};
    FK_TRY(set_ints(k, 4, v, 6));
    return launch_1d(rt, k, (size_t)d->n * d->c_in * d->h * (rows ? 1 : (size_t)d->w));
}

/* generic kernels of cl/conv.cl: (dst, dst_off, src, src_off, a, b, p) */
static fk_status generic3(fk_runtime *rt, const char *name, fk_tensor dst, fk_tensor src, int a, int b,
                          int p, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "conv", "", name, &k));
    FK_TRY(set_dst_src(k, dst, src));
    int v[3] = {a, b, p};
    FK_TRY(set_ints(k, 4, v, 3));
    return launch_1d(rt, k, count);
}

static fk_tensor offset_tensor(fk_tensor t, size_t extra)
{
    t.off += extra;
    return t;
}

/* GEMM back end. CPU devices (PoCL): gemm_nn16 / gemm_nt16 of
 * cl/conv_gemm.cl, register tiles in float16 vectors, with the row-wise
 * im2col / col2im. GPUs: CLBlast with the per-element im2col / col2im.
 * FIGKD_CONV_GEMM=own or =clblast forces one of the two on any device
 * (tests run both). */
static bool use_own_gemm(const fk_runtime *rt)
{
    const char *e = getenv("FIGKD_CONV_GEMM");
    if (e && (!strcmp(e, "own") || !strcmp(e, "wi")))
        return true;
    if (e && !strcmp(e, "clblast"))
        return false;
    return rt->dev.is_cpu;
}

/* The own GEMMs' per-work-item variant (gemm_nn_wi, gemm_nt_wi of
 * cl/conv_gemm.cl) on devices that leave long loops early (Mesa's
 * llvmpipe; see src/runtime/probe.c): gemm_nn16 loops over all of K with
 * 16 rows inside and would be cut short. FIGKD_CONV_GEMM=wi forces it. */
#define WI_TM 8          /* rows per work-item (WI_TM of cl/conv_gemm.cl) */
#define WI_TN 8          /* columns per work-item (WI_TN) */
#define WI_COLS 32       /* work-items along the columns rounded up to this */
#define WI_K_SLICE 2048u /* longest loop of a work-item */
static fk_status use_wi_gemm(fk_runtime *rt, bool *wi)
{
    const char *e = getenv("FIGKD_CONV_GEMM");
    long limit;
    FK_TRY(fk_device_loop_limit(rt, &limit));
    *wi = limit != 0 || (e && !strcmp(e, "wi"));
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
    FK_TRY(fk_kernel_get(rt, "conv_gemm", "", wi ? "gemm_nn_wi" : "gemm_nn16", &kn));
    cl_ulong c_o = c_off, a_o = w.off, b_o = b_off, bs = b_stride, cs = c_stride, b_len;
    FK_TRY(buffer_floats(b, &b_len));
    int v[8] = {(int)m, (int)n, (int)k, trans_w ? 1 : (int)k, trans_w ? (int)m : 1, (int)ldb, (int)ldc,
                accumulate ? 1 : 0};
    FK_ARG(kn, 0, c);
    FK_ARG(kn, 1, c_o);
    FK_ARG(kn, 2, w.buf);
    FK_ARG(kn, 3, a_o);
    FK_ARG(kn, 4, b);
    FK_ARG(kn, 5, b_o);
    FK_TRY(set_ints(kn, 6, v, 6));
    FK_ARG(kn, 12, bs);
    FK_ARG(kn, 13, v[6]);
    FK_ARG(kn, 14, cs);
    FK_ARG(kn, 15, v[7]);
    FK_ARG(kn, 16, b_len);
    if (wi) {
        /* K in slices of at most WI_K_SLICE, added into C after the first */
        size_t global[3] = {fk_round_up((n + WI_TN - 1) / WI_TN, WI_COLS), (m + WI_TM - 1) / WI_TM, batch};
        for (size_t k0 = 0; k0 < k; k0 += WI_K_SLICE) {
            int kc = (int)(k - k0 < WI_K_SLICE ? k - k0 : WI_K_SLICE);
            cl_ulong a_k = w.off + k0 * (size_t)v[4], b_k = b_off + k0 * ldb;
            int acc = accumulate || k0 > 0;
            FK_ARG(kn, 3, a_k);
            FK_ARG(kn, 5, b_k);
            FK_ARG(kn, 8, kc);
            FK_ARG(kn, 15, acc);
            FK_LAUNCH(rt, kn, 3, global, NULL);
        }
        return FK_OK;
    }
    /* 16 columns x NN_TM = 16 rows per work-item */
    size_t global[3] = {(n + 15) / 16, (m + 15) / 16, batch}, local[3] = {1, 1, 1};
    FK_LAUNCH(rt, kn, 3, global, local);
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
    FK_TRY(fk_kernel_get(rt, "conv_gemm", "", wi ? "gemm_nt_wi" : "gemm_nt16", &kn));
    cl_ulong c_o = dw.off, a_o = a_off, b_o = b_off, as = a_stride, bs = b_stride, a_len, b_len;
    FK_TRY(buffer_floats(a, &a_len));
    FK_TRY(buffer_floats(b, &b_len));
    int v[4] = {(int)m, (int)n, (int)k, (int)k};
    int ldc = (int)n, nb = (int)batch, acc = 1;
    FK_ARG(kn, 0, dw.buf);
    FK_ARG(kn, 1, c_o);
    FK_ARG(kn, 2, a);
    FK_ARG(kn, 3, a_o);
    FK_ARG(kn, 4, b);
    FK_ARG(kn, 5, b_o);
    FK_TRY(set_ints(kn, 6, v, 4));
    FK_ARG(kn, 10, as);
    FK_ARG(kn, 11, v[3]);
    FK_ARG(kn, 12, bs);
    FK_ARG(kn, 13, ldc);
    FK_ARG(kn, 14, nb);
    FK_ARG(kn, 15, acc);
    FK_ARG(kn, 16, a_len);
    FK_ARG(kn, 17, b_len);
    if (wi) {
        /* at most WI_K_SLICE products per work-item and launch: slices of
         * the samples, and of K when one sample's K is longer */
        size_t global[2] = {fk_round_up((n + WI_TN - 1) / WI_TN, WI_COLS), (m + WI_TM - 1) / WI_TM};
        size_t kslice = k < WI_K_SLICE ? k : WI_K_SLICE, per = WI_K_SLICE / kslice;
        for (size_t s0 = 0; s0 < batch; s0 += per)
            for (size_t k0 = 0; k0 < k; k0 += kslice) {
                int sb = (int)(batch - s0 < per ? batch - s0 : per);
                int kc = (int)(k - k0 < kslice ? k - k0 : kslice);
                cl_ulong a_s = a_off + s0 * a_stride + k0, b_s = b_off + s0 * b_stride + k0;
                FK_ARG(kn, 3, a_s);
                FK_ARG(kn, 5, b_s);
                FK_ARG(kn, 8, kc);
                FK_ARG(kn, 14, sb);
                FK_LAUNCH(rt, kn, 2, global, NULL);
            }
        return FK_OK;
    }
    /* NT_TM x NT_TN = 4 x 4 outputs per work-item */
    size_t global[2] = {(n + 3) / 4, (m + 3) / 4}, local[2] = {1, 1};
    FK_LAUNCH(rt, kn, 2, global, local);
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
    const char *e = getenv("FIGKD_CONV_PATH");
    *batch = false;
    if (d->groups != 1)
        return FK_OK;
    if (e && *e && strcmp(e, "batch") && strcmp(e, "sample") && strcmp(e, "mixed"))
        return fk_error(FK_ERR_ARG, "FIGKD_CONV_PATH=%s: expected batch, sample or mixed", e);
    if (e && *e && strcmp(e, "mixed"))
        *batch = !strcmp(e, "batch");
    else
        *batch = (!rt->dev.is_cpu || (e && *e)) && !backward;
    /* its kernels index in int */
    if (batch_work(d) >= INT_MAX || (size_t)d->n * d->c_in * d->h * d->w >= INT_MAX)
        *batch = false;
    return FK_OK;
}

static fk_status batch_kernel(fk_runtime *rt, const fk_conv_dims *d, const char *name, cl_kernel *k)
{
    char opts[96];
    snprintf(opts, sizeof opts, "-DKH=%d -DKW=%d -DSTRIDE=%d -DPAD=%d", d->kh, d->kw, d->stride, d->pad);
    return fk_kernel_get(rt, "conv_batch", opts, name, k);
}

/* im2col_batch (col <- in) or col2im_batch_add (din += col) */
static fk_status batch_col(fk_runtime *rt, const fk_conv_dims *d, const char *name, fk_tensor dst,
                           fk_tensor src, size_t count)
{
    cl_kernel k;
    FK_TRY(batch_kernel(rt, d, name, &k));
    FK_TRY(set_dst_src(k, dst, src));
    int v[6] = {d->n, d->c_in, d->h, d->w, d->h_out, d->w_out};
    FK_TRY(set_ints(k, 4, v, 6));
    return launch_1d(rt, k, count);
}

static fk_status batch_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                               const fk_tensor *bias, fk_tensor work, const fk_conv_dims *d)
{
    const size_t p = (size_t)d->h_out * d->w_out, np = d->n * p;
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    fk_tensor col = work, y = offset_tensor(work, ckk * np);
    FK_TRY(batch_col(rt, d, "im2col_batch", col, in, d->c_in * np));
    FK_TRY(fk_gemm(rt, false, false, d->c_out, np, ckk, 1.0f, weight.buf, weight.off, ckk, col.buf, col.off,
                   np, 0.0f, y.buf, y.off, np));
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "conv_batch", "", "cm_to_nchw_bias", &k));
    FK_TRY(set_dst_src(k, out, y));
    int v[3] = {d->n, d->c_out, (int)p}, has_bias = bias ? 1 : 0;
    FK_TRY(set_ints(k, 4, v, 3));
    cl_ulong b_off = bias ? bias->off : 0;
    cl_mem b_buf = bias ? bias->buf : weight.buf; /* unused without bias */
    FK_ARG(k, 7, b_buf);
    FK_ARG(k, 8, b_off);
    FK_ARG(k, 9, has_bias);
    return launch_1d(rt, k, d->c_out * np);
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
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "conv_batch", "", "nchw_to_cm", &k));
    FK_TRY(set_dst_src(k, dy, dout));
    int v[3] = {d->n, d->c_out, (int)p};
    FK_TRY(set_ints(k, 4, v, 3));
    FK_TRY(launch_1d(rt, k, d->c_out * np));
    if (dbias) {
        FK_TRY(fk_kernel_get(rt, "conv_batch", "", "row_sum_add", &k));
        FK_TRY(set_dst_src(k, *dbias, dy));
        int r[2] = {d->c_out, (int)np};
        FK_TRY(set_ints(k, 4, r, 2));
        size_t global = (size_t)d->c_out * 64, local = 64;
        FK_LAUNCH(rt, k, 1, &global, &local);
    }
    if (dweight) {
        FK_TRY(batch_col(rt, d, "im2col_batch", col, in, d->c_in * np));
        FK_TRY(fk_gemm(rt, false, true, d->c_out, ckk, np, 1.0f, dy.buf, dy.off, np, col.buf, col.off, np,
                       1.0f, dweight->buf, dweight->off, ckk));
    }
    if (din) {
        FK_TRY(fk_gemm(rt, true, false, ckk, np, d->c_out, 1.0f, weight.buf, weight.off, ckk, dy.buf, dy.off,
                       np, 0.0f, col.buf, col.off, np));
        FK_TRY(batch_col(rt, d, "col2im_batch_add", *din, col, (size_t)d->n * d->c_in * d->h * d->w));
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
        FK_TRY(conv_kernel(rt, d, "direct_forward", &k));
        FK_TRY(set_dst_src(k, out, in));
        cl_ulong w_off = weight.off, b_off = bias ? bias->off : 0;
        cl_mem b_buf = bias ? bias->buf : weight.buf; /* unused without bias */
        FK_ARG(k, 4, weight.buf);
        FK_ARG(k, 5, w_off);
        FK_ARG(k, 6, b_buf);
        FK_ARG(k, 7, b_off);
        int v[6] = {d->n, d->h, d->w, d->c_out, d->h_out, d->w_out};
        FK_TRY(set_ints(k, 8, v, 6));
        return launch_1d(rt, k, (size_t)d->n * d->c_out * p);
    }
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    if (is_pointwise(d)) {
        FK_TRY(weight_gemm(rt, false, d->c_out, p, d->c_in, weight, in.buf, in.off, p, d->c_in * p, false,
                           out.buf, out.off, p, d->c_out * p, d->n));
    } else {
        FK_TRY(im2col(rt, work, in, d));
        FK_TRY(weight_gemm(rt, false, d->c_out, p, ckk, weight, work.buf, work.off, p, ckk * p, false,
                           out.buf, out.off, p, d->c_out * p, d->n));
    }
    if (bias)
        FK_TRY(generic3(rt, "bias_add", out, *bias, d->n, d->c_out, (int)p, d->n * d->c_out * p));
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
        cl_kernel k;
        FK_TRY(fk_kernel_get(rt, "conv", "", "bias_grad", &k));
        FK_TRY(set_dst_src(k, *dbias, dout));
        int v[3] = {d->n, d->c_out, (int)p};
        FK_TRY(set_ints(k, 4, v, 3));
        FK_TRY(launch_1d(rt, k, d->c_out));
    }
    if (d->groups != 1) {
        int v[6] = {d->n, d->h, d->w, d->c_out, d->h_out, d->w_out};
        if (dweight) {
            cl_kernel k;
            FK_TRY(conv_kernel(rt, d, "direct_backward_weight", &k));
            FK_TRY(set_dst_src(k, *dweight, dout));
            cl_ulong in_off = in.off;
            FK_ARG(k, 4, in.buf);
            FK_ARG(k, 5, in_off);
            FK_TRY(set_ints(k, 6, v, 6));
            FK_TRY(launch_1d(rt, k, (size_t)d->c_out * (d->c_in / d->groups) * d->kh * d->kw));
        }
        if (din) {
            cl_kernel k;
            FK_TRY(conv_kernel(rt, d, "direct_backward_data", &k));
            FK_TRY(set_dst_src(k, *din, dout));
            cl_ulong w_off = weight.off;
            FK_ARG(k, 4, weight.buf);
            FK_ARG(k, 5, w_off);
            FK_TRY(set_ints(k, 6, v, 6));
            FK_TRY(launch_1d(rt, k, (size_t)d->n * d->c_in * d->h * d->w));
        }
        return FK_OK;
    }
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    const bool pw = is_pointwise(d);
    /* col and its per-sample stride and leading dimension */
    fk_tensor col = pw ? in : work;
    const size_t col_stride = ckk * p, col_ld = p;
    if (dweight) {
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
            FK_TRY(fk_kernel_get(rt, "conv", "", "sum_batches_add", &k));
            FK_TRY(set_dst_src(k, *dweight, part));
            int v[2] = {(int)b, (int)len};
            FK_TRY(set_ints(k, 4, v, 2));
            FK_TRY(launch_1d(rt, k, len));
        }
    }
    if (din) {
        if (pw) {
            FK_TRY(weight_gemm(rt, true, d->c_in, p, d->c_out, weight, dout.buf, dout.off, p, d->c_out * p,
                               true, din->buf, din->off, p, d->c_in * p, d->n));
        } else {
            FK_TRY(weight_gemm(rt, true, ckk, p, d->c_out, weight, dout.buf, dout.off, p, d->c_out * p,
                               false, col.buf, col.off, p, ckk * p, d->n));
            FK_TRY(col2im_add(rt, *din, col, d));
        }
    }
    return FK_OK;
}
