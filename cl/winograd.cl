/* Winograd F(2x2, 3x3) for 3x3 stride-1 pad-1 convolutions, groups 1 (host
 * code: src/ops/conv.c, winograd_conv). With T tiles of 2x2 outputs
 * (T = samples * TH * TW, tile t = (s, ty, tx)):
 *   U (16, O, I)  = G g G^T       per (output, input) channel pair;
 *   V (16, I, T)  = B^T d B       per input channel and tile (d: its 4x4 window);
 *   M (16, O, T)  = U_xi * V_xi   16 GEMMs (the register tile of tile.clh);
 *   out           = A^T M A       per output channel and tile, then bias,
 *                                 residual and ReLU (the fused epilogue).
 * G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], B^T = [1 0 -1 0; 0 1 1 0;
 * 0 -1 1 0; 0 1 0 -1], A^T = [1 1 1 0; 0 1 -1 -1]; xi = 4 * row + column of
 * the transformed 4x4 tile. Offsets are in elements; one work-item per
 * (channel, tile) with consecutive items on consecutive tiles, no local
 * memory, no barriers. */

#include "tile.clh"

/* The transforms' arithmetic on a column or row x0..x3 of a 4x4 tile,
 * shared by the scalar kernels and their float16 forms (the same floats):
 * B^T x (four values, an initialiser) and A^T x (two) */
#define WINO_BT(x0, x1, x2, x3) {(x0) - (x2), (x1) + (x2), (x2) - (x1), (x1) - (x3)}
#define WINO_AT0(x0, x1, x2, x3) ((x0) + (x1) + (x2))
#define WINO_AT1(x0, x1, x2, x3) ((x1) - (x2) - (x3))

/* v (+ res) then ReLU when relu (NaN passes, as relu_forward) */
inline float epilogue(float v, __global const float *res, size_t at, int has_res, int relu)
{
    if (has_res)
        v += res[at];
    return relu ? (isnan(v) ? v : (v > 0.0f ? v : 0.0f)) : v;
}

/* U (16, O, I) from the weight; flip = 0: w (O, I, 3, 3), the forward
 * conv; flip = 1: w (I, O, 3, 3) rotated by 180 degrees, the conv that
 * gives the data gradient (O = the weight's input channels). */
__kernel void wino_weight(__global float *u, const ulong u_off, __global const float *w,
                          const ulong w_off, const int o_ch, const int i_ch, const int flip)
{
    const int gid = (int)get_global_id(0);
    if (gid >= o_ch * i_ch)
        return;
    const int o = gid / i_ch, i = gid - o * i_ch;
    float g[3][3];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            g[r][c] = flip ? w[w_off + ((size_t)i * o_ch + o) * 9 + (2 - r) * 3 + (2 - c)]
                           : w[w_off + ((size_t)o * i_ch + i) * 9 + r * 3 + c];
    float t[4][3]; /* G g */
    for (int c = 0; c < 3; c++) {
        t[0][c] = g[0][c];
        t[1][c] = 0.5f * (g[0][c] + g[1][c] + g[2][c]);
        t[2][c] = 0.5f * (g[0][c] - g[1][c] + g[2][c]);
        t[3][c] = g[2][c];
    }
    const size_t plane = (size_t)o_ch * i_ch;
    __global float *dst = u + u_off + gid;
    for (int r = 0; r < 4; r++) {
        dst[(r * 4 + 0) * plane] = t[r][0];
        dst[(r * 4 + 1) * plane] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
        dst[(r * 4 + 2) * plane] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
        dst[(r * 4 + 3) * plane] = t[r][2];
    }
}

/* V (16, C, T) from in (samples, C, H, W) with pad 1: T = samples * th * tw
 * tiles, th = ceil(H / 2), tw = ceil(W / 2) (the output is H x W). */
__kernel void wino_input(__global float *v, const ulong v_off, __global const float *in,
                         const ulong in_off, const int c, const int h, const int w, const int th,
                         const int tw, const int tiles)
{
    const int gid = (int)get_global_id(0);
    if (gid >= c * tiles)
        return;
    const int ci = gid / tiles, t = gid - ci * tiles;
    const int per = th * tw, s = t / per, r = t - s * per;
    const int ty = r / tw, tx = r - ty * tw;
    __global const float *x = in + in_off + ((size_t)s * c + ci) * h * w;
    const int y0 = 2 * ty - 1, x0 = 2 * tx - 1;
    float d[4][4];
    for (int a = 0; a < 4; a++) {
        const int yy = y0 + a;
        const bool row_ok = yy >= 0 && yy < h;
        for (int b = 0; b < 4; b++) {
            const int xx = x0 + b;
            d[a][b] = row_ok && xx >= 0 && xx < w ? x[yy * w + xx] : 0.0f;
        }
    }
    float q[4][4]; /* B^T d, by columns */
    for (int b = 0; b < 4; b++) {
        const float col[4] = WINO_BT(d[0][b], d[1][b], d[2][b], d[3][b]);
        for (int a = 0; a < 4; a++)
            q[a][b] = col[a];
    }
    const size_t plane = (size_t)c * tiles;
    __global float *dst = v + v_off + (size_t)ci * tiles + t;
    for (int a = 0; a < 4; a++) {
        const float r[4] = WINO_BT(q[a][0], q[a][1], q[a][2], q[a][3]);
        for (int b = 0; b < 4; b++)
            dst[(a * 4 + b) * plane] = r[b];
    }
}

/* out (samples, O, H, W) = A^T M A (+ bias) (+ res) (then ReLU), M (16, O, T);
 * res may be out itself (accumulation: each element is read and written by
 * the same work-item). */
__kernel void wino_output(__global float *out, const ulong out_off, __global const float *m,
                          const ulong m_off, __global const float *bias, const ulong bias_off,
                          __global const float *res, const ulong res_off, const int o_ch, const int h,
                          const int w, const int th, const int tw, const int tiles, const int has_bias,
                          const int has_res, const int relu)
{
    const int gid = (int)get_global_id(0);
    if (gid >= o_ch * tiles)
        return;
    const int o = gid / tiles, t = gid - o * tiles;
    const int per = th * tw, s = t / per, r = t - s * per;
    const int ty = r / tw, tx = r - ty * tw;
    const size_t plane = (size_t)o_ch * tiles;
    __global const float *src = m + m_off + (size_t)o * tiles + t;
    float q[2][4]; /* A^T M */
    for (int b = 0; b < 4; b++) {
        const float m0 = src[(0 * 4 + b) * plane], m1 = src[(1 * 4 + b) * plane];
        const float m2 = src[(2 * 4 + b) * plane], m3 = src[(3 * 4 + b) * plane];
        q[0][b] = WINO_AT0(m0, m1, m2, m3);
        q[1][b] = WINO_AT1(m0, m1, m2, m3);
    }
    const float bv = has_bias ? bias[bias_off + o] : 0.0f;
    const size_t base = ((size_t)s * o_ch + o) * h * w;
    for (int a = 0; a < 2; a++) {
        const int yy = 2 * ty + a;
        if (yy >= h)
            break;
        const float y[2] = {WINO_AT0(q[a][0], q[a][1], q[a][2], q[a][3]),
                            WINO_AT1(q[a][0], q[a][1], q[a][2], q[a][3])};
        for (int b = 0; b < 2; b++) {
            const int xx = 2 * tx + b;
            if (xx >= w)
                break;
            const size_t at = base + (size_t)yy * w + xx;
            out[out_off + at] = epilogue(y[b] + bv, res + res_off, at, has_res, relu);
        }
    }
}

/* The transforms with explicit float16 vectors for the CPU devices of the
 * own GEMMs (PoCL does not vectorise wino_input / wino_output across
 * work-items; they took two thirds of a Winograd conv): lane l of a vector
 * is tile tx0 + l of a tile row, so V and M are read and written as whole
 * vectors along T. One work-item per (channel, sample) of the chunk walks
 * that plane's tile rows in segments of 16 tiles. The arithmetic is that
 * of wino_input / wino_output in the same order: the same floats. */

/* float16 of the 32 floats at x + i0 .. i0 + 31 of a row of w floats,
 * zero outside [0, w): even (x[i0 + 2l]) and odd (x[i0 + 2l + 1]) lanes */
inline void wino_row32(__global const float *x, int i0, int w, float16 *even, float16 *odd)
{
    float16 lo, hi;
    if (i0 >= 0 && i0 + 32 <= w) {
        lo = vload16(0, x + i0);
        hi = vload16(1, x + i0);
    } else {
        float tmp[32];
        for (int q = 0; q < 32; q++)
            tmp[q] = i0 + q >= 0 && i0 + q < w ? x[i0 + q] : 0.0f;
        lo = vload16(0, tmp);
        hi = vload16(1, tmp);
    }
    const uint16 ev = (uint16)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    *even = shuffle2(lo, hi, ev);
    *odd = shuffle2(lo, hi, ev + (uint16)(1));
}

/* As wino_input; global (C, samples) */
__kernel void wino_input16(__global float *v, const ulong v_off, __global const float *in,
                           const ulong in_off, const int c, const int h, const int w, const int th,
                           const int tw, const int tiles)
{
    const int ci = (int)get_global_id(0), s = (int)get_global_id(1);
    if (ci >= c)
        return;
    __global const float *x = in + in_off + ((size_t)s * c + ci) * h * w;
    const size_t plane = (size_t)c * tiles;
    for (int ty = 0; ty < th; ty++)
        for (int tx0 = 0; tx0 < tw; tx0 += 16) {
            float16 d[4][4];
            for (int a = 0; a < 4; a++) {
                const int yy = 2 * ty - 1 + a;
                if (yy < 0 || yy >= h) {
                    d[a][0] = d[a][1] = d[a][2] = d[a][3] = (float16)(0.0f);
                    continue;
                }
                __global const float *row = x + (size_t)yy * w;
                /* columns 2 tx - 1 + b for the 16 tiles tx = tx0 + l */
                float16 e, o;
                wino_row32(row, 2 * tx0, w, &e, &o);
                const int xl = 2 * tx0 - 1, xr = 2 * tx0 + 32;
                const float left = xl >= 0 && xl < w ? row[xl] : 0.0f;
                const float right = xr < w ? row[xr] : 0.0f;
                d[a][0] = shuffle2((float16)(left), o,
                                   (uint16)(0, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30));
                d[a][1] = e;
                d[a][2] = o;
                d[a][3] = shuffle2(e, (float16)(right),
                                   (uint16)(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16));
            }
            float16 q[4][4]; /* B^T d, by columns */
            for (int b = 0; b < 4; b++) {
                const float16 col[4] = WINO_BT(d[0][b], d[1][b], d[2][b], d[3][b]);
                for (int a = 0; a < 4; a++)
                    q[a][b] = col[a];
            }
            const int lanes = min(16, tw - tx0);
            __global float *dst = v + v_off + (size_t)ci * tiles + ((size_t)s * th + ty) * tw + tx0;
            for (int a = 0; a < 4; a++) {
                const float16 r[4] = WINO_BT(q[a][0], q[a][1], q[a][2], q[a][3]);
                for (int b = 0; b < 4; b++) {
                    __global float *p = dst + (a * 4 + b) * plane;
                    if (lanes == 16) {
                        vstore16(r[b], 0, p);
                    } else {
                        float tmp[16];
                        vstore16(r[b], 0, tmp);
                        for (int l = 0; l < lanes; l++)
                            p[l] = tmp[l];
                    }
                }
            }
        }
}

/* As wino_output; global (O, samples) */
__kernel void wino_output16(__global float *out, const ulong out_off, __global const float *m,
                            const ulong m_off, __global const float *bias, const ulong bias_off,
                            __global const float *res, const ulong res_off, const int o_ch, const int h,
                            const int w, const int th, const int tw, const int tiles, const int has_bias,
                            const int has_res, const int relu)
{
    const int o = (int)get_global_id(0), s = (int)get_global_id(1);
    if (o >= o_ch)
        return;
    const size_t plane = (size_t)o_ch * tiles;
    const float bv = has_bias ? bias[bias_off + o] : 0.0f;
    const size_t base = ((size_t)s * o_ch + o) * h * w;
    const uint16 lo_mix = (uint16)(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const uint16 hi_mix = lo_mix + (uint16)(8);
    for (int ty = 0; ty < th; ty++)
        for (int tx0 = 0; tx0 < tw; tx0 += 16) {
            const int lanes = min(16, tw - tx0);
            __global const float *src = m + m_off + (size_t)o * tiles + ((size_t)s * th + ty) * tw + tx0;
            float16 mv[16];
            for (int xi = 0; xi < 16; xi++) {
                __global const float *p = src + xi * plane;
                if (lanes == 16) {
                    mv[xi] = vload16(0, p);
                } else {
                    float tmp[16];
                    for (int l = 0; l < 16; l++)
                        tmp[l] = l < lanes ? p[l] : 0.0f;
                    mv[xi] = vload16(0, tmp);
                }
            }
            float16 q[2][4]; /* A^T M */
            for (int b = 0; b < 4; b++) {
                q[0][b] = WINO_AT0(mv[0 * 4 + b], mv[1 * 4 + b], mv[2 * 4 + b], mv[3 * 4 + b]);
                q[1][b] = WINO_AT1(mv[0 * 4 + b], mv[1 * 4 + b], mv[2 * 4 + b], mv[3 * 4 + b]);
            }
            for (int a = 0; a < 2; a++) {
                const int yy = 2 * ty + a;
                if (yy >= h)
                    break;
                const float16 y0 = WINO_AT0(q[a][0], q[a][1], q[a][2], q[a][3]);
                const float16 y1 = WINO_AT1(q[a][0], q[a][1], q[a][2], q[a][3]);
                /* columns 2 tx0 .. 2 tx0 + 31 of the output row */
                float16 pair[2] = {shuffle2(y0, y1, lo_mix), shuffle2(y0, y1, hi_mix)};
                const size_t at = base + (size_t)yy * w + 2 * tx0;
                const int cols = min(32, w - 2 * tx0);
                for (int k = 0; k < 2; k++) {
                    float16 r = pair[k] + (float16)(bv);
                    __global float *dst = out + out_off + at + 16 * k;
                    const int n = min(16, cols - 16 * k);
                    if (n <= 0)
                        break;
                    if (n == 16) {
                        if (has_res)
                            r += vload16(0, res + res_off + at + 16 * k);
                        if (relu)
                            r = select((float16)(0.0f), r, isnan(r) | (r > (float16)(0.0f)));
                        vstore16(r, 0, dst);
                    } else {
                        float tmp[16];
                        vstore16(r, 0, tmp);
                        for (int l = 0; l < n; l++)
                            dst[l] = epilogue(tmp[l], res + res_off, at + 16 * k + l, has_res, relu);
                    }
                }
            }
        }
}

/* The epilogue of the other conv paths: out (N, C, P) = out (+ bias (C))
 * (+ res) (then ReLU), one work-item per element. */
__kernel void conv_epilogue(__global float *out, const ulong out_off, __global const float *bias,
                            const ulong bias_off, __global const float *res, const ulong res_off,
                            const int c, const int p, const ulong count, const int has_bias,
                            const int has_res, const int relu)
{
    const size_t i = get_global_id(0);
    if (i >= count)
        return;
    const float bv = has_bias ? bias[bias_off + (i / (size_t)p) % (size_t)c] : 0.0f;
    out[out_off + i] = epilogue(out[out_off + i] + bv, res + res_off, i, has_res, relu);
}

/* M_xi (O, T) = U_xi (O, I) * V_xi (I, T) for the 16 xi in one launch:
 * gemm_nn16's register tile (tile.clh) with a per-xi weight plane; global
 * (ceil(T / TILE_TN), ceil(O / TILE_TM), 16). The last column tile reads
 * whole vectors only when they lie inside V (v_len: the end of V in
 * elements; M follows it in the same buffer). */
__kernel void wino_gemm(__global float *m, const ulong m_off, __global const float *u,
                        const ulong u_off, __global const float *v, const ulong v_off,
                        const int o_ch, const int tiles, const int i_ch, const ulong v_len)
{
    const int j = (int)get_global_id(0) * TILE_TN, i0 = (int)get_global_id(1) * TILE_TM;
    const size_t xi = get_global_id(2);
    if (j >= tiles || i0 >= o_ch)
        return;
    const size_t b0 = v_off + xi * (size_t)i_ch * tiles + j;
    __global const float *bb = v + b0;
    __global const float *aa = u + u_off + xi * (size_t)o_ch * i_ch;
    int arow[TILE_TM];
    TILE_UNROLL for (int t = 0; t < TILE_TM; t++)
        arow[t] = min(i0 + t, o_ch - 1) * i_ch;
    float16 acc[TILE_TM][TILE_NV], bv[TILE_NV];
    TILE_ZERO(acc);
    const int cols = min(TILE_TN, tiles - j);
#define WG_ROW(p) (bb + (size_t)(p) * tiles)
#define WG_A(t, p) aa[arow[t] + (p)]
    TILE_SUM(acc, bv, i_ch, WG_ROW, WG_A, cols == TILE_TN || b0 + (size_t)(i_ch - 1) * tiles + TILE_TN <= v_len,
             cols);
    __global float *cc = m + m_off + xi * (size_t)o_ch * tiles + (size_t)i0 * tiles + j;
    TILE_STORE(acc, cc, tiles, min(TILE_TM, o_ch - i0), cols, 0);
}
