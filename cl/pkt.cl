/* PKT (Passalis and Tefas 2018, "Learning Deep Representations with
 * Probabilistic Knowledge Transfer"), as mdistiller's
 * mdistiller/distillers/PKT.py pkt_loss (eps 1e-7): embeddings f (N, D)
 * scaled to fs = f / (|f| + eps) row by row; M = (fs fs^T + 1) / 2;
 * P = M / its row sums (student), Q the same for the teacher;
 * value = mean over the N x N entries of Q log((Q + eps) / (P + eps)).
 * (src/loss/pkt.c launches these in order on the in-order queue.)
 *
 * Work layout (floats): terms (N) | norms (N) | FS (N, Ds) | FT (N, Dt) |
 * G (N, N) | DFS (N, Ds). Gradient, with w the weight:
 *   dP_ij = -w Q_ij / (P_ij + eps) / N^2 = -w (1 + h_ij) / N^2,
 *   dM_ij = (dP_ij - sum_k dP_ik P_ik) / r_i   (r_i the row sum of M)
 *         = -w (h_ij - sum_k h_ik P_ik) / N^2 / r_i, as P's rows sum to 1,
 *   G_ij = dM_ij / 2 = d / d (fs_i . fs_j) of row i's terms,
 *   dfs_i = sum_j (G_ij + G_ji) fs_j,
 *   df = dfs / (|f| + eps) - f <f, dfs> / (|f| (|f| + eps)^2)  (0 when |f| = 0).
 * One work-item per row or per element, serial sums, no atomics: every run
 * gives the same bits. */

#define PKT_EPS 1e-7f

/* out[i] = f[i] / (|f[i]| + eps), norms[i] = |f[i]| */
__kernel void pkt_normalize(__global const float *f, const ulong f_off, __global float *out, const ulong out_off,
                            __global float *norms, const ulong norms_off, const int N, const int D)
{
    const int i = (int)get_global_id(0);
    if (i >= N)
        return;
    __global const float *r = f + f_off + (ulong)i * D;
    __global float *o = out + out_off + (ulong)i * D;
    float ss = 0.0f;
    for (int d = 0; d < D; d++)
        ss += r[d] * r[d];
    const float n = sqrt(ss), e = n + PKT_EPS;
    for (int d = 0; d < D; d++) {
        const float v = r[d] / e;
        o[d] = isnan(v) ? 0.0f : v;
    }
    norms[norms_off + (ulong)i] = n;
}

/* Compensated (Kahan) dot product: the similarities of embeddings that
 * point in nearly one direction differ in their last digits, which carry
 * the whole loss. */
static float pkt_dot(__global const float *a, __global const float *b, const int D)
{
    float s = 0.0f, c = 0.0f;
    for (int d = 0; d < D; d++) {
        const float y = a[d] * b[d] - c, t = s + y;
        c = (t - s) - y;
        s = t;
    }
    return s;
}

/* One work-item per row i: terms[i] and, with has_grad, G[i, :]. */
__kernel void pkt_rows(__global float *work, const ulong work_off, const int N, const int Ds, const int Dt,
                       const float inv_nn, const float weight, const int has_grad)
{
    const int i = (int)get_global_id(0);
    if (i >= N)
        return;
    __global float *w = work + work_off;
    __global float *terms = w, *fs = w + 2 * N, *ft = fs + (ulong)N * Ds, *G = ft + (ulong)N * Dt;
    __global float *g = G + (ulong)i * N;
    float rs = 0.0f, rt = 0.0f;
    for (int j = 0; j < N; j++) {
        const float m = (pkt_dot(fs + (ulong)i * Ds, fs + (ulong)j * Ds, Ds) + 1.0f) / 2.0f;
        g[j] = m; /* M_ij until the gradient replaces it */
        rs += m;
        rt += (pkt_dot(ft + (ulong)i * Dt, ft + (ulong)j * Dt, Dt) + 1.0f) / 2.0f;
    }
    float acc = 0.0f, hp = 0.0f;
    for (int j = 0; j < N; j++) {
        const float q = ((pkt_dot(ft + (ulong)i * Dt, ft + (ulong)j * Dt, Dt) + 1.0f) / 2.0f) / rt;
        const float p = g[j] / rs;
        /* (q + eps) / (p + eps) = 1 + h: q - p is exact for close values */
        const float d = q - p, h = d / (p + PKT_EPS);
        /* q log(1 + h), less sum_j (q - p) = 0: the terms of first order in
         * q - p cancel over the row, so each is taken out of its own term:
         * q (log1p(h) - h) + (q - p) (q - p - eps) / (p + eps) */
        acc += q * (log1p(h) - h) + d * (d - PKT_EPS) / (p + PKT_EPS);
        hp += (h - PKT_EPS / (p + PKT_EPS)) * p;
        g[j] = h - PKT_EPS / (p + PKT_EPS); /* q / (p + eps) - 1 */
    }
    terms[i] = acc * inv_nn;
    if (!has_grad)
        return;
    /* dP = -c q / (p + eps) = -c (1 + g); its constant part -c drops out
     * of dM = (dP - <dP, P>) / r as P sums to 1, so it is left out. */
    const float c = weight * inv_nn;
    for (int j = 0; j < N; j++)
        g[j] = -c * (g[j] - hp) / rs / 2.0f;
}

/* One work-item per (i, d): DFS[i, d] = sum_j (G_ij + G_ji) FS[j, d] */
__kernel void pkt_dfs(__global float *work, const ulong work_off, const int N, const int Ds, const int Dt)
{
    const int k = (int)get_global_id(0);
    if (k >= N * Ds)
        return;
    const int i = k / Ds, d = k % Ds;
    __global float *w = work + work_off;
    __global const float *fs = w + 2 * N, *G = fs + (ulong)N * Ds + (ulong)N * Dt;
    __global float *dfs = (__global float *)G + (ulong)N * N;
    float s = 0.0f;
    for (int j = 0; j < N; j++)
        s += (G[(ulong)i * N + j] + G[(ulong)j * N + i]) * fs[(ulong)j * Ds + d];
    dfs[k] = s;
}

/* One work-item per row i: df[i] += the gradient through the scaling. */
__kernel void pkt_backward(__global const float *f, const ulong f_off, __global float *df, const ulong df_off,
                           __global const float *work, const ulong work_off, const int N, const int Ds, const int Dt)
{
    const int i = (int)get_global_id(0);
    if (i >= N)
        return;
    __global const float *w = work + work_off;
    __global const float *dfs = w + 2 * N + (ulong)N * Ds + (ulong)N * Dt + (ulong)N * N + (ulong)i * Ds;
    __global const float *r = f + f_off + (ulong)i * Ds;
    __global float *o = df + df_off + (ulong)i * Ds;
    const float n = w[N + i], e = n + PKT_EPS;
    const float u = n > 0.0f ? pkt_dot(r, dfs, Ds) / (n * e * e) : 0.0f;
    for (int d = 0; d < Ds; d++)
        o[d] += dfs[d] / e - r[d] * u;
}
