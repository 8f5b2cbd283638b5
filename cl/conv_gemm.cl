/* GEMM kernels of conv2d for CPU devices (host code: src/ops/conv.c), in a
 * program of their own so that the shape options of cl/conv.cl do not
 * rebuild them (fetched with ""; the host's grids assume the default tile
 * sizes TILE_TM, TILE_TN, NT_TM, NT_TN). Offsets are in elements. */

/* The default on CPU devices (PoCL).
 * Work-groups of one work-item; each item computes the register tile of
 * tile.clh (TILE_TM rows x TILE_TN columns, explicit float16 vectors that
 * PoCL compiles to AVX-512 / AVX2 registers), no local memory, no
 * barriers. B rows are read as whole vectors also for the last (partial)
 * column tile whenever they lie inside the buffer (b_len: its size in
 * elements, from the host); the extra lanes are never stored. */
#include "tile.clh"

/* C_b (M, N) (+)= A (M, K) * B_b (K, N), B (see b_panel) and C row-major; A element (i, p)
 * at a[a_off + i * a_rs + p * a_cs] (the weight or its transpose); global
 * (ceil(N / TILE_TN), ceil(M / TILE_TM), batch). */
__kernel void gemm_nn16(__global float *c, const ulong c_off, __global const float *a,
                        const ulong a_off, __global const float *b, const ulong b_off,
                        const int m, const int n, const int k, const int a_rs, const int a_cs,
                        const int ldb, const ulong b_stride, const int ldc, const ulong c_stride,
                        const int accumulate, const ulong b_len, const ulong b_panel)
{
    const int j = (int)get_global_id(0) * TILE_TN, i0 = (int)get_global_id(1) * TILE_TM;
    const size_t bi = get_global_id(2);
    if (j >= n || i0 >= m)
        return;
    /* B in panels of TILE_TN columns (b_panel elements apart, rows ldb
     * apart inside one: im2col's panels), else row-major */
    const size_t b0 = b_off + bi * b_stride + (b_panel ? (size_t)(j / TILE_TN) * b_panel : (size_t)j);
    __global const float *bb = b + b0;
    __global const float *aa = a + a_off;
    int arow[TILE_TM];
    TILE_UNROLL for (int t = 0; t < TILE_TM; t++)
        arow[t] = min(i0 + t, m - 1) * a_rs;
    float16 acc[TILE_TM][TILE_NV], bv[TILE_NV];
    TILE_ZERO(acc);
    const int cols = min(TILE_TN, n - j);
    /* whole-vector loads stay inside the buffer for every row p */
#define GN_ROW(p) (bb + (size_t)(p) * ldb)
#define GN_A(t, p) aa[arow[t] + (p) * a_cs]
    TILE_SUM(acc, bv, k, GN_ROW, GN_A, cols == TILE_TN || b0 + (size_t)(k - 1) * ldb + TILE_TN <= b_len, cols);
    __global float *cc = c + c_off + bi * c_stride + (size_t)i0 * ldc + j;
    TILE_STORE(acc, cc, ldc, min(TILE_TM, m - i0), cols, accumulate);
}

#ifndef NT_TM
#define NT_TM 4
#endif
#ifndef NT_TN
#define NT_TN 4
#endif

/* C (M, N) (+)= sum over b < batch of A_b (M, K) * B_b (N, K)^T, A and B
 * row-major with leading dimensions lda, ldb and batch strides (the weight
 * gradient: dout_n * col_n^T summed over the samples); each item a tile of
 * NT_TM x NT_TN dot products over K in float16 pieces; global
 * (ceil(N / NT_TN), ceil(M / NT_TM)). */
__kernel void gemm_nt16(__global float *c, const ulong c_off, __global const float *a,
                        const ulong a_off, __global const float *b, const ulong b_off,
                        const int m, const int n, const int k, const int lda, const ulong a_stride,
                        const int ldb, const ulong b_stride, const int ldc, const int batch,
                        const int accumulate, const ulong a_len, const ulong b_len)
{
    const int j0 = (int)get_global_id(0) * NT_TN, i0 = (int)get_global_id(1) * NT_TM;
    if (j0 >= n || i0 >= m)
        return;
    float16 acc[NT_TM][NT_TN];
    TILE_UNROLL for (int t = 0; t < NT_TM; t++)
        TILE_UNROLL for (int u = 0; u < NT_TN; u++)
            acc[t][u] = (float16)(0.0f);
    size_t arow[NT_TM], brow[NT_TN];
    TILE_UNROLL for (int t = 0; t < NT_TM; t++)
        arow[t] = a_off + (size_t)min(i0 + t, m - 1) * lda;
    TILE_UNROLL for (int u = 0; u < NT_TN; u++)
        brow[u] = b_off + (size_t)min(j0 + u, n - 1) * ldb;
    const int kfull = k / 16 * 16, rem = k - kfull;
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const int16 keep = lane < (int16)(rem);
    for (int s = 0; s < batch; s++) {
        const size_t ao = (size_t)s * a_stride, bo = (size_t)s * b_stride;
        for (int p = 0; p < kfull; p += 16) {
            float16 av[NT_TM], bv[NT_TN];
            TILE_UNROLL for (int t = 0; t < NT_TM; t++)
                av[t] = vload16(0, a + arow[t] + ao + p);
            TILE_UNROLL for (int u = 0; u < NT_TN; u++)
                bv[u] = vload16(0, b + brow[u] + bo + p);
            TILE_UNROLL for (int t = 0; t < NT_TM; t++)
                TILE_UNROLL for (int u = 0; u < NT_TN; u++)
                    acc[t][u] = fma(av[t], bv[u], acc[t][u]);
        }
        if (rem) {
            float16 av[NT_TM], bv[NT_TN];
            TILE_UNROLL for (int t = 0; t < NT_TM; t++) {
                const size_t o = arow[t] + ao + kfull;
                if (o + 16 <= a_len) {
                    av[t] = vload16(0, a + o);
                } else {
                    float tmp[16];
                    for (int q = 0; q < 16; q++)
                        tmp[q] = q < rem ? a[o + q] : 0.0f;
                    av[t] = vload16(0, tmp);
                }
                av[t] = select((float16)(0.0f), av[t], keep);
            }
            TILE_UNROLL for (int u = 0; u < NT_TN; u++) {
                const size_t o = brow[u] + bo + kfull;
                if (o + 16 <= b_len) {
                    bv[u] = vload16(0, b + o);
                } else {
                    float tmp[16];
                    for (int q = 0; q < 16; q++)
                        tmp[q] = q < rem ? b[o + q] : 0.0f;
                    bv[u] = vload16(0, tmp);
                }
                bv[u] = select((float16)(0.0f), bv[u], keep);
            }
            TILE_UNROLL for (int t = 0; t < NT_TM; t++)
                TILE_UNROLL for (int u = 0; u < NT_TN; u++)
                    acc[t][u] = fma(av[t], bv[u], acc[t][u]);
        }
    }
    const int rows = min(NT_TM, m - i0), cols = min(NT_TN, n - j0);
    TILE_UNROLL for (int t = 0; t < NT_TM; t++) {
        __global float *row = c + c_off + (size_t)(i0 + t) * ldc + j0;
        TILE_UNROLL for (int u = 0; u < NT_TN; u++) {
            if (t >= rows || u >= cols)
                continue;
            const float16 v = acc[t][u];
            float8 h8 = v.lo + v.hi;
            float4 h4 = h8.lo + h8.hi;
            float2 h2 = h4.lo + h4.hi;
            const float sum = h2.x + h2.y;
            row[u] = accumulate ? row[u] + sum : sum;
        }
    }
}

/* Devices that run work-items as SIMD lanes (Mesa's llvmpipe) or that end
 * long loops early (llvmpipe silently leaves any loop after 65535
 * iterations; src/runtime/probe.c detects it): a WI_TM x WI_TN tile in
 * scalar accumulators per work-item (llvmpipe loads global memory one lane
 * at a time, so the tile keeps loads per multiply-add low: 8x8 ran the
 * quickstart's convs 1.5x faster than 8x4; plain multiply-adds, as fma()
 * is a software routine there, 5x slower), work-items
 * along the columns, and no loop longer than the K slice the host passes
 * (at most a few thousand iterations; it adds the slices with accumulate). */
#define WI_TM 8
#define WI_TN 8

#define WI_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define WI_COLS(X, t) X(t, 0) X(t, 1) X(t, 2) X(t, 3) X(t, 4) X(t, 5) X(t, 6) X(t, 7)
#define WI_TILE(X) WI_COLS(X, 0) WI_COLS(X, 1) WI_COLS(X, 2) WI_COLS(X, 3) \
    WI_COLS(X, 4) WI_COLS(X, 5) WI_COLS(X, 6) WI_COLS(X, 7)
#define WI_ACC(t, u) float s##t##u = 0.0f;
#define WI_FMA(t, u) s##t##u += a##t##v * b##u##v;
#define WI_STORE(t, u)                                                                             \
    if (i0 + t < m && j0 + u < n)                                                                  \
        cc[(size_t)t * ldc + u] = accumulate ? cc[(size_t)t * ldc + u] + s##t##u : s##t##u;

/* As gemm_nn16 (b_len unused); global (ceil(N / WI_TN) rounded up,
 * ceil(M / WI_TM), batch). */
__kernel void gemm_nn_wi(__global float *c, const ulong c_off, __global const float *a,
                         const ulong a_off, __global const float *b, const ulong b_off,
                         const int m, const int n, const int k, const int a_rs, const int a_cs,
                         const int ldb, const ulong b_stride, const int ldc, const ulong c_stride,
                         const int accumulate, const ulong b_len)
{
    const int j0 = (int)get_global_id(0) * WI_TN, i0 = (int)get_global_id(1) * WI_TM;
    const size_t bi = get_global_id(2);
    (void)b_len;
    if (j0 >= n || i0 >= m)
        return;
    __global const float *bb = b + b_off + bi * b_stride;
#define WI_AROW(t) __global const float *a##t = a + a_off + (size_t)min(i0 + t, m - 1) * a_rs;
    WI_ROWS(WI_AROW)
#define WI_BCOL(u) const int jc##u = min(j0 + u, n - 1);
    WI_BCOL(0) WI_BCOL(1) WI_BCOL(2) WI_BCOL(3) WI_BCOL(4) WI_BCOL(5) WI_BCOL(6) WI_BCOL(7)
    WI_TILE(WI_ACC)
    for (int p = 0; p < k; p++) {
        const size_t bp = (size_t)p * ldb;
        const int ap = p * a_cs;
#define WI_BLOAD(u) const float b##u##v = bb[bp + jc##u];
        WI_BLOAD(0) WI_BLOAD(1) WI_BLOAD(2) WI_BLOAD(3) WI_BLOAD(4) WI_BLOAD(5) WI_BLOAD(6) WI_BLOAD(7)
#define WI_ALOAD(t) const float a##t##v = a##t[ap];
        WI_ROWS(WI_ALOAD)
        WI_TILE(WI_FMA)
    }
    __global float *cc = c + c_off + bi * c_stride + (size_t)i0 * ldc + j0;
    WI_TILE(WI_STORE)
}

/* As gemm_nt16 (a_len, b_len unused); global (ceil(N / WI_TN) rounded up,
 * ceil(M / WI_TM)). */
__kernel void gemm_nt_wi(__global float *c, const ulong c_off, __global const float *a,
                         const ulong a_off, __global const float *b, const ulong b_off,
                         const int m, const int n, const int k, const int lda, const ulong a_stride,
                         const int ldb, const ulong b_stride, const int ldc, const int batch,
                         const int accumulate, const ulong a_len, const ulong b_len)
{
    const int j0 = (int)get_global_id(0) * WI_TN, i0 = (int)get_global_id(1) * WI_TM;
    (void)a_len;
    (void)b_len;
    if (j0 >= n || i0 >= m)
        return;
#define WI_AROW_NT(t) const size_t a##t = a_off + (size_t)min(i0 + t, m - 1) * lda;
    WI_ROWS(WI_AROW_NT)
#define WI_BROW_NT(u) const size_t b##u = b_off + (size_t)min(j0 + u, n - 1) * ldb;
    WI_BROW_NT(0) WI_BROW_NT(1) WI_BROW_NT(2) WI_BROW_NT(3) WI_BROW_NT(4) WI_BROW_NT(5) WI_BROW_NT(6) WI_BROW_NT(7)
    WI_TILE(WI_ACC)
    for (int s = 0; s < batch; s++) {
        const size_t ao = (size_t)s * a_stride, bo = (size_t)s * b_stride;
        for (int p = 0; p < k; p++) {
#define WI_BLOAD_NT(u) const float b##u##v = b[b##u + bo + p];
            WI_BLOAD_NT(0) WI_BLOAD_NT(1) WI_BLOAD_NT(2) WI_BLOAD_NT(3) WI_BLOAD_NT(4) WI_BLOAD_NT(5) WI_BLOAD_NT(6) WI_BLOAD_NT(7)
#define WI_ALOAD_NT(t) const float a##t##v = a[a##t + ao + p];
            WI_ROWS(WI_ALOAD_NT)
            WI_TILE(WI_FMA)
        }
    }
    __global float *cc = c + c_off + (size_t)i0 * ldc + j0;
    WI_TILE(WI_STORE)
}
