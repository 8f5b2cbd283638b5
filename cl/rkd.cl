/* RKD (Park et al. 2019, "Relational Knowledge Distillation"), as
 * mdistiller's mdistiller/distillers/RKD.py rkd_loss (squared = False,
 * eps 1e-12) on embeddings s (N, Ds) and t (N, Dt):
 *   distance: d_ij = sqrt(max(|e_i - e_j|^2, eps)) off the diagonal, 0 on
 *     it, divided by its mean over the N (N - 1) off-diagonal pairs;
 *     loss_d = mean over the N^2 pairs of smooth_l1(d_s - d_t);
 *   angle: u_ab = F.normalize(e_b - e_a) (eps 1e-12), angle_abc =
 *     <u_ab, u_ac>; loss_a = mean over the N^3 triples of
 *     smooth_l1(angle_s - angle_t);
 *   value = wd * loss_d + wa * loss_a.
 * mdistiller forms |e_i - e_j|^2 as |e_i|^2 + |e_j|^2 - 2 e_i.e_j; it is
 * the same number, taken here as a sum of squared differences (no
 * cancellation for close embeddings). (src/loss/rkd.c launches these in
 * order on the in-order queue.)
 *
 * Work layout (floats): DS (N, N) | DT (N, N) | G (N, N) | scal (4) |
 * terms (N^2 + 1) | US (N, N, Ds) | UT (N, N, Dt) | DU (N, N, Ds).
 * smooth_l1 (beta 1): x^2 / 2 for |x| < 1, |x| - 1/2 otherwise; its
 * derivative x or sign(x). One work-item per pair, row or element; serial
 * sums, no atomics: every run gives the same bits. */

#define RKD_EPS 1e-12f

static float rkd_huber(const float x)
{
    return fabs(x) < 1.0f ? 0.5f * x * x : fabs(x) - 0.5f;
}

static float rkd_dhuber(const float x)
{
    return fabs(x) < 1.0f ? x : (x > 0.0f ? 1.0f : -1.0f);
}

static float rkd_sqdist(__global const float *a, __global const float *b, const int D)
{
    float s = 0.0f;
    for (int d = 0; d < D; d++) {
        const float v = a[d] - b[d];
        s += v * v;
    }
    return s;
}

/* dist[i, j] for the N x N pairs of the rows of e (N, D) */
__kernel void rkd_pdist(__global const float *e, const ulong e_off, __global float *dist, const ulong dist_off,
                        const int N, const int D)
{
    const int k = (int)get_global_id(0);
    if (k >= N * N)
        return;
    const int i = k / N, j = k % N;
    __global const float *x = e + e_off;
    dist[dist_off + (ulong)k] =
        i == j ? 0.0f : sqrt(fmax(rkd_sqdist(x + (ulong)i * D, x + (ulong)j * D, D), RKD_EPS));
}

/* One work-item: the means of DS and DT, the distance term into terms[N^2]
 * and G = d loss_d / d DS_normalised (before the scale of the mean). */
__kernel void rkd_dist_term(__global float *work, const ulong work_off, const int N, const float wd)
{
    if (get_global_id(0) != 0)
        return;
    __global float *ds = work + work_off, *dt = ds + (ulong)N * N, *g = dt + (ulong)N * N, *scal = g + (ulong)N * N;
    __global float *terms = scal + 4;
    const int NN = N * N;
    float ms = 0.0f, mt = 0.0f;
    for (int k = 0; k < NN; k++) {
        ms += ds[k];
        mt += dt[k];
    }
    const float pairs = (float)(N * (N - 1));
    ms /= pairs;
    mt /= pairs;
    float acc = 0.0f, sgd = 0.0f;
    for (int k = 0; k < NN; k++) {
        const float x = ds[k] / ms - dt[k] / mt;
        acc += rkd_huber(x);
        g[k] = rkd_dhuber(x) / (float)NN;
        sgd += g[k] * ds[k];
    }
    terms[NN] = wd * acc / (float)NN;
    scal[0] = ms;
    scal[1] = sgd;
}

/* One work-item per row i: de_i += w wd sum_j (dd_ij + dd_ji) (e_i - e_j) / d_ij,
 * dd = G / mean - sum(G DS) / (mean^2 N (N - 1)); no gradient through the
 * clamp. */
__kernel void rkd_dist_backward(__global const float *e, const ulong e_off, __global float *de, const ulong de_off,
                                __global const float *work, const ulong work_off, const int N, const int D,
                                const float scale)
{
    const int i = (int)get_global_id(0);
    if (i >= N)
        return;
    __global const float *ds = work + work_off, *g = ds + 2 * (ulong)N * N, *scal = g + (ulong)N * N;
    const float ms = scal[0], shift = scal[1] / (ms * ms * (float)(N * (N - 1)));
    __global const float *x = e + e_off, *xi = x + (ulong)i * D;
    __global float *o = de + de_off + (ulong)i * D;
    for (int j = 0; j < N; j++) {
        if (j == i)
            continue;
        __global const float *xj = x + (ulong)j * D;
        if (rkd_sqdist(xi, xj, D) < RKD_EPS)
            continue;
        const float dd = (g[i * N + j] + g[j * N + i]) / ms - 2.0f * shift;
        const float c = scale * dd / ds[i * N + j];
        for (int d = 0; d < D; d++)
            o[d] += c * (xi[d] - xj[d]);
    }
}

/* One work-item per pair (a, b): u[a, b] = F.normalize(e_b - e_a) */
__kernel void rkd_unit(__global const float *e, const ulong e_off, __global float *u, const ulong u_off, const int N,
                       const int D)
{
    const int k = (int)get_global_id(0);
    if (k >= N * N)
        return;
    const int a = k / N, b = k % N;
    __global const float *ea = e + e_off + (ulong)a * D, *eb = e + e_off + (ulong)b * D;
    __global float *o = u + u_off + (ulong)k * D;
    const float n = fmax(sqrt(rkd_sqdist(eb, ea, D)), RKD_EPS);
    for (int d = 0; d < D; d++)
        o[d] = (eb[d] - ea[d]) / n;
}

static float rkd_dot(__global const float *a, __global const float *b, const int D)
{
    float s = 0.0f;
    for (int d = 0; d < D; d++)
        s += a[d] * b[d];
    return s;
}

/* One work-item per pair (a, b): terms[a N + b] = wa / N^3 sum_c
 * smooth_l1(<US_ab, US_ac> - <UT_ab, UT_ac>) and, with has_grad, DU_ab =
 * the gradient with respect to e_b - e_a (the angle is symmetric in b, c:
 * d / d US_ab = 2 sum_c G_abc US_ac, then through the normalisation). */
__kernel void rkd_angle(__global const float *e, const ulong e_off, __global float *work, const ulong work_off,
                        const int N, const int Ds, const int Dt, const float wa, const float scale, const int has_grad)
{
    const int k = (int)get_global_id(0);
    if (k >= N * N)
        return;
    const int a = k / N, b = k % N;
    const ulong NN = (ulong)N * N;
    __global float *terms = work + work_off + 3 * NN + 4;
    __global const float *us = terms + NN + 1, *ut = us + NN * Ds;
    __global float *du = (__global float *)ut + NN * Dt + (ulong)k * Ds;
    __global const float *usab = us + (ulong)k * Ds, *utab = ut + (ulong)k * Dt;
    const float inv = 1.0f / ((float)N * (float)N * (float)N);
    if (has_grad)
        for (int d = 0; d < Ds; d++)
            du[d] = 0.0f;
    float acc = 0.0f;
    for (int c = 0; c < N; c++) {
        __global const float *usac = us + ((ulong)a * N + c) * Ds, *utac = ut + ((ulong)a * N + c) * Dt;
        const float x = rkd_dot(usab, usac, Ds) - rkd_dot(utab, utac, Dt);
        acc += rkd_huber(x);
        if (has_grad) {
            const float g = 2.0f * scale * wa * inv * rkd_dhuber(x);
            for (int d = 0; d < Ds; d++)
                du[d] += g * usac[d];
        }
    }
    terms[k] = wa * inv * acc;
    if (!has_grad)
        return;
    __global const float *ea = e + e_off + (ulong)a * Ds, *eb = e + e_off + (ulong)b * Ds;
    const float n = sqrt(rkd_sqdist(eb, ea, Ds));
    if (n > RKD_EPS) {
        const float p = rkd_dot(usab, du, Ds);
        for (int d = 0; d < Ds; d++)
            du[d] = (du[d] - usab[d] * p) / n;
    } else {
        for (int d = 0; d < Ds; d++)
            du[d] /= RKD_EPS;
    }
}

/* One work-item per element (b, d): de[b, d] += sum_a DU[a, b, d] - sum_c DU[b, c, d] */
__kernel void rkd_angle_backward(__global float *de, const ulong de_off, __global const float *work,
                                 const ulong work_off, const int N, const int Ds, const int Dt)
{
    const int k = (int)get_global_id(0);
    if (k >= N * Ds)
        return;
    const int b = k / Ds, d = k % Ds;
    const ulong NN = (ulong)N * N;
    __global const float *du = work + work_off + 3 * NN + 4 + NN + 1 + NN * Ds + NN * Dt;
    float s = 0.0f;
    for (int a = 0; a < N; a++)
        s += du[((ulong)a * N + b) * Ds + d] - du[((ulong)b * N + a) * Ds + d];
    de[de_off + (ulong)k] += s;
}
