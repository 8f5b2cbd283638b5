/* The weight gradient of conv2d (groups 1) on CPU devices as one NN GEMM
 * over the whole batch (host code: src/ops/conv.c, weight_grad_rows):
 *   colT (N*P, CKK)  row (s, q) = the KH*KW window of every input channel
 *                    under output position q of sample s (im2col_t);
 *   dW (C_out, CKK) += sum over (s, q) of dout (s, :, q) x colT row (s, q)
 *                    (wgrad_nn16: the register tile of tile.clh).
 * wgrad_nn16 sums in the register tile of tile.clh (TILE_NV vector loads
 * and TILE_TM scalar loads per TILE_TM * TILE_NV vector multiply-adds), no
 * local memory, no barriers. Compile-time shape: KH, KW, STRIDE, PAD (the
 * CONV_BATCH -D values; wgrad_nn16 uses none). Offsets are in elements. */

#include "conv.clh"
#include "tile.clh"

/* colT (N*P, C*KH*KW) from in (N, C, H, W); one work-item per (sample,
 * output position), writing its whole row of colT in order (whole cache
 * lines; one item per (sample, channel, position) wrote KH*KW floats
 * every CKK and took a third of the weight gradient's time). */
__kernel void im2col_t(__global float *col, const ulong col_off, __global const float *in,
                       const ulong in_off, const int n, const int c, const int h, const int w,
                       const int ho, const int wo)
{
    const int p = ho * wo;
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)n * p)
        return;
    const int q = (int)(gid % (size_t)p), s = (int)(gid / (size_t)p);
    const int oh = q / wo, ow = q - oh * wo;
    __global const float *x = in + in_off + (size_t)s * c * h * w;
    __global float *dst = col + col_off + gid * ((size_t)c * KH * KW);
    for (int ci = 0; ci < c; ci++, x += (size_t)h * w, dst += KH * KW) {
        for (int kh = 0; kh < KH; kh++) {
            const int ih = oh * STRIDE - PAD + kh;
            const bool row_ok = ih >= 0 && ih < h;
            for (int kw = 0; kw < KW; kw++) {
                const int iw = ow * STRIDE - PAD + kw;
                dst[kh * KW + kw] = row_ok && iw >= 0 && iw < w ? x[ih * w + iw] : 0.0f;
            }
        }
    }
}

/* dw (M, CKK) += sum over s < n, q < p of dout[s*M*p + i*p + q] *
 * colT[(s*p + q)*CKK + j]. Each work-item owns TILE_TN columns of dw and
 * `rows` rows (a multiple of TILE_TM): per block of WGRAD_KB products it
 * walks its row tiles, each loaded from dw, summed over the block and
 * stored back, so the block's colT rows (WGRAD_KB x TILE_TN floats) are
 * read from memory once for all the rows (one row tile per work-item read
 * them again for every tile: the colT of a chunk is megabytes, and this
 * kernel was bound by that traffic). Per element of dw the products are
 * added in order onto the value there. global (ceil(CKK / TILE_TN),
 * ceil(M / rows)). */
#define WGRAD_KB 64
__kernel void wgrad_nn16(__global float *dw, const ulong dw_off, __global const float *dout,
                         const ulong dout_off, __global const float *col, const ulong col_off,
                         const int m, const int ckk, const int n, const int p, const int rows)
{
    const int j = (int)get_global_id(0) * TILE_TN, r0 = (int)get_global_id(1) * rows;
    if (j >= ckk || r0 >= m)
        return;
    const int r1 = min(r0 + rows, m), cols = min(TILE_TN, ckk - j);
    const size_t a_stride = (size_t)m * p;
    float16 acc[TILE_TM][TILE_NV], bv[TILE_NV];
    for (int s = 0; s < n; s++)
        for (int q0 = 0; q0 < p; q0 += WGRAD_KB) {
            const int qn = min(WGRAD_KB, p - q0);
            __global const float *bb = col + col_off + ((size_t)s * p + q0) * ckk + j;
            for (int i0 = r0; i0 < r1; i0 += TILE_TM) {
                size_t arow[TILE_TM];
                TILE_UNROLL for (int t = 0; t < TILE_TM; t++)
                    arow[t] = dout_off + (size_t)s * a_stride + (size_t)min(i0 + t, m - 1) * p + q0;
                __global float *dst = dw + dw_off + (size_t)i0 * ckk + j;
                const int tm = min(TILE_TM, m - i0);
                TILE_LOAD_C(acc, dst, ckk, tm, cols);
#define WN_ROW(q) (bb + (size_t)(q) * ckk)
#define WN_A(t, q) dout[arow[t] + (q)]
                TILE_SUM(acc, bv, qn, WN_ROW, WN_A, cols == TILE_TN, cols);
                TILE_STORE(acc, dst, ckk, tm, cols, 0);
            }
        }
}

/* The weight gradient of convs whose input channels are a multiple of
 * TILE_TN, without transposed columns (im2col_t writes CKK floats per
 * position, one at a time, and took 40% of wgrad_nn16's time): the input
 * with its channels last, xt (N, H, W, C) (chw_to_hwc), gives each tap's
 * TILE_TN channels at a position as one contiguous piece, so the GEMM
 * reads them in place. The columns of this form are tap-major,
 * dwt (M, KH*KW*C) with column tap * C + ci (a column tile lies in one
 * tap); wgrad_hwc_add adds it into dw in dw's order. */

/* xt (n, p, c) from x (n, c, p); one work-item per (sample, position)
 * writes its row of c. */
__kernel void chw_to_hwc(__global float *xt, const ulong xt_off, __global const float *x,
                         const ulong x_off, const int n, const int c, const int p)
{
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)n * p)
        return;
    const int q = (int)(gid % (size_t)p);
    const size_t s = gid / (size_t)p;
    __global const float *src = x + x_off + s * c * p + q;
    __global float *row = xt + xt_off + gid * c;
    for (int ci = 0; ci < c; ci++)
        row[ci] = src[(size_t)ci * p];
}

/* dwt (M, KH*KW*C) (+)= sum over s < n and output positions q of
 * dout[s][i][q] * xt[s][iy][ix][ci] (iy, ix: the tap's input position,
 * skipped when in the padding); as wgrad_nn16 otherwise (rows of dwt per
 * work-item, blocks of WGRAD_KB positions), starting from zero when init.
 * global (KH*KW*C / TILE_TN, ceil(M / rows)). */
__kernel void wgrad_hwc(__global float *dwt, const ulong dwt_off, __global const float *dout,
                        const ulong dout_off, __global const float *xt, const ulong xt_off, const int m,
                        const int c, const int h, const int w, const int ho, const int wo, const int n,
                        const int rows, const int init)
{
    const int ckk = c * KH * KW, j = (int)get_global_id(0) * TILE_TN, r0 = (int)get_global_id(1) * rows;
    if (j >= ckk || r0 >= m)
        return;
    const int tap = j / c, ci0 = j - tap * c, kh = tap / KW, kw = tap - kh * KW;
    const int p = ho * wo, r1 = min(r0 + rows, m);
    float16 acc[TILE_TM][TILE_NV], bv[TILE_NV];
    for (int s = 0; s < n; s++) {
        __global const float *xs = xt + xt_off + (size_t)s * h * w * c + ci0;
        for (int q0 = 0; q0 < p; q0 += WGRAD_KB) {
            const int qn = min(WGRAD_KB, p - q0), oh0 = q0 / wo, ow0 = q0 - oh0 * wo;
            for (int i0 = r0; i0 < r1; i0 += TILE_TM) {
                size_t arow[TILE_TM];
                TILE_UNROLL for (int t = 0; t < TILE_TM; t++)
                    arow[t] = dout_off + ((size_t)s * m + min(i0 + t, m - 1)) * p + q0;
                __global float *dst = dwt + dwt_off + (size_t)i0 * ckk + j;
                const int tm = min(TILE_TM, r1 - i0);
                if (init && s == 0 && q0 == 0) {
                    TILE_ZERO(acc);
                } else {
                    TILE_LOAD_C(acc, dst, ckk, tm, TILE_TN);
                }
                int oh = oh0, ow = ow0;
                for (int q = 0; q < qn; q++) {
                    const int iy = oh * STRIDE - PAD + kh, ix = ow * STRIDE - PAD + kw;
                    if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                        TILE_LOAD_B(bv, xs + ((size_t)iy * w + ix) * c);
                        TILE_FMA(acc, dout[arow[t_] + q], bv);
                    }
                    if (++ow == wo) {
                        ow = 0;
                        oh++;
                    }
                }
                TILE_STORE(acc, dst, ckk, tm, TILE_TN, 0);
            }
        }
    }
}

/* dw (M, C*KH*KW) += dwt (M, KH*KW*C) in dw's column order; one
 * work-item per element of dw. */
__kernel void wgrad_hwc_add(__global float *dw, const ulong dw_off, __global const float *dwt,
                            const ulong dwt_off, const int m, const int c)
{
    const int kk = KH * KW, ckk = c * kk;
    const size_t gid = get_global_id(0);
    if (gid >= (size_t)m * ckk)
        return;
    const int r = (int)(gid % (size_t)ckk), ci = r / kk, tap = r - ci * kk;
    dw[dw_off + gid] += dwt[dwt_off + gid - r + (size_t)tap * c + ci];
}
