/* Convolution (groups == 1) on four-channel texels, for the devices whose
 * implicit GEMMs read through images (src/ops/conv_t4.c): the image is
 * first packed channels-last with its zero border, the weights into
 * texels of four output channels (t4_pack, one launch), and conv_fwd_t4
 * then reads both through CL_RGBA float 1D image views: four floats per
 * read, no bounds checks in its loops.
 *
 * Written for Mesa's llvmpipe, where a work-item is one SIMD lane, a
 * buffer load is a loop over the lanes and a texel fetch is not; a
 * CL_RGBA read costs about a third of a CL_R read per float there
 * (tests/bench_loads.c). Each work-item holds T4_TP output pixels by
 * T4_TC output channels (8 x 8: 64 accumulators, 16 reads per 256
 * multiply-adds). The data gradient is this forward on the output
 * gradient, packed with border KH - 1 - PAD (and STRIDE - 1 zeros between
 * its pixels), and the weights flipped and transposed (t4_weight_texel's
 * flip).
 *
 * -D values KH, KW, STRIDE (conv.clh) and EPILOGUE (conv_fwd_t4's bits,
 * below: fixed at build time, for llvmpipe runs every branch a work-item
 * might take, and launches a larger program more slowly). Offsets of the
 * buffers are in floats, of the image views in texels. */

#include "conv.clh"

#ifndef EPILOGUE
#define EPILOGUE 0
#endif

#define T4_TP 8
#define T4_TC 8 /* two texels */

/* Texel i of the packed weights, (taps, C4, 4, CO4) texels of four
 * output channels: texel ((t * C4 + g) * 4 + q) * CO4 + o holds the
 * weights of input channel g*4 + q, tap t, to output channels o*4 ..
 * o*4 + 3 (zero past c_in and c_out). w is (c_out, c_in, taps), or with
 * flip (c_in, c_out, taps) read at tap taps - 1 - t: the data gradient's
 * conv. */
inline void t4_weight_texel(__global float *dst, const int i, __global const float *w, const int c_out,
                            const int c_in, const int c4, const int co4, const int flip, const int taps)
{
    const int o = i % co4, q = (i / co4) % 4, g = (i / co4 / 4) % c4, t = i / co4 / 4 / c4;
    const int ci = g * 4 + q, co = o * 4;
    const size_t at = flip ? ((size_t)ci * c_out + co) * taps + (taps - 1 - t) : ((size_t)co * c_in + ci) * taps + t;
    const size_t next = flip ? taps : (size_t)c_in * taps; /* to output channel co + 1 */
    const bool in = ci < c_in;
    vstore4((float4)(in && co < c_out ? w[at] : 0.0f, in && co + 1 < c_out ? w[at + next] : 0.0f,
                     in && co + 2 < c_out ? w[at + 2 * next] : 0.0f, in && co + 3 < c_out ? w[at + 3 * next] : 0.0f),
            i, dst);
}

/* dst (N, HP, WP, C4) texels of four channels = src (N, C, H, W) at
 * ((y - pad) >> shift, (x - pad) >> shift) where 1 << shift divides both
 * (zeros between the pixels: the data gradient of a strided conv), zero
 * outside src and past channel C; one pixel's texels per work-item.
 * global (WP, HP, N + extra): no divisions (llvmpipe does a vector's
 * integer divisions one lane at a time), and few work-groups (each costs
 * llvmpipe a call). The work-items of the `extra` planes past N pack the
 * weights in the same launch (launches cost rusticl 0.4 ms each): the
 * wtotal texels of t4_weight_texel at wdst_off (none when wtotal is 0).
 * t4_pack_image reads src through a CL_R view (src_off then in texels). */
#define T4_PACK_BODY(LOAD)                                                                         \
    const int xp = get_global_id(0), yp = get_global_id(1), s = get_global_id(2);                  \
    if (s >= n) {                                                                                  \
        const int i = ((s - n) * (int)get_global_size(1) + yp) * (int)get_global_size(0) + xp;    \
        if (i < wtotal)                                                                            \
            t4_weight_texel(dst + wdst_off, i, wsrc + wsrc_off, wc_out, wc_in, wc4, wco4, flip, taps); \
        return;                                                                                    \
    }                                                                                              \
    if (xp >= wp)                                                                                  \
        return;                                                                                    \
    const int xd = max(xp - pad, 0), yd = max(yp - pad, 0), x = xd >> shift, y = yd >> shift;      \
    const bool inside = xp >= pad && yp >= pad && (x << shift) == xd && (y << shift) == yd && y < h && x < w; \
    const size_t plane = (size_t)h * w;                                                            \
    const size_t b = src_off + (size_t)s * c * plane + (size_t)min(y, h - 1) * w + min(x, w - 1);   \
    __global float *o = dst + dst_off + (((size_t)s * hp + yp) * wp + xp) * c4 * 4;                \
    for (int g = 0; g < c4; g++) {                                                                 \
        const int c0 = g * 4;                                                                      \
        const float v0 = LOAD(b + (size_t)min(c0, c - 1) * plane);                                 \
        const float v1 = LOAD(b + (size_t)min(c0 + 1, c - 1) * plane);                             \
        const float v2 = LOAD(b + (size_t)min(c0 + 2, c - 1) * plane);                             \
        const float v3 = LOAD(b + (size_t)min(c0 + 3, c - 1) * plane);                             \
        vstore4((float4)(inside && c0 < c ? v0 : 0.0f, inside && c0 + 1 < c ? v1 : 0.0f,           \
                         inside && c0 + 2 < c ? v2 : 0.0f, inside && c0 + 3 < c ? v3 : 0.0f), g, o);  \
    }

#define T4_WEIGHT_ARGS                                                                             \
    const ulong wdst_off, __global const float *wsrc, const ulong wsrc_off, const int wc_out, const int wc_in, \
        const int wc4, const int wco4, const int flip, const int taps, const int wtotal

__kernel void t4_pack(__global float *dst, const ulong dst_off, __global const float *src, const ulong src_off,
                      const int n, const int c, const int h, const int w, const int pad, const int shift,
                      const int hp, const int wp, const int c4, T4_WEIGHT_ARGS)
{
#define T4_BUFFER_LOAD(i) src[i]
    T4_PACK_BODY(T4_BUFFER_LOAD)
}

__kernel void t4_pack_image(__global float *dst, const ulong dst_off, __read_only image1d_buffer_t src,
                            const ulong src_off, const int n, const int c, const int h, const int w, const int pad,
                            const int shift, const int hp, const int wp, const int c4, T4_WEIGHT_ARGS)
{
#define T4_IMAGE_LOAD(i) read_imagef(src, (int)(i)).x
    T4_PACK_BODY(T4_IMAGE_LOAD)
}

#define T4_P8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define T4_ACC(u) float4 a##u##_0 = (float4)(0.0f), a##u##_1 = (float4)(0.0f);
#define T4_MAD(u)                                                                                  \
    a##u##_0 += x##u.x * w0_0 + x##u.y * w1_0 + x##u.z * w2_0 + x##u.w * w3_0;                     \
    a##u##_1 += x##u.x * w0_1 + x##u.y * w1_1 + x##u.z * w2_1 + x##u.w * w3_1;
#define T4_STORE1(u, o, j, f)                                                                      \
    if ((o0 + o) * 4 + j < c_out) {                                                                \
        const size_t at = (size_t)((o0 + o) * 4 + j) * n + j0 + u;                                 \
        float v = a##u##_##o.f;                                                                    \
        if (EPILOGUE & T4_BIAS)                                                                    \
            v += bias[bias_off + (o0 + o) * 4 + j];                                                \
        if (EPILOGUE & T4_ACCUMULATE)                                                              \
            v += ob[at];                                                                           \
        if (EPILOGUE & T4_RES)                                                                     \
            v += rb[at];                                                                           \
        if ((EPILOGUE & T4_RELU) && !isnan(v))                                                     \
            v = v > 0.0f ? v : 0.0f;                                                               \
        ob[at] = v;                                                                                \
    }
#define T4_STORE(u) T4_STORE_IF(u, j0 + u < n)
#define T4_STORE_IF(u, valid)                                                                      \
    if (valid) {                                                                                   \
        T4_STORE1(u, 0, 0, x) T4_STORE1(u, 0, 1, y) T4_STORE1(u, 0, 2, z) T4_STORE1(u, 0, 3, w)     \
        T4_STORE1(u, 1, 0, x) T4_STORE1(u, 1, 1, y) T4_STORE1(u, 1, 2, z) T4_STORE1(u, 1, 3, w)     \
    }

/* the bits of conv_fwd_t4's epilogue (-D EPILOGUE), in the order they apply */
#define T4_BIAS 1       /* + bias[channel] */
#define T4_ACCUMULATE 2 /* + out (the data gradient's +=) */
#define T4_RES 4        /* + res, same layout as out */
#define T4_RELU 8       /* then ReLU (NaN passes, as relu_forward) */

/* out (N, c_out, HO, WO) = the conv of the packed image `in` (N, HP, WP,
 * C4 texels from texel in_off) with the packed weights `w` (from texel
 * w_off; CO4 a multiple of two), then the epilogue's bits. Output pixels
 * (flattened HO*WO) by T4_TP, output channels by T4_TC; bias and res
 * are read only where EPILOGUE names them.
 * global (ceil(HO*WO / T4_TP), CO4 / 2, N). */
__kernel void conv_fwd_t4(__global float *out, const ulong out_off, __read_only image1d_buffer_t in,
                          const int in_off, __read_only image1d_buffer_t w, const int w_off, const int c4,
                          const int hp, const int wp, const int c_out, const int ho, const int wo, const int co4,
                          __global const float *bias, const ulong bias_off, __global const float *res,
                          const ulong res_off)
{
    const int n = ho * wo;
    const int j0 = (int)get_global_id(0) * T4_TP, o0 = (int)get_global_id(1) * 2, s = (int)get_global_id(2);
    if (j0 >= n)
        return;
    /* per pixel: its window's first texel */
#define T4_BASE(u)                                                                                 \
    const int p##u = min(j0 + u, n - 1);                                                           \
    const int b##u = in_off + ((s * hp + (p##u / wo) * STRIDE) * wp + (p##u % wo) * STRIDE) * c4;
    T4_P8(T4_BASE)
    T4_P8(T4_ACC)
    for (int kh = 0; kh < KH; kh++)
        for (int kw = 0; kw < KW; kw++) {
            const int tap = (kh * wp + kw) * c4, wt = w_off + (kh * KW + kw) * c4 * 4 * co4 + o0;
            for (int g = 0; g < c4; g++) {
#define T4_X(u) const float4 x##u = read_imagef(in, b##u + tap + g);
                T4_P8(T4_X)
                const int wb = wt + g * 4 * co4;
                const float4 w0_0 = read_imagef(w, wb), w0_1 = read_imagef(w, wb + 1);
                const float4 w1_0 = read_imagef(w, wb + co4), w1_1 = read_imagef(w, wb + co4 + 1);
                const float4 w2_0 = read_imagef(w, wb + 2 * co4), w2_1 = read_imagef(w, wb + 2 * co4 + 1);
                const float4 w3_0 = read_imagef(w, wb + 3 * co4), w3_1 = read_imagef(w, wb + 3 * co4 + 1);
                T4_P8(T4_MAD)
            }
        }
    __global float *ob = out + out_off + (size_t)s * c_out * n;
    __global const float *rb = res + res_off + (size_t)s * c_out * n;
    T4_P8(T4_STORE)
}

/* conv_fwd_t4 for stride 1 and KW == 3, its T4_TP pixels consecutive in
 * one output row (rows by ceil(WO / T4_TP) tiles): the three taps of a
 * kernel row share T4_TP + 2 texels of the image, 10 reads where
 * conv_fwd_t4 makes 24 (llvmpipe: 15-25% faster), the last ones clamped
 * to the row. The products are conv_fwd_t4's, summed in the order (kh,
 * channel texel, kw).
 * global (ceil(WO / T4_TP) * HO, CO4 / 2, N). */
#define T4_X10(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9)
#define T4_ROW_X(j) const float4 r##j = read_imagef(in, rb + min(x0 + j, wp - 1) * c4 + g);
/* pixel u at tap kw reads texel u + kw */
#define T4_ADD(u, kw) T4_ADD_##kw(u)
#define T4_ADD_0(u) u
#define T4_ADD_1(u) T4_INC(u)
#define T4_ADD_2(u) T4_INC(T4_INC(u))
#define T4_INC(u) T4_INC_(u)
#define T4_INC_(u) T4_INC_##u
#define T4_INC_0 1
#define T4_INC_1 2
#define T4_INC_2 3
#define T4_INC_3 4
#define T4_INC_4 5
#define T4_INC_5 6
#define T4_INC_6 7
#define T4_INC_7 8
#define T4_INC_8 9
#define T4_ROW_MAD(u, j) T4_ROW_MAD_(u, j)
#define T4_ROW_MAD_(u, j)                                                                          \
    a##u##_0 += r##j.x * w0_0 + r##j.y * w1_0 + r##j.z * w2_0 + r##j.w * w3_0;                     \
    a##u##_1 += r##j.x * w0_1 + r##j.y * w1_1 + r##j.z * w2_1 + r##j.w * w3_1;
#define T4_ROW_TAP1(u, kw) T4_ROW_MAD(u, T4_ADD(u, kw))
#define T4_ROW_TAP(kw)                                                                             \
    {                                                                                              \
        const int wb = w_off + ((kh * KW + kw) * c4 + g) * 4 * co4 + o0;                           \
        const float4 w0_0 = read_imagef(w, wb), w0_1 = read_imagef(w, wb + 1);                     \
        const float4 w1_0 = read_imagef(w, wb + co4), w1_1 = read_imagef(w, wb + co4 + 1);         \
        const float4 w2_0 = read_imagef(w, wb + 2 * co4), w2_1 = read_imagef(w, wb + 2 * co4 + 1); \
        const float4 w3_0 = read_imagef(w, wb + 3 * co4), w3_1 = read_imagef(w, wb + 3 * co4 + 1); \
        T4_ROW_TAP1(0, kw) T4_ROW_TAP1(1, kw) T4_ROW_TAP1(2, kw) T4_ROW_TAP1(3, kw)                \
        T4_ROW_TAP1(4, kw) T4_ROW_TAP1(5, kw) T4_ROW_TAP1(6, kw) T4_ROW_TAP1(7, kw)                \
    }

__kernel void conv_fwd_t4_row(__global float *out, const ulong out_off, __read_only image1d_buffer_t in,
                              const int in_off, __read_only image1d_buffer_t w, const int w_off, const int c4,
                              const int hp, const int wp, const int c_out, const int ho, const int wo,
                              const int co4, __global const float *bias, const ulong bias_off,
                              __global const float *res, const ulong res_off)
{
    const int n = ho * wo, per_row = (wo + T4_TP - 1) / T4_TP;
    const int t = (int)get_global_id(0), o0 = (int)get_global_id(1) * 2, s = (int)get_global_id(2);
    if (t >= per_row * ho)
        return;
    const int oy = t / per_row, x0 = (t % per_row) * T4_TP, j0 = oy * wo + x0;
    T4_P8(T4_ACC)
    for (int kh = 0; kh < KH; kh++) {
        const int rb = in_off + (s * hp + oy + kh) * wp * c4;
        for (int g = 0; g < c4; g++) {
            T4_X10(T4_ROW_X)
            T4_ROW_TAP(0) T4_ROW_TAP(1) T4_ROW_TAP(2)
        }
    }
    __global float *ob = out + out_off + (size_t)s * c_out * n;
    __global const float *rb = res + res_off + (size_t)s * c_out * n;
#define T4_ROW_STORE(u) T4_STORE_IF(u, x0 + u < wo)
    T4_P8(T4_ROW_STORE)
}

#define T4_Q8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define T4_WACC(q) float4 a##q##_0 = (float4)(0.0f), a##q##_1 = (float4)(0.0f);
#define T4_WMAD(q, v)                                                                              \
    a##q##_0 += v * g0;                                                                            \
    a##q##_1 += v * g1;
#define T4_WSTORE1(q, o, j, f)                                                                     \
    if ((go * 2 + o) * 4 + j < c_out && ci0 + q < c_in)                                            \
        pb[((size_t)((go * 2 + o) * 4 + j) * c_in + ci0 + q) * (KH * KW)] = a##q##_##o.f;
#define T4_WSTORE(q)                                                                               \
    T4_WSTORE1(q, 0, 0, x) T4_WSTORE1(q, 0, 1, y) T4_WSTORE1(q, 0, 2, z) T4_WSTORE1(q, 0, 3, w)     \
    T4_WSTORE1(q, 1, 0, x) T4_WSTORE1(q, 1, 1, y) T4_WSTORE1(q, 1, 2, z) T4_WSTORE1(q, 1, 3, w)

/* part (slices, c_out, c_in, KH*KW) = the weight gradient of each slice of
 * per_slice samples: the packed output gradient `g` (N, GHP, GWP, CO4
 * texels from texel g_off, output pixel (y, x) at (gb + y * gstep,
 * gb + x * gstep)) by the packed image `x` (N, HP, WP, C4 texels from
 * x_off, its border the conv's padding; C4 and CO4 even). A work-item
 * holds 8 input by 8 output channels of one tap and sums over the slice's
 * output pixels. global (items = CO4/2 * C4/2 * KH*KW, slices). */
__kernel void conv_wgrad_t4(__global float *part, const ulong part_off, __read_only image1d_buffer_t g,
                            const int g_off, const int ghp, const int gwp, const int gb, const int gstep,
                            __read_only image1d_buffer_t x, const int x_off, const int c4,
                            const int hp, const int wp, const int c_in, const int co4, const int ho, const int wo,
                            const int c_out, const int per_slice, const int n, const int items)
{
    const int i = get_global_id(0), sl = get_global_id(1);
    if (i >= items)
        return;
    const int t = i % (KH * KW), r = i / (KH * KW), gi = r % (c4 / 2), go = r / (c4 / 2);
    const int kh = t / KW, kw = t % KW, ci0 = gi * 8;
    const int s0 = sl * per_slice, s1 = min(s0 + per_slice, n);
    T4_Q8(T4_WACC)
    for (int s = s0; s < s1; s++)
        for (int oy = 0; oy < ho; oy++) {
            const int grow = g_off + ((s * ghp + gb + oy * gstep) * gwp + gb) * co4 + go * 2, gx = gstep * co4;
            const int xrow = x_off + ((s * hp + oy * STRIDE + kh) * wp + kw) * c4 + gi * 2;
            for (int ox = 0; ox < wo; ox++) {
                const float4 g0 = read_imagef(g, grow + ox * gx), g1 = read_imagef(g, grow + ox * gx + 1);
                const float4 x0 = read_imagef(x, xrow + ox * STRIDE * c4);
                const float4 x1 = read_imagef(x, xrow + ox * STRIDE * c4 + 1);
                T4_WMAD(0, x0.x) T4_WMAD(1, x0.y) T4_WMAD(2, x0.z) T4_WMAD(3, x0.w)
                T4_WMAD(4, x1.x) T4_WMAD(5, x1.y) T4_WMAD(6, x1.z) T4_WMAD(7, x1.w)
            }
        }
    __global float *pb = part + part_off + (size_t)sl * c_out * c_in * (KH * KW) + t;
    T4_Q8(T4_WSTORE)
}
