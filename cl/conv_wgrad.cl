/* The weight gradient of conv2d (groups 1) on CPU devices as one NN GEMM
 * over the whole batch (host code: src/ops/conv.c, weight_grad_rows):
 *   colT (N*P, CKK)  row (s, q) = the KH*KW window of every input channel
 *                    under output position q of sample s (im2col_t);
 *   dW (C_out, CKK) += sum over (s, q) of dout (s, :, q) x colT row (s, q)
 *                    (wgrad_nn16: the register tile of tile.clh).
 * Each work-item of wgrad_nn16 holds TILE_TM x TILE_TN sums over all N*P
 * products (TILE_NV vector loads and TILE_TM scalar loads per
 * TILE_TM * TILE_NV vector multiply-adds), no local memory, no barriers. Compile-time shape: KH, KW, STRIDE, PAD (the
 * CONV_BATCH -D values; wgrad_nn16 uses none). Offsets are in elements. */

#include "conv.clh"
#include "tile.clh"

/* colT (N*P, C*KH*KW) from in (N, C, H, W); one work-item per (sample,
 * channel, output position), consecutive items on consecutive positions,
 * each writing its KH*KW entries. */
__kernel void im2col_t(__global float *col, const ulong col_off, __global const float *in,
                       const ulong in_off, const int n, const int c, const int h, const int w,
                       const int ho, const int wo)
{
    const int p = ho * wo;
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)n * c * p)
        return;
    const int q = (int)(gid % (size_t)p);
    const size_t sc = gid / (size_t)p;
    const int ci = (int)(sc % (size_t)c), s = (int)(sc / (size_t)c);
    const int oh = q / wo, ow = q - oh * wo;
    __global const float *x = in + in_off + sc * (size_t)h * w;
    __global float *dst = col + col_off + ((size_t)s * p + q) * ((size_t)c * KH * KW) + (size_t)ci * KH * KW;
    for (int kh = 0; kh < KH; kh++) {
        const int ih = oh * STRIDE - PAD + kh;
        const bool row_ok = ih >= 0 && ih < h;
        for (int kw = 0; kw < KW; kw++) {
            const int iw = ow * STRIDE - PAD + kw;
            dst[kh * KW + kw] = row_ok && iw >= 0 && iw < w ? x[ih * w + iw] : 0.0f;
        }
    }
}

/* dw (M, CKK) += sum over s < n, q < p of dout[s*M*p + i*p + q] *
 * colT[(s*p + q)*CKK + j]; global (ceil(CKK / TILE_TN), ceil(M / TILE_TM)). */
__kernel void wgrad_nn16(__global float *dw, const ulong dw_off, __global const float *dout,
                         const ulong dout_off, __global const float *col, const ulong col_off,
                         const int m, const int ckk, const int n, const int p)
{
    const int j = (int)get_global_id(0) * TILE_TN, i0 = (int)get_global_id(1) * TILE_TM;
    if (j >= ckk || i0 >= m)
        return;
    size_t arow[TILE_TM];
    TILE_UNROLL for (int t = 0; t < TILE_TM; t++)
        arow[t] = dout_off + (size_t)min(i0 + t, m - 1) * p;
    float16 acc[TILE_TM][TILE_NV], bv[TILE_NV];
    TILE_ZERO(acc);
    const int cols = min(TILE_TN, ckk - j);
    const size_t a_stride = (size_t)m * p;
    for (int s = 0; s < n; s++) {
        __global const float *bb = col + col_off + (size_t)s * p * ckk + j;
        const size_t ao = (size_t)s * a_stride;
        if (cols == TILE_TN) {
            for (int q = 0; q < p; q++) {
                TILE_LOAD_B(bv, bb + (size_t)q * ckk);
                TILE_FMA(acc, dout[arow[t_] + ao + q], bv);
            }
        } else {
            for (int q = 0; q < p; q++) {
                TILE_LOAD_B_PART(bv, bb + (size_t)q * ckk, cols);
                TILE_FMA(acc, dout[arow[t_] + ao + q], bv);
            }
        }
    }
    TILE_STORE(acc, dw + dw_off + (size_t)i0 * ckk + j, ckk, min(TILE_TM, m - i0), cols, 1);
}
