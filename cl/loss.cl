/* Row-wise losses on logits (N, C): softmax cross-entropy, KD and DKD, and
 * the batch mean shared by every loss (src/loss/{ce,kd,dkd,reduce}.c).
 *
 * One work-group of LOSS_WG work-items per sample (global = N * LOSS_WG):
 * each work-item walks the classes with stride LOSS_WG, row statistics are
 * combined by a fixed tree in local memory (the same order every run), and
 * the sample's loss goes to work[n]. loss_mean then sums work[0..N) in one
 * work-group and writes scale * sum: no float atomics anywhere.
 *
 * Stability: every softmax and log-softmax is taken after subtracting the
 * row maximum m, as (x_j - m) - log(sum_k exp(x_k - m)) (the order of
 * PyTorch's log_softmax: with |x| ~ 1e4 forming m + log(sum) first would
 * lose ~1e-4 to rounding), and every log of a probability is a difference
 * of log-sum-exps, never log(p), so logits of any finite magnitude give
 * finite losses and gradients. KL terms with a zero target probability
 * count 0 (PyTorch's kl_div: xlogy). Gradients are ADDED to dlogits when
 * has_grad is non-zero (the buffer argument is otherwise unused). */

#define LOSS_WG 64

/* max (is_max) or sum of a float4 over the work-group by a fixed tree,
 * returned to every work-item */
static float4 wg_reduce4(float4 v, __local float4 *buf, bool is_max)
{
    const int l = (int)get_local_id(0);
    buf[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LOSS_WG / 2; s > 0; s >>= 1) {
        if (l < s)
            buf[l] = is_max ? fmax(buf[l], buf[l + s]) : buf[l] + buf[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float4 r = buf[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

static float4 wg_max4(float4 v, __local float4 *buf) { return wg_reduce4(v, buf, true); }
static float4 wg_sum4(float4 v, __local float4 *buf) { return wg_reduce4(v, buf, false); }

/* log(exp(a) + exp(b)) for finite a, b */
static float logaddexp(float a, float b)
{
    float m = fmax(a, b);
    return m + log1p(exp(-fabs(a - b)));
}

/* KL contribution q * (log q - log p); 0 when q is 0 */
static float kl_term(float q, float logq, float logp)
{
    return q > 0.0f ? q * (logq - logp) : 0.0f;
}

/* Softmax cross-entropy: work[n] = logsumexp(x) - x[y];
 * dx[j] += gscale * (softmax(x)[j] - [j == y]) with gscale = weight / N.
 * A label outside [0, C) gives a NaN loss and no gradient. */
__kernel __attribute__((reqd_work_group_size(LOSS_WG, 1, 1)))
void ce_forward(__global const float *x, const ulong x_off, __global const int *labels,
                const ulong labels_off, __global float *work, const ulong work_off,
                __global float *dx, const ulong dx_off, const int has_grad, const int C,
                const float gscale)
{
    __local float4 buf[LOSS_WG];
    const int n = (int)get_group_id(0), l = (int)get_local_id(0);
    __global const float *row = x + x_off + (ulong)n * (ulong)C;
    const int y = labels[labels_off + (ulong)n];
    const bool valid = y >= 0 && y < C;

    float m = -INFINITY;
    for (int j = l; j < C; j += LOSS_WG)
        m = fmax(m, row[j]);
    m = wg_max4((float4)(m, 0.0f, 0.0f, 0.0f), buf).x;
    float s = 0.0f;
    for (int j = l; j < C; j += LOSS_WG)
        s += exp(row[j] - m);
    const float logs = log(wg_sum4((float4)(s, 0.0f, 0.0f, 0.0f), buf).x);

    if (l == 0)
        work[work_off + (ulong)n] = valid ? (m - row[y]) + logs : NAN;
    if (has_grad && valid) {
        __global float *drow = dx + dx_off + (ulong)n * (ulong)C;
        for (int j = l; j < C; j += LOSS_WG)
            drow[j] += gscale * (exp((row[j] - m) - logs) - (j == y ? 1.0f : 0.0f));
    }
}

/* KD: with a = s / T and b = t / T, work[n] = sum_j q_j (log q_j - log p_j),
 * p = softmax(a), q = softmax(b); ds[j] += gscale * (p_j - q_j) with
 * gscale = weight * T / N (the T^2 / N of the value, times d a / d s = 1/T). */
__kernel __attribute__((reqd_work_group_size(LOSS_WG, 1, 1)))
void kd_forward(__global const float *s, const ulong s_off, __global const float *t,
                const ulong t_off, __global float *work, const ulong work_off,
                __global float *ds, const ulong ds_off, const int has_grad, const int C,
                const float T, const float gscale)
{
    __local float4 buf[LOSS_WG];
    const int n = (int)get_group_id(0), l = (int)get_local_id(0);
    __global const float *srow = s + s_off + (ulong)n * (ulong)C;
    __global const float *trow = t + t_off + (ulong)n * (ulong)C;

    float ma = -INFINITY, mb = -INFINITY;
    for (int j = l; j < C; j += LOSS_WG) {
        ma = fmax(ma, srow[j] / T);
        mb = fmax(mb, trow[j] / T);
    }
    float4 m = wg_max4((float4)(ma, mb, 0.0f, 0.0f), buf);
    float sa = 0.0f, sb = 0.0f;
    for (int j = l; j < C; j += LOSS_WG) {
        sa += exp(srow[j] / T - m.x);
        sb += exp(trow[j] / T - m.y);
    }
    const float4 logsum = log(wg_sum4((float4)(sa, sb, 1.0f, 1.0f), buf));

    float kl = 0.0f;
    __global float *drow = ds + ds_off + (ulong)n * (ulong)C;
    for (int j = l; j < C; j += LOSS_WG) {
        float logp = (srow[j] / T - m.x) - logsum.x, logq = (trow[j] / T - m.y) - logsum.y;
        float q = exp(logq);
        kl += kl_term(q, logq, logp);
        if (has_grad)
            drow[j] += gscale * (exp(logp) - q);
    }
    kl = wg_sum4((float4)(kl, 0.0f, 0.0f, 0.0f), buf).x;
    if (l == 0)
        work[work_off + (ulong)n] = kl;
}

/* DKD (Zhao et al. 2022, as mdistiller's dkd_loss), with a = s / T, b = t / T:
 *   TCKD = KL([q_y, 1 - q_y] || [p_y, 1 - p_y]), p = softmax(a), q = softmax(b);
 *   NCKD = KL(softmax(b - 1000 e_y) || softmax(a - 1000 e_y));
 *   work[n] = alpha * TCKD + beta * NCKD.
 * log p_y = a_y - lse(a), log(1 - p_y) = lse_{j != y}(a) - lse(a) and
 * lse(a - 1000 e_y) = logaddexp(lse_{j != y}(a), a_y - 1000), so only the
 * log-sum-exp over the non-target classes is reduced.
 * Gradient with respect to a_j:
 *   TCKD: j == y: p_y - q_y; j != y: (q_y - p_y) * exp(a_j - lse_{k != y}(a));
 *   NCKD: p'_j - q'_j (the shifted softmaxes);
 * ds[j] += gscale * (alpha * dTCKD + beta * dNCKD), gscale = weight * T / N.
 * A label outside [0, C) gives a NaN loss and no gradient. */
__kernel __attribute__((reqd_work_group_size(LOSS_WG, 1, 1)))
void dkd_forward(__global const float *s, const ulong s_off, __global const float *t,
                 const ulong t_off, __global const int *labels, const ulong labels_off,
                 __global float *work, const ulong work_off, __global float *ds, const ulong ds_off,
                 const int has_grad, const int C, const float T, const float alpha,
                 const float beta, const float gscale)
{
    __local float4 buf[LOSS_WG];
    const int n = (int)get_group_id(0), l = (int)get_local_id(0);
    __global const float *srow = s + s_off + (ulong)n * (ulong)C;
    __global const float *trow = t + t_off + (ulong)n * (ulong)C;
    const int y = labels[labels_off + (ulong)n];
    if (y < 0 || y >= C) {
        if (l == 0)
            work[work_off + (ulong)n] = NAN;
        return; /* uniform over the work-group: no barrier is skipped by some only */
    }
    const float ay = srow[y] / T, by = trow[y] / T;

    /* non-target log-sum-exp of a and b */
    float ma = -INFINITY, mb = -INFINITY;
    for (int j = l; j < C; j += LOSS_WG)
        if (j != y) {
            ma = fmax(ma, srow[j] / T);
            mb = fmax(mb, trow[j] / T);
        }
    float4 m = wg_max4((float4)(ma, mb, 0.0f, 0.0f), buf);
    float sa = 0.0f, sb = 0.0f;
    for (int j = l; j < C; j += LOSS_WG)
        if (j != y) {
            sa += exp(srow[j] / T - m.x);
            sb += exp(trow[j] / T - m.y);
        }
    const float4 logsum = log(wg_sum4((float4)(sa, sb, 1.0f, 1.0f), buf));
    /* everything below relative to r = max(a) (rb = max(b)), as in the header */
    const float ra = fmax(m.x, ay), rb = fmax(m.y, by);
    const float nt_a = (m.x - ra) + logsum.x, nt_b = (m.y - rb) + logsum.y;
    const float ay_r = ay - ra, by_r = by - rb;
    const float lse_a = logaddexp(nt_a, ay_r), lse_b = logaddexp(nt_b, by_r);
    const float lse2_a = logaddexp(nt_a, ay_r - 1000.0f), lse2_b = logaddexp(nt_b, by_r - 1000.0f);

    /* target / non-target binary distributions */
    const float logps1 = ay_r - lse_a, logps2 = nt_a - lse_a;
    const float logqs1 = by_r - lse_b, logqs2 = nt_b - lse_b;
    const float ps1 = exp(logps1), qs1 = exp(logqs1);

    float nckd = 0.0f;
    __global float *drow = ds + ds_off + (ulong)n * (ulong)C;
    for (int j = l; j < C; j += LOSS_WG) {
        float shift = j == y ? 1000.0f : 0.0f;
        float aj = srow[j] / T - ra, bj = trow[j] / T - rb;
        float logp2 = (aj - shift) - lse2_a, logq2 = (bj - shift) - lse2_b;
        float q2 = exp(logq2);
        nckd += kl_term(q2, logq2, logp2);
        if (has_grad) {
            float dt = j == y ? ps1 - qs1 : (qs1 - ps1) * exp(aj - nt_a);
            drow[j] += gscale * (alpha * dt + beta * (exp(logp2) - q2));
        }
    }
    nckd = wg_sum4((float4)(nckd, 0.0f, 0.0f, 0.0f), buf).x;
    if (l == 0) {
        float tckd = kl_term(qs1, logqs1, logps1) + kl_term(exp(logqs2), logqs2, logps2);
        work[work_off + (ulong)n] = alpha * tckd + beta * nckd;
    }
}

/* value[0] = scale * sum(work[0..n)), one work-group of LOSS_WG, fixed order */
__kernel __attribute__((reqd_work_group_size(LOSS_WG, 1, 1)))
void loss_mean(__global float *value, const ulong value_off, __global const float *work,
               const ulong work_off, const int n, const float scale)
{
    __local float4 buf[LOSS_WG];
    const int l = (int)get_local_id(0);
    float acc = 0.0f;
    for (int i = l; i < n; i += LOSS_WG)
        acc += work[work_off + (ulong)i];
    acc = wg_sum4((float4)(acc, 0.0f, 0.0f, 0.0f), buf).x;
    if (l == 0)
        value[value_off] = scale * acc;
}
