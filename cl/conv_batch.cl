/* conv2d, whole-batch layout for GPUs (host code: src/ops/conv.c,
 * batch_forward / batch_backward).
 *
 * The batch is folded into the GEMM columns: with P = HO*WO and NP = N*P,
 *   col  (C*KH*KW, NP): row r = (c, kh, kw), column j = (s, oh, ow);
 *   cm   (C, NP):       a tensor (N, C, P) with its channel axis first
 *                       (element (s, c, q) at c*NP + s*P + q).
 * Compile-time shape as -D options: KH, KW, STRIDE, PAD (the program cache
 * keys on them); the layout kernels and the row sums are fetched with "".
 * Consecutive work-items touch consecutive column entries. No atomics:
 * every output element is written by exactly one work-item (row_sum_add: by
 * one work-group). Offsets are in elements; index arithmetic is in int (the
 * host takes this path only while (C*KH*KW + C_out) * NP and N*C*H*W stay
 * below 2^31). */

#include "conv.clh"

/* col (C*KH*KW, NP) from in (N, C, H, W); one work-item per (channel,
 * column) writes that column's KH*KW rows. */
__kernel void im2col_batch(__global float *col, const ulong col_off, __global const float *in,
                           const ulong in_off, const int n, const int c, const int h, const int w,
                           const int ho, const int wo)
{
    const int p = ho * wo, np = n * p;
    const int i = (int)get_global_id(0);
    if (i >= c * np)
        return;
    const int ci = i / np, j = i - ci * np;
    const int s = j / p, q = j - s * p;
    const int oh = q / wo, ow = q - oh * wo;
    __global const float *x = in + in_off + (s * c + ci) * h * w;
    __global float *dst = col + col_off + ci * KH * KW * np + j;
    for (int kh = 0; kh < KH; kh++) {
        const int ih = oh * STRIDE - PAD + kh;
        const bool row_ok = ih >= 0 && ih < h;
        for (int kw = 0; kw < KW; kw++) {
            const int iw = ow * STRIDE - PAD + kw;
            dst[(kh * KW + kw) * np] = row_ok && iw >= 0 && iw < w ? x[ih * w + iw] : 0.0f;
        }
    }
}

/* din (N, C, H, W) += the sum of every col entry that im2col_batch copied
 * from that input element; one work-item per input element (a gather over
 * the taps that read it). */
__kernel void col2im_batch_add(__global float *din, const ulong din_off, __global const float *col,
                               const ulong col_off, const int n, const int c, const int h,
                               const int w, const int ho, const int wo)
{
    const int p = ho * wo, np = n * p;
    const int i = (int)get_global_id(0);
    if (i >= n * c * h * w)
        return;
    const int sch = i / w, iw = i - sch * w;
    const int sc = sch / h, ih = sch - sc * h;
    const int s = sc / c, ci = sc - s * c;
    __global const float *cb = col + col_off + ci * KH * KW * np + s * p;
    din[din_off + i] += col_taps_sum(cb, np, ih, iw, ho, wo);
}

/* dst cm (C, N*P) from src (N, C, P); one work-item per element of dst. */
__kernel void nchw_to_cm(__global float *dst, const ulong dst_off, __global const float *src,
                         const ulong src_off, const int n, const int c, const int p)
{
    const int np = n * p;
    const int i = (int)get_global_id(0);
    if (i >= c * np)
        return;
    const int o = i / np, j = i - o * np;
    const int s = j / p, q = j - s * p;
    dst[dst_off + i] = src[src_off + (s * c + o) * p + q];
}

/* out (N, C, P) = src cm (C, N*P) (+ bias (C) when has_bias); one
 * work-item per element of out. */
__kernel void cm_to_nchw_bias(__global float *out, const ulong out_off, __global const float *src,
                              const ulong src_off, const int n, const int c, const int p,
                              __global const float *bias, const ulong bias_off, const int has_bias)
{
    const int i = (int)get_global_id(0);
    if (i >= n * c * p)
        return;
    const int sc = i / p, q = i - sc * p;
    const int s = sc / c, o = sc - s * c;
    float v = src[src_off + o * (n * p) + s * p + q];
    if (has_bias)
        v += bias[bias_off + o];
    out[out_off + i] = v;
}

/* dst (rows) += the sum of each row of src (rows, len); one work-group of
 * ROW_SUM_WG work-items per row (strided partial sums, then a tree in local
 * memory). */
#define ROW_SUM_WG 64
__kernel __attribute__((reqd_work_group_size(ROW_SUM_WG, 1, 1))) void
row_sum_add(__global float *dst, const ulong dst_off, __global const float *src, const ulong src_off,
            const int rows, const int len)
{
    __local float part[ROW_SUM_WG];
    const int row = (int)get_group_id(0), lane = (int)get_local_id(0);
    float acc = 0.0f;
    if (row < rows) {
        __global const float *r = src + src_off + row * len;
        for (int q = lane; q < len; q += ROW_SUM_WG)
            acc += r[q];
    }
    part[lane] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int span = ROW_SUM_WG / 2; span > 0; span /= 2) {
        if (lane < span)
            part[lane] += part[lane + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lane == 0 && row < rows)
        dst[dst_off + row] += part[0];
}
