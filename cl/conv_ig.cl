/* Implicit-GEMM convolution (groups == 1) for devices that take the
 * per-work-item GEMMs (src/ops/conv_ig.c): forward and data gradient read
 * the image and the gradient directly, with no im2col / col2im buffers.
 *
 * Written for Mesa's llvmpipe, where a work-item is one SIMD lane and every
 * load from memory (global, local or private arrays alike) is done one lane
 * at a time, so loads cost far more than arithmetic: each work-item holds
 * an IG_TM x IG_TN tile of outputs in scalar accumulators (16 x 16: 32
 * loads per 256 multiply-adds, twice the 8 x 8 tile of gemm_nn_wi), loads
 * in-bounds addresses only (clamped, the value then selected to 0), and
 * loops over no more channels than the host passes (the host keeps every
 * loop short: llvmpipe leaves a kernel's loops after 65535 iterations).
 *
 * -D values (KH, KW, STRIDE, PAD) as conv_batch.cl, and IG_IMAGES: 1 reads
 * the operands through 1D image views of their buffers (CL_R float), where
 * llvmpipe fetches a texel without its loop over the lanes that a buffer
 * load takes (2.5x cheaper; tests/bench_loads.c); the floats and the sums
 * are the same. Layouts NCHW; weight (C_out, C_in, KH, KW). Offsets are in
 * elements. */

#include "conv.clh"

#if IG_IMAGES
#define IG_SRC __read_only image1d_buffer_t
#define IG_LOAD(p, i) read_imagef(p, (int)(i)).x
#else
#define IG_SRC __global const float *
#define IG_LOAD(p, i) (p)[i]
#endif

#define IG_TM 16
#define IG_TN 16

#define IG_L16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) \
    X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define IG_ROW(X, t) X(t, 0) X(t, 1) X(t, 2) X(t, 3) X(t, 4) X(t, 5) X(t, 6) X(t, 7) \
    X(t, 8) X(t, 9) X(t, 10) X(t, 11) X(t, 12) X(t, 13) X(t, 14) X(t, 15)
#define IG_TILE(X) IG_ROW(X, 0) IG_ROW(X, 1) IG_ROW(X, 2) IG_ROW(X, 3) IG_ROW(X, 4) \
    IG_ROW(X, 5) IG_ROW(X, 6) IG_ROW(X, 7) IG_ROW(X, 8) IG_ROW(X, 9) IG_ROW(X, 10) \
    IG_ROW(X, 11) IG_ROW(X, 12) IG_ROW(X, 13) IG_ROW(X, 14) IG_ROW(X, 15)
#define IG_ACC(t, u) float s##t##_##u = 0.0f;
#define IG_MAD(t, u) s##t##_##u += a##t * b##u;
#define IG_STORE(t, u)                                                                    \
    if (i0 + t < m && j0 + u < n)                                                         \
        o[(size_t)(i0 + t) * plane + j0 + u] =                                            \
            accumulate ? o[(size_t)(i0 + t) * plane + j0 + u] + s##t##_##u : s##t##_##u;

/* out (N, C_out, HO, WO) = (or += with accumulate) the products of input
 * channels [c0, c0 + cn). Output channels are
 * the tile rows, output pixels (flattened HO*WO) its columns.
 * global (ceil(HO*WO / IG_TN), ceil(C_out / IG_TM), N). */
__kernel void conv_fwd_ig(__global float *out, const ulong out_off, IG_SRC in,
                          const ulong in_off, IG_SRC w, const ulong w_off,
                          const int c_in, const int h, const int wd, const int c_out, const int ho,
                          const int wo, const int c0, const int cn, const int accumulate)
{
    const int plane = ho * wo, m = c_out, n = plane;
    const int j0 = (int)get_global_id(0) * IG_TN, i0 = (int)get_global_id(1) * IG_TM;
    const size_t s = get_global_id(2);
    if (j0 >= n || i0 >= m)
        return;
    const int ckk = c_in * KH * KW;
    /* per column: the window's top-left input position */
#define IG_FCOL(u)                                                                        \
    const int p##u = min(j0 + u, n - 1);                                                  \
    const int y##u = (p##u / wo) * STRIDE - PAD, x##u = (p##u % wo) * STRIDE - PAD;
    IG_L16(IG_FCOL)
#define IG_FROW(t) const size_t w##t = w_off + (size_t)min(i0 + t, m - 1) * ckk;
    IG_L16(IG_FROW)
    IG_TILE(IG_ACC)
    const size_t img = in_off + s * (size_t)c_in * h * wd;
    for (int ci = c0; ci < c0 + cn; ci++) {
        const size_t xc = img + (size_t)ci * h * wd;
        for (int kh = 0; kh < KH; kh++)
            for (int kw = 0; kw < KW; kw++) {
                const int r = (ci * KH + kh) * KW + kw;
#define IG_FB(u)                                                                          \
    const int iy##u = y##u + kh, ix##u = x##u + kw;                                       \
    const float v##u = IG_LOAD(in, xc + clamp(iy##u, 0, h - 1) * wd + clamp(ix##u, 0, wd - 1)); \
    const float b##u = (iy##u >= 0 && iy##u < h && ix##u >= 0 && ix##u < wd) ? v##u : 0.0f;
                IG_L16(IG_FB)
#define IG_FA(t) const float a##t = IG_LOAD(w, w##t + r);
                IG_L16(IG_FA)
                IG_TILE(IG_MAD)
            }
    }
    __global float *o = out + out_off + s * (size_t)c_out * plane;
    IG_TILE(IG_STORE)
}

/* din (N, C_in, H, W) = (or += with accumulate) the data gradient from output channels
 * [c0, c0 + cn) of dout (N, C_out, HO, WO): input channels are the tile
 * rows, input pixels (flattened H*W) its columns; each tap (kh, kw) reads
 * the output position whose window puts it on the pixel, if any.
 * global (ceil(H*W / IG_TN), ceil(C_in / IG_TM), N). */
__kernel void conv_bwd_data_ig(__global float *din, const ulong din_off, IG_SRC dout,
                               const ulong dout_off, IG_SRC w, const ulong w_off,
                               const int c_in, const int h, const int wd, const int c_out,
                               const int ho, const int wo, const int c0, const int cn, const int accumulate)
{
    const int plane = h * wd, m = c_in, n = plane;
    const int j0 = (int)get_global_id(0) * IG_TN, i0 = (int)get_global_id(1) * IG_TM;
    const size_t s = get_global_id(2);
    if (j0 >= n || i0 >= m)
        return;
    /* per column: the input position plus PAD (o * STRIDE = y + PAD - kh) */
#define IG_BCOL(u)                                                                        \
    const int p##u = min(j0 + u, n - 1);                                                  \
    const int y##u = p##u / wd + PAD, x##u = p##u % wd + PAD;
    IG_L16(IG_BCOL)
#define IG_BROW(t) const size_t w##t = w_off + (size_t)min(i0 + t, m - 1) * (KH * KW);
    IG_L16(IG_BROW)
    IG_TILE(IG_ACC)
    const size_t wstride = (size_t)c_in * KH * KW;
    const size_t g = dout_off + s * (size_t)c_out * ho * wo;
    for (int co = c0; co < c0 + cn; co++) {
        const size_t gc = g + (size_t)co * ho * wo;
        const size_t wo_off = (size_t)co * wstride;
        for (int kh = 0; kh < KH; kh++)
            for (int kw = 0; kw < KW; kw++) {
#define IG_BB(u)                                                                          \
    const int ty##u = y##u - kh, tx##u = x##u - kw;                                       \
    const int oy##u = ty##u / STRIDE, ox##u = tx##u / STRIDE;                             \
    const float v##u = IG_LOAD(dout, gc + clamp(oy##u, 0, ho - 1) * wo + clamp(ox##u, 0, wo - 1)); \
    const float b##u = (ty##u >= 0 && tx##u >= 0 && oy##u * STRIDE == ty##u &&            \
                        ox##u * STRIDE == tx##u && oy##u < ho && ox##u < wo) ? v##u : 0.0f;
                IG_L16(IG_BB)
#define IG_BA(t) const float a##t = IG_LOAD(w, w##t + wo_off + kh * KW + kw);
                IG_L16(IG_BA)
                IG_TILE(IG_MAD)
            }
    }
    __global float *o = din + din_off + s * (size_t)c_in * plane;
    IG_TILE(IG_STORE)
}

/* dw (C_out, C_in*KH*KW) += the weight gradient of samples [0, sn) of dout
 * (N, C_out, HO, WO) and in (N, C_in, H, W) (the host offsets both to its
 * first sample), over output rows [y0, y0 + yn) of each: output channels
 * are the tile rows, weight columns r = (c, kh, kw) its columns.
 * global (ceil(C_in*KH*KW / IG_TN), ceil(C_out / IG_TM)). */
__kernel void conv_bwd_weight_ig(__global float *dw, const ulong dw_off, IG_SRC dout,
                                 const ulong dout_off, IG_SRC in, const ulong in_off,
                                 const int c_in, const int h, const int wd, const int c_out,
                                 const int ho, const int wo, const int sn, const int y0, const int yn)
{
    const int m = c_out, n = c_in * KH * KW, plane = n;
    const int j0 = (int)get_global_id(0) * IG_TN, i0 = (int)get_global_id(1) * IG_TM;
    if (j0 >= n || i0 >= m)
        return;
    /* per column: its input channel's plane and tap */
#define IG_WCOL(u)                                                                        \
    const int r##u = min(j0 + u, n - 1);                                                  \
    const size_t c##u = (size_t)(r##u / (KH * KW)) * h * wd;                              \
    const int kh##u = (r##u / KW) % KH - PAD, kw##u = r##u % KW - PAD;
    IG_L16(IG_WCOL)
    const size_t gplane = (size_t)ho * wo;
#define IG_WROW(t) const size_t g##t = (size_t)min(i0 + t, m - 1) * gplane;
    IG_L16(IG_WROW)
    IG_TILE(IG_ACC)
    for (int s = 0; s < sn; s++) {
        const size_t gs = dout_off + (size_t)s * c_out * gplane;
        const size_t xs = in_off + (size_t)s * c_in * h * wd;
        for (int oh = y0; oh < y0 + yn; oh++)
            for (int ow = 0; ow < wo; ow++) {
                const int p = oh * wo + ow, iy = oh * STRIDE, ix = ow * STRIDE;
#define IG_WB(u)                                                                          \
    const int iy##u = iy + kh##u, ix##u = ix + kw##u;                                     \
    const float v##u = IG_LOAD(in, xs + c##u + clamp(iy##u, 0, h - 1) * wd + clamp(ix##u, 0, wd - 1)); \
    const float b##u = (iy##u >= 0 && iy##u < h && ix##u >= 0 && ix##u < wd) ? v##u : 0.0f;
                IG_L16(IG_WB)
#define IG_WA(t) const float a##t = IG_LOAD(dout, gs + g##t + p);
                IG_L16(IG_WA)
                IG_TILE(IG_MAD)
            }
    }
    __global float *o = dw + dw_off;
    const int accumulate = 1;
    IG_TILE(IG_STORE)
}
