/* One-level 2D Haar DWT of logit rows viewed as H x W grids (row-major),
 * zero padding on an odd side, and the FiGKD detail loss (src/loss/dwt.c,
 * src/loss/figkd.c; docs/design.md, "FiGKD loss").
 *
 * Bands (N, 4, HH2, WH2) with HH2 = ceil(H/2), WH2 = ceil(W/2), in the order
 * LL, LH, HL, HH (pywt's cA, cH, cV, cD). On the 2x2 block [[a, b], [c, d]]
 * at rows 2i, 2i+1 and columns 2j, 2j+1 (positions outside the grid are 0):
 *   LL = (a+b+c+d)/2  LH = (a+b-c-d)/2  HL = (a-b+c-d)/2  HH = (a-b-c+d)/2
 * The 4x4 matrix is symmetric and its own inverse, so the inverse uses the
 * same formulas on (LL, LH, HL, HH) to give (a, b, c, d). */

#include "reduce.clh"

#define DWT_WG 64

static float4 haar4(float4 v)
{
    return 0.5f * (float4)(v.x + v.y + v.z + v.w, v.x + v.y - v.z - v.w,
                           v.x - v.y + v.z - v.w, v.x - v.y - v.z + v.w);
}

/* the 2x2 block (i, j) of row r of x, zero outside the H x W grid */
static float4 load_block(__global const float *r, int i, int j, int H, int W)
{
    int r0 = 2 * i, c0 = 2 * j;
    bool r1 = r0 + 1 < H, c1 = c0 + 1 < W;
    float a = r[r0 * W + c0];
    float b = c1 ? r[r0 * W + c0 + 1] : 0.0f;
    float c = r1 ? r[(r0 + 1) * W + c0] : 0.0f;
    float d = r1 && c1 ? r[(r0 + 1) * W + c0 + 1] : 0.0f;
    return (float4)(a, b, c, d);
}

/* global = N * HH2 * WH2: one 2x2 block per work-item */
__kernel void dwt_forward(__global float *bands, const ulong bands_off, __global const float *x,
                          const ulong x_off, const int N, const int H, const int W)
{
    const int hh = (H + 1) / 2, wh = (W + 1) / 2, nb = hh * wh;
    const size_t g = get_global_id(0);
    if (g >= (size_t)N * (size_t)nb)
        return;
    const int n = (int)(g / (size_t)nb), b = (int)(g % (size_t)nb), i = b / wh, j = b % wh;
    float4 v = haar4(load_block(x + x_off + (ulong)n * (ulong)(H * W), i, j, H, W));
    __global float *o = bands + bands_off + (ulong)n * 4 * (ulong)nb + (ulong)b;
    o[0] = v.x;
    o[nb] = v.y;
    o[2 * nb] = v.z;
    o[3 * nb] = v.w;
}

/* global = N * HH2 * WH2; bands whose bit (LL 1, LH 2, HL 4, HH 8) is not
 * in mask are taken as 0; writes (overwrites) the positions inside the grid */
__kernel void dwt_inverse(__global float *x, const ulong x_off, __global const float *bands,
                          const ulong bands_off, const int N, const int H, const int W,
                          const int mask)
{
    const int hh = (H + 1) / 2, wh = (W + 1) / 2, nb = hh * wh;
    const size_t g = get_global_id(0);
    if (g >= (size_t)N * (size_t)nb)
        return;
    const int n = (int)(g / (size_t)nb), b = (int)(g % (size_t)nb), i = b / wh, j = b % wh;
    __global const float *in = bands + bands_off + (ulong)n * 4 * (ulong)nb + (ulong)b;
    float4 v = (float4)((mask & 1) ? in[0] : 0.0f, (mask & 2) ? in[nb] : 0.0f,
                        (mask & 4) ? in[2 * nb] : 0.0f, (mask & 8) ? in[3 * nb] : 0.0f);
    v = haar4(v);
    __global float *r = x + x_off + (ulong)n * (ulong)(H * W);
    int r0 = 2 * i, c0 = 2 * j;
    bool r1 = r0 + 1 < H, c1 = c0 + 1 < W;
    r[r0 * W + c0] = v.x;
    if (c1)
        r[r0 * W + c0 + 1] = v.y;
    if (r1)
        r[(r0 + 1) * W + c0] = v.z;
    if (r1 && c1)
        r[(r0 + 1) * W + c0 + 1] = v.w;
}

/* FiGKD detail loss, one work-group of DWT_WG per sample (global = N * DWT_WG).
 * e = DWT(s) - DWT(t) = DWT(s - t) (the transform is linear). Over the bands
 * in mask: work[n] = sum e^2 (l1 == 0) or sum |e| (l1 != 0); the caller
 * divides by N * nbands * HH2 * WH2. Gradient: g = gscale * 2e (mse) or
 * gscale * sign(e) (l1, 0 at 0) on the chosen bands, 0 on the others, sent
 * back through the transpose of the DWT (the same Haar matrix) and ADDED to
 * ds inside the grid; gscale = weight / (N * nbands * HH2 * WH2). */
__kernel __attribute__((reqd_work_group_size(DWT_WG, 1, 1)))
void figkd_forward(__global const float *s, const ulong s_off, __global const float *t,
                   const ulong t_off, __global float *work, const ulong work_off,
                   __global float *ds, const ulong ds_off, const int has_grad, const int H,
                   const int W, const int mask, const int l1, const float gscale)
{
    __local float buf[DWT_WG];
    const int n = (int)get_group_id(0), l = (int)get_local_id(0);
    const int hh = (H + 1) / 2, wh = (W + 1) / 2, nb = hh * wh;
    const ulong row_off = (ulong)n * (ulong)(H * W);
    const float4 keep = (float4)((mask & 1) ? 1.0f : 0.0f, (mask & 2) ? 1.0f : 0.0f,
                                 (mask & 4) ? 1.0f : 0.0f, (mask & 8) ? 1.0f : 0.0f);
    float acc = 0.0f;
    for (int b = l; b < nb; b += DWT_WG) {
        const int i = b / wh, j = b % wh;
        float4 e = haar4(load_block(s + s_off + row_off, i, j, H, W) -
                         load_block(t + t_off + row_off, i, j, H, W));
        float4 a = l1 ? fabs(e) : e * e;
        acc += dot(a, keep);
        if (has_grad) {
            float4 g = keep * gscale * (l1 ? sign(e) : 2.0f * e);
            g = haar4(g);
            __global float *r = ds + ds_off + row_off;
            int r0 = 2 * i, c0 = 2 * j;
            bool r1 = r0 + 1 < H, c1 = c0 + 1 < W;
            r[r0 * W + c0] += g.x;
            if (c1)
                r[r0 * W + c0 + 1] += g.y;
            if (r1)
                r[(r0 + 1) * W + c0] += g.z;
            if (r1 && c1)
                r[(r0 + 1) * W + c0 + 1] += g.w;
        }
    }
    acc = wg_sum(buf, acc, DWT_WG);
    if (l == 0)
        work[work_off + (ulong)n] = acc;
}
