/* conv2d kernels (host code: src/ops/conv.c).
 *
 * Compile-time shape, as -D options (the program cache keys on them):
 *   KH, KW     kernel size
 *   STRIDE     stride (both directions)
 *   PAD        zero padding (both directions)
 *   CIPG, COPG input and output channels per group (direct kernels)
 *   HAS_BIAS   1 when the direct forward adds a bias
 * Kernels that need none of them (bias, sums, GEMMs) are fetched with "".
 *
 * Layouts: activations NCHW; weight (C_out, C_in/groups, KH, KW); im2col
 * columns "col" (N, C_in*KH*KW, HO*WO): per sample, row r = (c, kh, kw),
 * column (oh, ow). Offsets are in elements. No atomics: every output element
 * is written by exactly one work-item. */

#include "conv.clh"

#ifndef CIPG
#define CIPG 1
#endif
#ifndef COPG
#define COPG 1
#endif
#ifndef HAS_BIAS
#define HAS_BIAS 0
#endif

/* col (N, C*KH*KW, HO*WO) from in (N, C, H, W); one work-item per
 * (sample, channel, output row) writes the KH*KW column rows' pieces for
 * that output row (index arithmetic once per piece, plain copy loops).
 * With panels (HO*WO a multiple of 32) each sample's col is stored in
 * panels of 32 columns, element (r, q) at (q / 32) * CKK * 32 + r * 32 +
 * q % 32, so that gemm_nn16 reads a row of its column tile as one piece. */
__kernel void im2col(__global float *col, const ulong col_off, __global const float *in,
                     const ulong in_off, const int n, const int c, const int h, const int w,
                     const int ho, const int wo, const int panels)
{
    const int i = (int)get_global_id(0);
    if (i >= n * c * ho)
        return;
    const int oh = i % ho, sc = i / ho; /* sc = s * c + ci */
    const int s = sc / c, ci = sc - s * c;
    const int p_count = ho * wo, ckk = c * KH * KW;
    __global const float *x = in + in_off + (size_t)sc * h * w;
    for (int kh = 0; kh < KH; kh++) {
        const int ih = oh * STRIDE - PAD + kh;
        const bool row_ok = ih >= 0 && ih < h;
        __global const float *xr = x + (size_t)(row_ok ? ih : 0) * w;
        for (int kw = 0; kw < KW; kw++) {
            const int r = (ci * KH + kh) * KW + kw, q0 = oh * wo;
            __global float *dst = col + col_off + (size_t)s * ckk * p_count +
                                  (panels ? (size_t)r * 32 : (size_t)r * p_count + q0);
            /* output columns whose input column lies inside: [lo, hi) */
            int lo = (PAD - kw + STRIDE - 1) / STRIDE;
            int hi = (w + PAD - kw + STRIDE - 1) / STRIDE;
            lo = row_ok ? max(lo, 0) : 0;
            hi = row_ok ? min(hi, wo) : 0;
            if (panels) {
                for (int ow = 0; ow < wo; ow++) {
                    const int q = q0 + ow;
                    dst[(size_t)(q >> 5) * ckk * 32 + (q & 31)] =
                        ow >= lo && ow < hi ? xr[ow * STRIDE - PAD + kw] : 0.0f;
                }
                continue;
            }
            for (int ow = 0; ow < lo; ow++)
                dst[ow] = 0.0f;
            for (int ow = lo; ow < hi; ow++)
                dst[ow] = xr[ow * STRIDE - PAD + kw];
            for (int ow = max(hi, lo); ow < wo; ow++)
                dst[ow] = 0.0f;
        }
    }
}

/* din (N, C, H, W) += the sum of every column entry that im2col copied from
 * that input element; one work-item per (sample, channel, input row) adds,
 * for each tap (kh, kw) whose output row reads this input row, the column
 * row's piece into the input row (im2col's loops, reversed). */
__kernel void col2im_add(__global float *din, const ulong din_off, __global const float *col,
                         const ulong col_off, const int n, const int c, const int h, const int w,
                         const int ho, const int wo)
{
    const int i = (int)get_global_id(0);
    if (i >= n * c * h)
        return;
    const int ih = i % h, sc = i / h;
    const int s = sc / c, ci = sc - s * c;
    const int p_count = ho * wo;
    __global const float *cb = col + col_off + ((size_t)s * (c * KH * KW) + ci * KH * KW) * p_count;
    __global float *dr = din + din_off + ((size_t)sc * h + ih) * w;
    for (int kh = 0; kh < KH; kh++) {
        const int oh = tap_out(ih, kh, ho);
        if (oh < 0)
            continue;
        __global const float *cr = cb + (size_t)kh * KW * p_count + oh * wo;
        for (int kw = 0; kw < KW; kw++) {
            __global const float *src = cr + (size_t)kw * p_count;
            const int lo = max((PAD - kw + STRIDE - 1) / STRIDE, 0);
            const int hi = min((w + PAD - kw + STRIDE - 1) / STRIDE, wo);
            for (int ow = lo; ow < hi; ow++)
                dr[ow * STRIDE - PAD + kw] += src[ow];
        }
    }
}

/* GPU variants (one work-item per element: coalesced, many items):
 * col (N, C*KH*KW, HO*WO) from in (N, C, H, W); global (N*HO*WO rounded, C*KH*KW) */
__kernel void im2col_px(__global float *col, const ulong col_off, __global const float *in,
                     const ulong in_off, const int n, const int c, const int h, const int w,
                     const int ho, const int wo)
{
    const int j = (int)get_global_id(0);
    const int r = (int)get_global_id(1);
    const int p_count = ho * wo;
    const int np = n * p_count;
    if (j >= np)
        return;
    const int kw = r % KW, kh = (r / KW) % KH, ci = r / (KH * KW);
    const int s = j / p_count, p = j - s * p_count;
    const int oh = p / wo, ow = p - oh * wo;
    const int ih = oh * STRIDE - PAD + kh, iw = ow * STRIDE - PAD + kw;
    float v = 0.0f;
    if (ih >= 0 && ih < h && iw >= 0 && iw < w)
        v = in[in_off + ((size_t)(s * c + ci) * h + ih) * w + iw];
    col[col_off + ((size_t)s * (c * KH * KW) + r) * p_count + p] = v;
}

/* din (N, C, H, W) += the sum of every column entry that im2col copied from
 * that input element (a gather: one work-item per input element). */
__kernel void col2im_add_px(__global float *din, const ulong din_off, __global const float *col,
                         const ulong col_off, const int n, const int c, const int h, const int w,
                         const int ho, const int wo)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)n * c * h * w)
        return;
    const int iw = (int)(i % w), ih = (int)((i / w) % h);
    const int ci = (int)((i / ((size_t)w * h)) % c), s = (int)(i / ((size_t)w * h * c));
    const int p_count = ho * wo;
    __global const float *cb = col + col_off + (size_t)s * (c * KH * KW) * p_count;
    din[din_off + i] += col_taps_sum(cb + (size_t)(ci * KH * KW) * p_count, p_count, ih, iw, ho, wo);
}

/* dst (len) += sum over b of src (batches, len); one work-item per element. */
__kernel void sum_batches_add(__global float *dst, const ulong dst_off, __global const float *src,
                              const ulong src_off, const int batches, const int len)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)len)
        return;
    float acc = 0.0f;
    for (int b = 0; b < batches; b++)
        acc += src[src_off + (size_t)b * len + i];
    dst[dst_off + i] += acc;
}

/* out (N, C, P) += bias (C) */
__kernel void bias_add(__global float *out, const ulong out_off, __global const float *bias,
                       const ulong bias_off, const int n, const int c, const int p)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)n * c * p)
        return;
    out[out_off + i] += bias[bias_off + (i / p) % c];
}

/* dbias (C) += sum over n, p of dout (N, C, P); one work-item per channel,
 * partial sums per sample. */
__kernel void bias_grad(__global float *dbias, const ulong dbias_off, __global const float *dout,
                        const ulong dout_off, const int n, const int c, const int p)
{
    const int o = (int)get_global_id(0);
    if (o >= c)
        return;
    float acc = 0.0f;
    for (int s = 0; s < n; s++) {
        __global const float *d = dout + dout_off + ((size_t)s * c + o) * p;
        float part = 0.0f;
        for (int q = 0; q < p; q++)
            part += d[q];
        acc += part;
    }
    dbias[dbias_off + o] += acc;
}

/* ---- direct convolution, any groups (depthwise, grouped) --------------- */

/* out (N, CO, HO, WO), one work-item per output element. */
__kernel void direct_forward(__global float *out, const ulong out_off, __global const float *in,
                             const ulong in_off, __global const float *weight, const ulong w_off,
                             __global const float *bias, const ulong b_off, const int n,
                             const int h, const int w, const int co, const int ho, const int wo)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)n * co * ho * wo)
        return;
    const int ow = (int)(i % wo), oh = (int)((i / wo) % ho);
    const int o = (int)((i / ((size_t)wo * ho)) % co), s = (int)(i / ((size_t)wo * ho * co));
    const int g = o / COPG;
    const int ci_count = co / COPG * CIPG;
    __global const float *x = in + in_off + ((size_t)s * ci_count + g * CIPG) * h * w;
    __global const float *wt = weight + w_off + (size_t)o * CIPG * KH * KW;
    float acc = 0.0f;
    for (int ci = 0; ci < CIPG; ci++) {
        for (int kh = 0; kh < KH; kh++) {
            const int ih = oh * STRIDE - PAD + kh;
            if (ih < 0 || ih >= h)
                continue;
            for (int kw = 0; kw < KW; kw++) {
                const int iw = ow * STRIDE - PAD + kw;
                if (iw < 0 || iw >= w)
                    continue;
                acc += x[((size_t)ci * h + ih) * w + iw] * wt[(ci * KH + kh) * KW + kw];
            }
        }
    }
#if HAS_BIAS
    acc += bias[b_off + o];
#endif
    out[out_off + i] = acc;
}

/* din (N, CI, H, W) += gradient, one work-item per input element (gather
 * over the output channels of its group and the kernel taps that saw it). */
__kernel void direct_backward_data(__global float *din, const ulong din_off,
                                   __global const float *dout, const ulong dout_off,
                                   __global const float *weight, const ulong w_off, const int n,
                                   const int h, const int w, const int co, const int ho,
                                   const int wo)
{
    const int ci_count = co / COPG * CIPG;
    const size_t i = get_global_id(0);
    if (i >= (size_t)n * ci_count * h * w)
        return;
    const int iw = (int)(i % w), ih = (int)((i / w) % h);
    const int c = (int)((i / ((size_t)w * h)) % ci_count), s = (int)(i / ((size_t)w * h * ci_count));
    const int g = c / CIPG, cl = c - g * CIPG;
    float acc = 0.0f;
    for (int ol = 0; ol < COPG; ol++) {
        const int o = g * COPG + ol;
        __global const float *d = dout + dout_off + ((size_t)s * co + o) * ho * wo;
        __global const float *wt = weight + w_off + ((size_t)o * CIPG + cl) * KH * KW;
        for (int kh = 0; kh < KH; kh++) {
            const int oh = tap_out(ih, kh, ho);
            if (oh < 0)
                continue;
            for (int kw = 0; kw < KW; kw++) {
                const int ow = tap_out(iw, kw, wo);
                if (ow < 0)
                    continue;
                acc += d[oh * wo + ow] * wt[kh * KW + kw];
            }
        }
    }
    din[din_off + i] += acc;
}

/* dweight (CO, CIPG, KH, KW) += gradient, one work-item per weight element
 * (a reduction over N*HO*WO, partial sums per sample). */
__kernel void direct_backward_weight(__global float *dweight, const ulong dw_off,
                                     __global const float *dout, const ulong dout_off,
                                     __global const float *in, const ulong in_off, const int n,
                                     const int h, const int w, const int co, const int ho,
                                     const int wo)
{
    const size_t i = get_global_id(0);
    if (i >= (size_t)co * CIPG * KH * KW)
        return;
    const int kw = (int)(i % KW), kh = (int)((i / KW) % KH);
    const int cl = (int)((i / (KH * KW)) % CIPG), o = (int)(i / (CIPG * KH * KW));
    const int g = o / COPG;
    const int ci_count = co / COPG * CIPG;
    const int c = g * CIPG + cl;
    /* output rows/cols whose tap (kh, kw) falls inside the input */
    int oh0 = 0, ow0 = 0;
    while (oh0 < ho && oh0 * STRIDE - PAD + kh < 0)
        oh0++;
    while (ow0 < wo && ow0 * STRIDE - PAD + kw < 0)
        ow0++;
    float acc = 0.0f;
    for (int s = 0; s < n; s++) {
        __global const float *d = dout + dout_off + ((size_t)s * co + o) * ho * wo;
        __global const float *x = in + in_off + ((size_t)s * ci_count + c) * h * w;
        float part = 0.0f;
        for (int oh = oh0; oh < ho; oh++) {
            const int ih = oh * STRIDE - PAD + kh;
            if (ih >= h)
                break;
            for (int ow = ow0; ow < wo; ow++) {
                const int iw = ow * STRIDE - PAD + kw;
                if (iw >= w)
                    break;
                part += d[oh * wo + ow] * x[ih * w + iw];
            }
        }
        acc += part;
    }
    dweight[dw_off + i] += acc;
}
