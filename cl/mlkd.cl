/* MLKD (Jin, Wang, Lin, "Multi-Level Logit Distillation", CVPR 2023), as the
 * authors' code (Jin-Ying/Multi-Level-Logit-Distillation,
 * mdistiller/distillers/KD_ours.py): over MLKD_K temperatures T_k, with
 * P_k = softmax(s / T_k), Q_k = softmax(t / T_k) of (N, C) logits,
 *   kd_k = T_k^2 * mean over rows of KL(Q_k || P_k)      (instance level)
 *   cc_k = sum over (a, b) of (Q_k^T Q_k - P_k^T P_k)^2 / C   (class level)
 *   bc_k = sum over (i, j) of (Q_k Q_k^T - P_k P_k^T)^2 / N   (batch level)
 * and the term of one view (src/loss/mlkd.c has the coefficients):
 *   view 0 (weak):   sum_k [(m + [k >= 3]) kd_k + mc cc_k + m bc_k]
 *   view 1 (strong): sum_{k < 3} kd_k
 * m and mc are the shares of samples and classes whose teacher confidence
 * (at T = 1: a row's largest probability; a column's probability sum) is at
 * or below numpy's 50th percentile of them (mlkd_mask).
 *
 * Work layout (floats), K = MLKD_K:
 *   P (K, N, C) | Q (K, N, C) | D (K, C, C) | E (K, N, N) |
 *   kd (K, N) | cc (K, C) | bc (K, N) | G (N, C) | A (N, C) | Z (N, C) |
 *   conf (N) | cls (C) | rowmax (N) | rowsum (N) | sorted (N + C) | coef (2)
 * D = Q^T Q - P^T P, E = Q Q^T - P P^T per temperature; kd, cc, bc the per
 * row terms; G, A, Z per-row gradient scratch (each work-item of
 * mlkd_grad touches its own row only); coef = [m, mc].
 * Every kernel walks its vectors serially in a fixed order (one work-item
 * per row, column or entry; no atomics, no local memory): the same bits on
 * every run. The host launches them in order on the in-order queue. */

#define MLKD_K 5
#define MLKD_STAND_EPS 1e-7f

typedef struct mlkd_layout {
    ulong p, q, d, e, kd, cc, bc, g, a, z, conf, cls, rmax, rsum, sorted, coef;
} mlkd_layout;

static mlkd_layout mlkd_at(const ulong base, const int N, const int C)
{
    const ulong n = (ulong)N, c = (ulong)C, k = MLKD_K;
    mlkd_layout L;
    L.p = base;
    L.q = L.p + k * n * c;
    L.d = L.q + k * n * c;
    L.e = L.d + k * c * c;
    L.kd = L.e + k * n * n;
    L.cc = L.kd + k * n;
    L.bc = L.cc + k * c;
    L.g = L.bc + k * n;
    L.a = L.g + n * c;
    L.z = L.a + n * c;
    L.conf = L.z + n * c;
    L.cls = L.conf + n;
    L.rmax = L.cls + c;
    L.rsum = L.rmax + n;
    L.sorted = L.rsum + n;
    L.coef = L.sorted + n + c;
    return L;
}

static float mlkd_temp(const int k, const float t0, const float t1, const float t2, const float t3,
                       const float t4)
{
    return k == 0 ? t0 : k == 1 ? t1 : k == 2 ? t2 : k == 3 ? t3 : t4;
}

/* The KD weight of temperature k in a view (coef[0] = m). */
static float mlkd_kd_coef(const int view, const int k, const float m)
{
    if (view == 0)
        return m + (k >= 3 ? 1.0f : 0.0f);
    return k < 3 ? 1.0f : 0.0f;
}

/* Mean and D = eps + unbiased standard deviation of a row (torch's
 * x.std(dim=-1)); z = (x - mean) / D is the standardised logit. */
static float2 mlkd_stand(__global const float *x, const int C)
{
    float mean = 0.0f;
    for (int j = 0; j < C; j++)
        mean += x[j];
    mean /= (float)C;
    float ss = 0.0f;
    for (int j = 0; j < C; j++)
        ss += (x[j] - mean) * (x[j] - mean);
    return (float2)(mean, MLKD_STAND_EPS + sqrt(ss / (float)(C - 1)));
}

/* Max and sum of exp((x - ms.x) / ms.y - max) of a row of x standardised by
 * ms (mean, D) and divided by T: .x the max, .y the sum. */
static float2 mlkd_lse(__global const float *x, const int C, const float2 ms, const float T)
{
    float m = -INFINITY;
    for (int j = 0; j < C; j++)
        m = fmax(m, ((x[j] - ms.x) / ms.y) / T);
    float z = 0.0f;
    for (int j = 0; j < C; j++)
        z += exp(((x[j] - ms.x) / ms.y) / T - m);
    return (float2)(m, z);
}

/* One work-item per (row i, temperature k): P_k[i, :], Q_k[i, :] and
 * kd[k, i] = T^2 KL(Q || P) of the row, the KL from the logits standardised
 * when stand is set (P and Q, which the correlations use, never are). */
__kernel void mlkd_probs(__global const float *s, const ulong s_off, __global const float *t, const ulong t_off,
                         __global float *work, const ulong work_off, const int N, const int C, const float t0,
                         const float t1, const float t2, const float t3, const float t4, const int stand)
{
    const int gid = (int)get_global_id(0);
    if (gid >= N * MLKD_K)
        return;
    const int k = gid / N, i = gid % N;
    const float T = mlkd_temp(k, t0, t1, t2, t3, t4);
    const mlkd_layout L = mlkd_at(work_off, N, C);
    const ulong row = (ulong)i * (ulong)C, kr = ((ulong)k * (ulong)N + (ulong)i) * (ulong)C;
    __global const float *srow = s + s_off + row, *trow = t + t_off + row;
    __global float *prow = work + L.p + kr, *qrow = work + L.q + kr;

    const float2 id = (float2)(0.0f, 1.0f);
    const float2 ls = mlkd_lse(srow, C, id, T), lt = mlkd_lse(trow, C, id, T);
    for (int j = 0; j < C; j++) {
        prow[j] = exp(srow[j] / T - ls.x) / ls.y;
        qrow[j] = exp(trow[j] / T - lt.x) / lt.y;
    }
    const float2 ms = stand ? mlkd_stand(srow, C) : id, mt = stand ? mlkd_stand(trow, C) : id;
    const float2 ks = stand ? mlkd_lse(srow, C, ms, T) : ls, kt = stand ? mlkd_lse(trow, C, mt, T) : lt;
    const float logz = log(ks.y);
    float kl = 0.0f;
    for (int j = 0; j < C; j++) {
        const float xs = ((srow[j] - ms.x) / ms.y) / T, xt = ((trow[j] - mt.x) / mt.y) / T;
        const float q = exp(xt - kt.x) / kt.y, logp = (xs - ks.x) - logz;
        kl += q > 0.0f ? q * (log(q) - logp) : 0.0f;
    }
    work[L.kd + (ulong)k * (ulong)N + (ulong)i] = T * T * kl;
}

/* One work-item per row i of the teacher: softmax at T = 1, its largest
 * probability conf[i] = 1 / sum, and the row's max and sum for mlkd_cls. */
__kernel void mlkd_conf(__global const float *t, const ulong t_off, __global float *work, const ulong work_off,
                        const int N, const int C)
{
    const int i = (int)get_global_id(0);
    if (i >= N)
        return;
    const mlkd_layout L = mlkd_at(work_off, N, C);
    __global const float *trow = t + t_off + (ulong)i * (ulong)C;
    float m = -INFINITY;
    for (int j = 0; j < C; j++)
        m = fmax(m, trow[j]);
    float z = 0.0f, best = -INFINITY;
    for (int j = 0; j < C; j++)
        z += exp(trow[j] - m);
    for (int j = 0; j < C; j++)
        best = fmax(best, exp(trow[j] - m) / z);
    work[L.conf + i] = best;
    work[L.rmax + i] = m;
    work[L.rsum + i] = z;
}

/* One work-item per class j: cls[j] = sum over rows of the teacher's
 * softmax at T = 1. Runs after mlkd_conf. */
__kernel void mlkd_cls(__global const float *t, const ulong t_off, __global float *work, const ulong work_off,
                       const int N, const int C)
{
    const int j = (int)get_global_id(0);
    if (j >= C)
        return;
    const mlkd_layout L = mlkd_at(work_off, N, C);
    float sum = 0.0f;
    for (int i = 0; i < N; i++)
        sum += exp(t[t_off + (ulong)i * (ulong)C + (ulong)j] - work[L.rmax + i]) / work[L.rsum + i];
    work[L.cls + j] = sum;
}

/* Share of x[0..n) at or below numpy.percentile(x, 50) (method 'linear'),
 * compared as torch compares a float32 tensor with that float64 number
 * (rounded to float32). For even n numpy computes
 * b - fl32(b - a) * 0.5 in float64 from the middle pair a <= b, which is
 * exact; one float32 subtraction rounds it as the cast does. A NaN
 * makes numpy's percentile NaN: nothing is at or below it. */
static float mlkd_share_le_median(__global const float *x, __global float *sorted, const int n)
{
    for (int i = 0; i < n; i++) {
        const float v = x[i];
        if (isnan(v))
            return 0.0f;
        int j = i;
        while (j > 0 && sorted[j - 1] > v) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = v;
    }
    float thresh;
    if (n % 2) {
        thresh = sorted[n / 2];
    } else {
        const float a = sorted[n / 2 - 1], b = sorted[n / 2], d = b - a, h = d * 0.5f;
        thresh = b - h;
    }
    int count = 0;
    for (int i = 0; i < n; i++)
        count += x[i] <= thresh;
    return (float)count / (float)n;
}

/* One work-item: coef = [m, mc], the shares of rows and classes at or
 * below the median confidence. Runs after mlkd_cls. */
__kernel void mlkd_mask(__global float *work, const ulong work_off, const int N, const int C)
{
    if (get_global_id(0) != 0)
        return;
    const mlkd_layout L = mlkd_at(work_off, N, C);
    work[L.coef] = mlkd_share_le_median(work + L.conf, work + L.sorted, N);
    work[L.coef + 1] = mlkd_share_le_median(work + L.cls, work + L.sorted, C);
}

/* One work-item per (temperature k, class a): row a of
 * D_k = Q_k^T Q_k - P_k^T P_k and cc[k, a] = sum over b of D_k[a, b]^2. */
__kernel void mlkd_cc(__global float *work, const ulong work_off, const int N, const int C)
{
    const int gid = (int)get_global_id(0);
    if (gid >= C * MLKD_K)
        return;
    const int k = gid / C, a = gid % C;
    const mlkd_layout L = mlkd_at(work_off, N, C);
    const ulong nc = (ulong)N * (ulong)C, kb = (ulong)k * nc;
    __global const float *P = work + L.p + kb, *Q = work + L.q + kb;
    __global float *drow = work + L.d + ((ulong)k * (ulong)C + (ulong)a) * (ulong)C;
    float sq = 0.0f;
    for (int b = 0; b < C; b++) {
        float mt = 0.0f, ms = 0.0f;
        for (int i = 0; i < N; i++) {
            const ulong r = (ulong)i * (ulong)C;
            mt += Q[r + a] * Q[r + b];
            ms += P[r + a] * P[r + b];
        }
        const float d = mt - ms;
        drow[b] = d;
        sq += d * d;
    }
    work[L.cc + (ulong)k * (ulong)C + (ulong)a] = sq;
}

/* One work-item per (temperature k, row i): row i of
 * E_k = Q_k Q_k^T - P_k P_k^T and bc[k, i] = sum over j of E_k[i, j]^2. */
__kernel void mlkd_bc(__global float *work, const ulong work_off, const int N, const int C)
{
    const int gid = (int)get_global_id(0);
    if (gid >= N * MLKD_K)
        return;
    const int k = gid / N, i = gid % N;
    const mlkd_layout L = mlkd_at(work_off, N, C);
    const ulong nc = (ulong)N * (ulong)C, kb = (ulong)k * nc;
    __global const float *P = work + L.p + kb, *Q = work + L.q + kb;
    __global float *erow = work + L.e + ((ulong)k * (ulong)N + (ulong)i) * (ulong)N;
    __global const float *pi = P + (ulong)i * (ulong)C, *qi = Q + (ulong)i * (ulong)C;
    float sq = 0.0f;
    for (int j = 0; j < N; j++) {
        __global const float *pj = P + (ulong)j * (ulong)C, *qj = Q + (ulong)j * (ulong)C;
        float mt = 0.0f, ms = 0.0f;
        for (int c = 0; c < C; c++) {
            mt += qi[c] * qj[c];
            ms += pi[c] * pj[c];
        }
        const float e = mt - ms;
        erow[j] = e;
        sq += e * e;
    }
    work[L.bc + (ulong)k * (ulong)N + (ulong)i] = sq;
}

/* View 0, temperature k: the correlations' gradient with respect to P,
 * G[i, b] = -4 mc / C * (P D)[i, b] - 4 m / N * (E P)[i, b], one
 * work-item per (i, b) (its loops stay short: llvmpipe leaves a kernel
 * after 65535 loop iterations, docs/devices.md). Runs before mlkd_grad
 * for the same k. */
__kernel void mlkd_corr_grad(__global float *work, const ulong work_off, const int N, const int C, const int k)
{
    const int i = (int)get_global_id(0), b = (int)get_global_id(1);
    if (i >= N || b >= C)
        return;
    const mlkd_layout L = mlkd_at(work_off, N, C);
    const ulong nc = (ulong)N * (ulong)C, row = (ulong)i * (ulong)C, kb = (ulong)k * nc;
    const float m = work[L.coef], mc = work[L.coef + 1];
    __global const float *P = work + L.p + kb, *prow = P + row;
    __global const float *D = work + L.d + (ulong)k * (ulong)C * (ulong)C;
    __global const float *E = work + L.e + ((ulong)k * (ulong)N + (ulong)i) * (ulong)N;
    float pd = 0.0f, ep = 0.0f;
    for (int a = 0; a < C; a++)
        pd += prow[a] * D[(ulong)a * (ulong)C + (ulong)b];
    for (int j = 0; j < N; j++)
        ep += E[j] * P[(ulong)j * (ulong)C + (ulong)b];
    work[L.g + row + (ulong)b] = (-4.0f * mc / (float)C) * pd + (-4.0f * m / (float)N) * ep;
}

/* One work-item per row i, temperature k (launched for k = 0 .. 4 in
 * turn): ds[i, :] += weight * d(term) / d s[i, :] once k = 4 is done.
 * Per temperature: with view 0, G of mlkd_corr_grad through the softmax,
 * P (G - <P, G>) / T; and the KD gradient a_k T (P - Q) / N, with respect
 * to the standardised logits first when stand is set (then taken back
 * through the standardisation once, for the sum over temperatures). A and
 * Z accumulate over the launches. Runs after mlkd_cc and mlkd_bc (view 0)
 * or mlkd_probs (view 1). */
__kernel void mlkd_grad(__global const float *s, const ulong s_off, __global const float *t, const ulong t_off,
                        __global float *work, const ulong work_off, __global float *ds, const ulong ds_off,
                        const int N, const int C, const float t0, const float t1, const float t2, const float t3,
                        const float t4, const int stand, const int view, const float weight, const int k)
{
    const int i = (int)get_global_id(0);
    if (i >= N)
        return;
    const mlkd_layout L = mlkd_at(work_off, N, C);
    const ulong nc = (ulong)N * (ulong)C, row = (ulong)i * (ulong)C;
    __global const float *srow = s + s_off + row, *trow = t + t_off + row;
    __global float *G = work + L.g + row, *A = work + L.a + row, *Z = work + L.z + row;
    const float m = view == 0 ? work[L.coef] : 0.0f;
    const float inv_n = 1.0f / (float)N;
    if (k == 0)
        for (int j = 0; j < C; j++) {
            A[j] = 0.0f;
            Z[j] = 0.0f;
        }
    const float2 ms = stand ? mlkd_stand(srow, C) : (float2)(0.0f, 1.0f);
    const float2 mt = stand ? mlkd_stand(trow, C) : (float2)(0.0f, 1.0f);
    const float T = mlkd_temp(k, t0, t1, t2, t3, t4), akd = mlkd_kd_coef(view, k, m);
    const ulong kb = (ulong)k * nc;
    __global const float *P = work + L.p + kb, *Q = work + L.q + kb;
    __global const float *prow = P + row, *qrow = Q + row;
    if (view == 0) {
        float dot = 0.0f;
        for (int b = 0; b < C; b++)
            dot += prow[b] * G[b];
        for (int b = 0; b < C; b++)
            A[b] += prow[b] * (G[b] - dot) / T;
    }
    if (akd != 0.0f) {
        const float kscale = akd * T * inv_n;
        if (!stand) {
            for (int b = 0; b < C; b++)
                A[b] += kscale * (prow[b] - qrow[b]);
        } else {
            const float2 ks = mlkd_lse(srow, C, ms, T), kt = mlkd_lse(trow, C, mt, T);
            for (int b = 0; b < C; b++) {
                const float ps = exp(((srow[b] - ms.x) / ms.y) / T - ks.x) / ks.y;
                const float pt = exp(((trow[b] - mt.x) / mt.y) / T - kt.x) / kt.y;
                Z[b] += kscale * (ps - pt);
            }
        }
    }
    if (k != MLKD_K - 1)
        return;
    float zmean = 0.0f, zu = 0.0f, sd = 0.0f;
    if (stand) {
        for (int b = 0; b < C; b++) {
            zmean += Z[b];
            zu += Z[b] * (srow[b] - ms.x);
        }
        zmean /= (float)C;
        sd = ms.y - MLKD_STAND_EPS;
    }
    __global float *drow = ds + ds_off + row;
    for (int b = 0; b < C; b++) {
        float g = A[b];
        if (stand) {
            const float u = srow[b] - ms.x;
            g += (Z[b] - zmean) / ms.y - (sd > 0.0f ? zu * u / (ms.y * ms.y * (float)(C - 1) * sd) : 0.0f);
        }
        drow[b] += weight * g;
    }
}

/* One work-item: value = sum over temperatures of a_k * mean kd_k
 * + mc * sum cc_k / C + m * sum bc_k / N (view 0), a fixed order. */
__kernel void mlkd_value(__global const float *work, const ulong work_off, __global float *value,
                         const ulong value_off, const int N, const int C, const int view)
{
    if (get_global_id(0) != 0)
        return;
    const mlkd_layout L = mlkd_at(work_off, N, C);
    const float m = view == 0 ? work[L.coef] : 0.0f, mc = view == 0 ? work[L.coef + 1] : 0.0f;
    float total = 0.0f;
    for (int k = 0; k < MLKD_K; k++) {
        float kd = 0.0f, cc = 0.0f, bc = 0.0f;
        for (int i = 0; i < N; i++)
            kd += work[L.kd + (ulong)k * (ulong)N + (ulong)i];
        total += mlkd_kd_coef(view, k, m) * (kd / (float)N);
        if (view != 0)
            continue;
        for (int a = 0; a < C; a++)
            cc += work[L.cc + (ulong)k * (ulong)C + (ulong)a];
        for (int i = 0; i < N; i++)
            bc += work[L.bc + (ulong)k * (ulong)N + (ulong)i];
        total += mc * (cc / (float)C) + m * (bc / (float)N);
    }
    value[value_off] = total;
}
