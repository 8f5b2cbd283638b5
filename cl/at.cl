/* AT (Zagoruyko and Komodakis 2017, "Paying More Attention to Attention"),
 * as mdistiller's mdistiller/distillers/AT.py: for one stage of student
 * features fs (N, Cs, Hs, Ws) and teacher features ft (N, Ct, Ht, Wt), the
 * larger map is average-pooled to the smaller (adaptive_avg_pool2d, side by
 * side), then per sample
 *   q = mean over channels of f^p    (H*W values),
 *   a = q / max(|q|, 1e-12)          (F.normalize),
 *   term = mean over the N * H * W elements of (a_s - a_t)^2.
 * (src/loss/at.c launches these in order on the in-order queue, stage by
 * stage.) One work-item per map position, per sample or per student
 * element; no local memory, barriers or atomics: every run gives the same
 * bits.
 *
 * Gradient: d term / d a_s = 2 (a_s - a_t) / (N H W) = g; through the
 * normalisation dq = (g - a_s <a_s, g>) / |q_s| (g / 1e-12 when |q_s| is
 * below it, as torch's clamp_min backward); through the channel mean
 * df = dq * p f^(p-1) / C, spread over the pool's bin / its size (bins of
 * sides that do not divide overlap: an element may sit in two). */

#define AT_EPS 1e-12f

/* v^p, exact for the usual p = 2 (and 1) */
static float at_pow(const float v, const float p)
{
    return p == 2.0f ? v * v : p == 1.0f ? v : pow(v, p);
}

/* adaptive_avg_pool2d's bins: output o of `out` covers inputs
 * [floor(o in / out), ceil((o + 1) in / out)) of `in` */
static int at_lo(const int o, const int in, const int out)
{
    return (o * in) / out;
}

static int at_hi(const int o, const int in, const int out)
{
    return ((o + 1) * in + out - 1) / out;
}

/* The average of the map m (H, W) over the bin (oy, ox) of an Ho x Wo pool. */
static float at_cell(__global const float *m, const int H, const int W, const int Ho, const int Wo, const int oy,
                     const int ox)
{
    if (H == Ho && W == Wo)
        return m[oy * W + ox];
    const int y0 = at_lo(oy, H, Ho), y1 = at_hi(oy, H, Ho), x0 = at_lo(ox, W, Wo), x1 = at_hi(ox, W, Wo);
    float s = 0.0f;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            s += m[y * W + x];
    return s / (float)((y1 - y0) * (x1 - x0));
}

/* q[n, j] = mean over c of at_cell(f[n, c])^p, j over the Ho x Wo map */
__kernel void at_map(__global const float *f, const ulong f_off, __global float *q, const ulong q_off, const int N,
                     const int C, const int H, const int W, const int Ho, const int Wo, const float p)
{
    const int P = Ho * Wo;
    const int i = (int)get_global_id(0);
    if (i >= N * P)
        return;
    const int n = i / P, j = i % P;
    __global const float *fn = f + f_off + (ulong)n * C * H * W;
    float acc = 0.0f;
    for (int c = 0; c < C; c++)
        acc += at_pow(at_cell(fn + (ulong)c * H * W, H, W, Ho, Wo, j / Wo, j % Wo), p);
    q[q_off + (ulong)i] = acc / (float)C;
}
/* One work-item per sample n: terms[n] = inv_np * sum_j (a_s - a_t)^2 and,
 * with has_grad, qs[n] replaced by weight * d(term) / d qs[n]. */
__kernel void at_norm(__global float *qs, const ulong qs_off, __global const float *qt, const ulong qt_off,
                      __global float *terms, const ulong terms_off, const int N, const int P, const float inv_np,
                      const float weight, const int has_grad)
{
    const int n = (int)get_global_id(0);
    if (n >= N)
        return;
    __global float *s = qs + qs_off + (ulong)n * P;
    __global const float *t = qt + qt_off + (ulong)n * P;
    float ss = 0.0f, tt = 0.0f;
    for (int j = 0; j < P; j++) {
        ss += s[j] * s[j];
        tt += t[j] * t[j];
    }
    const float ns = sqrt(ss), ds = fmax(ns, AT_EPS), dt = fmax(sqrt(tt), AT_EPS);
    float acc = 0.0f, dot = 0.0f;
    for (int j = 0; j < P; j++) {
        const float a = s[j] / ds, d = a - t[j] / dt;
        acc += d * d;
        dot += a * d;
    }
    terms[terms_off + (ulong)n] = acc * inv_np;
    if (!has_grad)
        return;
    const float c = 2.0f * inv_np * weight, proj = ns > AT_EPS ? dot : 0.0f;
    for (int j = 0; j < P; j++) {
        const float a = s[j] / ds, d = a - t[j] / dt;
        s[j] = c * (d - a * proj) / ds;
    }
}

/* One work-item per element of the student's features: df += the sum over
 * the pool bins holding it of dq * p at_cell^(p-1) / (C * the bin's size). */
__kernel void at_backward(__global const float *f, const ulong f_off, __global float *df, const ulong df_off,
                          __global const float *dq, const ulong dq_off, const int N, const int C, const int H,
                          const int W, const int Ho, const int Wo, const float p)
{
    const int i = (int)get_global_id(0);
    if (i >= N * C * H * W)
        return;
    const int x = i % W, y = (i / W) % H, n = i / (C * H * W);
    __global const float *m = f + f_off + (ulong)(i - y * W - x);
    __global const float *g = dq + dq_off + (ulong)n * Ho * Wo;
    float acc = 0.0f;
    /* the bins holding y: at most two, next to y Ho / H */
    const int cy = (y * Ho) / H, cx = (x * Wo) / W;
    for (int oy = max(cy - 1, 0); oy <= min(cy + 1, Ho - 1); oy++) {
        if (y < at_lo(oy, H, Ho) || y >= at_hi(oy, H, Ho))
            continue;
        for (int ox = max(cx - 1, 0); ox <= min(cx + 1, Wo - 1); ox++) {
            if (x < at_lo(ox, W, Wo) || x >= at_hi(ox, W, Wo))
                continue;
            const int size = (at_hi(oy, H, Ho) - at_lo(oy, H, Ho)) * (at_hi(ox, W, Wo) - at_lo(ox, W, Wo));
            const float v = at_cell(m, H, W, Ho, Wo, oy, ox);
            acc += g[oy * Wo + ox] * p * at_pow(v, p - 1.0f) / (float)size;
        }
    }
    df[df_off + (ulong)i] += acc / (float)C;
}
