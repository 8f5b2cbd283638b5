/* BatchNorm2d over NCHW, PyTorch's rules (train: batch mean and biased
 * variance, running stats with the unbiased variance; eval: running stats).
 * Build option: -DLOCAL=<work-group size of the per-channel kernels, a power
 * of two>. The per-channel kernels run one work-group per channel: each
 * work-item sums a strided share of the channel's N*H*W elements with Kahan
 * compensation, then the work-group adds the partial sums pairwise in local
 * memory, so the error stays small for 10^5 elements per channel. */

#include "batchnorm.clh"

/* Each work-item walks channel ch's elements j = lid, lid + LOCAL, ... of the
 * flattened (N, HW) index, tracking (image, position) without a division
 * per step:
 *     WALK_BEGIN(n, hw)  size_t i = WALK_INDEX(c, ch); ...  WALK_END */
#define WALK_BEGIN(n, hw)                                                          \
    {                                                                              \
        uint hw_ = (uint)(hw), m_ = (uint)(n) * hw_;                               \
        uint step_img_ = LOCAL / hw_, step_p_ = LOCAL % hw_;                       \
        uint img_ = get_local_id(0) / hw_, p_ = get_local_id(0) % hw_;             \
        for (uint j_ = get_local_id(0); j_ < m_; j_ += LOCAL) {
#define WALK_INDEX(c, ch) (((size_t)img_ * (size_t)(c) + (size_t)(ch)) * (size_t)hw_ + p_)
#define WALK_END                                                                   \
            p_ += step_p_;                                                         \
            img_ += step_img_;                                                     \
            if (p_ >= hw_) {                                                       \
                p_ -= hw_;                                                         \
                img_++;                                                            \
            }                                                                      \
        }                                                                          \
    }

/* The end of train-mode statistics of channel ch (one work-item): from the
 * first-pass mean and the sums of d = x - mean and d^2 over the M = m
 * elements, save mean and 1/sqrt(var + eps) (biased variance), update the
 * running mean and (unbiased) variance and num_batches_tracked. */
inline void store_stats(float mean, float sum_d, float sum_sq, float m, int ch, __global float *save_mean,
                        __global float *save_invstd, __global float *running_mean, __global float *running_var,
                        __global float *num_batches, float eps, float momentum)
{
    float var_sum = fmax(sum_sq - sum_d * sum_d / m, 0.0f); /* M * biased variance */
    mean += sum_d / m;
    save_mean[ch] = mean;
    save_invstd[ch] = 1.0f / sqrt(var_sum / m + eps);
    running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * mean;
    running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * (var_sum / (m - 1.0f));
    if (ch == 0)
        num_batches[0] += 1.0f;
}

/* Train-mode statistics of channel get_group_id(0): save mean and
 * 1/sqrt(var + eps) (biased variance), update running_mean, running_var
 * (unbiased) and num_batches_tracked. Variance by the corrected two-pass
 * formula: (sum d^2 - (sum d)^2 / M) / M with d = x - mean. */
__kernel __attribute__((reqd_work_group_size(LOCAL, 1, 1)))
void bn_stats(__global const float *in, const ulong in_off, __global float *save_mean,
              const ulong sm_off, __global float *save_invstd, const ulong si_off,
              __global float *running_mean, const ulong rm_off, __global float *running_var,
              const ulong rv_off, __global float *num_batches, const ulong nb_off, const int n,
              const int c, const int hw, const float eps, const float momentum)
{
    __local float buf[LOCAL];
    int ch = get_group_id(0);
    __global const float *x = in + in_off;
    float m = (float)n * (float)hw;

    float s = 0.0f, comp = 0.0f;
    WALK_BEGIN(n, hw)
        KAHAN_ADD(s, comp, x[WALK_INDEX(c, ch)]);
    WALK_END
    float mean = group_sum(buf, s) / m;

    float sd = 0.0f, cd = 0.0f, sq = 0.0f, cq = 0.0f;
    WALK_BEGIN(n, hw)
        float d = x[WALK_INDEX(c, ch)] - mean;
        KAHAN_ADD(sd, cd, d);
        KAHAN_ADD(sq, cq, d * d);
    WALK_END
    float sum_d = group_sum(buf, sd);
    float sum_sq = group_sum(buf, sq);
    if (get_local_id(0) == 0)
        store_stats(mean, sum_d, sum_sq, m, ch, save_mean + sm_off, save_invstd + si_off, running_mean + rm_off,
                    running_var + rv_off, num_batches + nb_off, eps, momentum);
}

/* out = (x - mean) * invstd * gamma + beta, elementwise; grid (HW rounded
 * up, C, N). Train mode passes the saved mean and invstd; eval mode
 * (stat_is_var nonzero) the running mean and variance. With relu nonzero
 * (a ReLU fused into the BN) the value then goes through relu.cl's
 * relu_forward: 0 unless above 0, NaN passing through. */
__kernel void bn_apply(__global float *out, const ulong out_off, __global const float *in,
                       const ulong in_off, __global const float *mean, const ulong mean_off,
                       __global const float *stat, const ulong stat_off, __global const float *gamma,
                       const ulong g_off, __global const float *beta, const ulong b_off, const int c,
                       const int hw, const int stat_is_var, const float eps, const int relu)
{
    int i = get_global_id(0), ch = get_global_id(1);
    size_t img = get_global_id(2);
    if (i >= hw)
        return;
    float s = stat[stat_off + ch];
    float invstd = stat_is_var ? 1.0f / sqrt(s + eps) : s;
    size_t at = (img * (size_t)c + (size_t)ch) * (size_t)hw + (size_t)i;
    float v = (in[in_off + at] - mean[mean_off + ch]) * (invstd * gamma[g_off + ch]) + beta[b_off + ch];
    if (relu && !isnan(v) && !(v > 0.0f))
        v = 0.0f;
    out[out_off + at] = v;
}

/* The gradient a BN's backward takes at element i: dy[i], or with a fused
 * ReLU (gated nonzero, y the ReLU's output) what relu.cl's relu_backward
 * leaves in a zeroed buffer: 0 + dy[i] where y[i] > 0, else 0. */
#define BN_DY(dy, y, i, gated) ((gated) ? ((y)[i] > 0.0f ? 0.0f + (dy)[i] : 0.0f) : (dy)[i])
/* the same for the 8 elements from i */
inline float8 bn_dy8(__global const float *dy, __global const float *y, int i, int gated)
{
    float8 g = vload8(0, dy + i);
    return gated ? select((float8)(0.0f), 0.0f + g, isgreater(vload8(0, y + i), (float8)(0.0f))) : g;
}

/* bn_apply with BN_RUN consecutive elements per work-item (the channel's
 * four parameters loaded once for them); grid (ceil(HW / BN_RUN), C, N).
 * For devices where every load costs a loop over the SIMD lanes (Mesa's
 * llvmpipe, src/ops/batchnorm.c). */
#define BN_RUN 8
__kernel void bn_apply_run(__global float *out, const ulong out_off, __global const float *in,
                           const ulong in_off, __global const float *mean, const ulong mean_off,
                           __global const float *stat, const ulong stat_off, __global const float *gamma,
                           const ulong g_off, __global const float *beta, const ulong b_off, const int c,
                           const int hw, const int stat_is_var, const float eps, const int relu)
{
    const int i0 = (int)get_global_id(0) * BN_RUN, ch = (int)get_global_id(1);
    const size_t img = get_global_id(2);
    if (i0 >= hw)
        return;
    const float s = stat[stat_off + ch];
    const float invstd = stat_is_var ? 1.0f / sqrt(s + eps) : s;
    const float scale = invstd * gamma[g_off + ch], m = mean[mean_off + ch], b = beta[b_off + ch];
    const size_t at = (img * (size_t)c + (size_t)ch) * (size_t)hw;
    for (int i = i0; i < min(i0 + BN_RUN, hw); i++) {
        float v = (in[in_off + at + i] - m) * scale + b;
        if (relu && !isnan(v) && !(v > 0.0f))
            v = 0.0f;
        out[out_off + at + i] = v;
    }
}

/* Backward of train mode for channel get_group_id(0), with xhat = (x - mean)
 * * invstd:  dbeta += sum dy,  dgamma += sum dy * xhat,
 * din += gamma * invstd * (dy - sum dy / M - xhat * sum(dy * xhat) / M).
 * Flags say which gradients to produce (a NULL gradient is skipped); with
 * gated nonzero dy is the gradient of a fused ReLU's output `gate` and goes
 * through its gate first (BN_DY). */
__kernel __attribute__((reqd_work_group_size(LOCAL, 1, 1)))
void bn_backward(__global float *din, const ulong din_off, __global float *dgamma, const ulong dg_off,
                 __global float *dbeta, const ulong db_off, __global const float *dout,
                 const ulong dout_off, __global const float *gate, const ulong gate_off,
                 __global const float *in, const ulong in_off,
                 __global const float *gamma, const ulong g_off, __global const float *save_mean,
                 const ulong sm_off, __global const float *save_invstd, const ulong si_off,
                 const int n, const int c, const int hw, const int want_din, const int want_dgamma,
                 const int want_dbeta, const int gated)
{
    __local float buf[LOCAL];
    int ch = get_group_id(0);
    __global const float *x = in + in_off;
    __global const float *dy = dout + dout_off, *y = gate + gate_off;
    float mean = save_mean[sm_off + ch], invstd = save_invstd[si_off + ch];
    float m = (float)n * (float)hw;

    float s = 0.0f, cs = 0.0f, sx = 0.0f, cx = 0.0f;
    WALK_BEGIN(n, hw)
        size_t i = WALK_INDEX(c, ch);
        float g = BN_DY(dy, y, i, gated);
        KAHAN_ADD(s, cs, g);
        KAHAN_ADD(sx, cx, g * ((x[i] - mean) * invstd));
    WALK_END
    float sum_dy = group_sum(buf, s);
    float sum_dy_xhat = group_sum(buf, sx);
    if (get_local_id(0) == 0)
        store_param_grads(sum_dy, sum_dy_xhat, ch, dgamma + dg_off, dbeta + db_off, want_dgamma, want_dbeta);
    if (want_din) {
        float k = gamma[g_off + ch] * invstd;
        float mean_dy = sum_dy / m, mean_dy_xhat = sum_dy_xhat / m;
        WALK_BEGIN(n, hw)
            size_t i = WALK_INDEX(c, ch);
            float xhat = (x[i] - mean) * invstd;
            din[din_off + i] += k * (BN_DY(dy, y, i, gated) - mean_dy - xhat * mean_dy_xhat);
        WALK_END
    }
}

/* ---- CPU devices: per-image walks --------------------------------------
 * bn_stats_img and bn_backward_img compute what bn_stats and bn_backward
 * do, but each work-item takes whole images (img = lid, lid + LOCAL, ...)
 * and sums an image's contiguous HW values in float8 pieces with
 * lane-wise Kahan compensation, then adds the per-image sums with Kahan
 * compensation: the vector units stay busy instead of one scalar Kahan
 * chain per work-item (4-7x faster on PoCL's CPU device). */

/* Kahan-compensated float8 lanes, then the lanes pairwise */
#define KAHAN_ADD8(sum, comp, v) KAHAN_ADD_OF(float8, sum, comp, v)

inline float lanes_sum8(float8 v)
{
    float4 a = v.lo + v.hi;
    float2 b = a.lo + a.hi;
    return b.x + b.y;
}

/* sum of p[0..hw) - shift, and of (p[q] - shift)^2 when sq is given */
inline float img_sums(__global const float *p, int hw, float shift, float *sq)
{
    float8 s = (float8)(0.0f), cs = (float8)(0.0f), q = (float8)(0.0f), cq = (float8)(0.0f);
    int i = 0;
    for (; i + 8 <= hw; i += 8) {
        float8 d = vload8(0, p + i) - shift;
        KAHAN_ADD8(s, cs, d);
        KAHAN_ADD8(q, cq, d * d);
    }
    float ts = 0.0f, tq = 0.0f;
    for (; i < hw; i++) {
        float d = p[i] - shift;
        ts += d;
        tq += d * d;
    }
    *sq = lanes_sum8(q) - lanes_sum8(cq) + tq;
    return lanes_sum8(s) - lanes_sum8(cs) + ts;
}

__kernel __attribute__((reqd_work_group_size(LOCAL, 1, 1)))
void bn_stats_img(__global const float *in, const ulong in_off, __global float *save_mean,
                  const ulong sm_off, __global float *save_invstd, const ulong si_off,
                  __global float *running_mean, const ulong rm_off, __global float *running_var,
                  const ulong rv_off, __global float *num_batches, const ulong nb_off, const int n,
                  const int c, const int hw, const float eps, const float momentum)
{
    __local float buf[LOCAL];
    int ch = get_group_id(0);
    __global const float *x = in + in_off;
    float m = (float)n * (float)hw;

    float s = 0.0f, comp = 0.0f, unused;
    for (int img = get_local_id(0); img < n; img += LOCAL)
        KAHAN_ADD(s, comp, img_sums(x + ((size_t)img * c + ch) * hw, hw, 0.0f, &unused));
    float mean = group_sum(buf, s) / m;

    float sd = 0.0f, cd = 0.0f, sq = 0.0f, cq = 0.0f;
    for (int img = get_local_id(0); img < n; img += LOCAL) {
        float q;
        float d = img_sums(x + ((size_t)img * c + ch) * hw, hw, mean, &q);
        KAHAN_ADD(sd, cd, d);
        KAHAN_ADD(sq, cq, q);
    }
    float sum_d = group_sum(buf, sd);
    float sum_sq = group_sum(buf, sq);
    if (get_local_id(0) == 0)
        store_stats(mean, sum_d, sum_sq, m, ch, save_mean + sm_off, save_invstd + si_off, running_mean + rm_off,
                    running_var + rv_off, num_batches + nb_off, eps, momentum);
}

__kernel __attribute__((reqd_work_group_size(LOCAL, 1, 1)))
void bn_backward_img(__global float *din, const ulong din_off, __global float *dgamma, const ulong dg_off,
                     __global float *dbeta, const ulong db_off, __global const float *dout,
                     const ulong dout_off, __global const float *gate, const ulong gate_off,
                     __global const float *in, const ulong in_off,
                     __global const float *gamma, const ulong g_off, __global const float *save_mean,
                     const ulong sm_off, __global const float *save_invstd, const ulong si_off,
                     const int n, const int c, const int hw, const int want_din, const int want_dgamma,
                     const int want_dbeta, const int gated)
{
    __local float buf[LOCAL];
    int ch = get_group_id(0);
    float mean = save_mean[sm_off + ch], invstd = save_invstd[si_off + ch];
    float m = (float)n * (float)hw;

    float s = 0.0f, cs = 0.0f, sx = 0.0f, cx = 0.0f;
    for (int img = get_local_id(0); img < n; img += LOCAL) {
        size_t base = ((size_t)img * c + ch) * hw;
        __global const float *x = in + in_off + base, *dy = dout + dout_off + base, *y = gate + gate_off + base;
        float8 a = (float8)(0.0f), ca = (float8)(0.0f), b = (float8)(0.0f), cb = (float8)(0.0f);
        int i = 0;
        for (; i + 8 <= hw; i += 8) {
            float8 g = bn_dy8(dy, y, i, gated);
            KAHAN_ADD8(a, ca, g);
            KAHAN_ADD8(b, cb, g * ((vload8(0, x + i) - mean) * invstd));
        }
        float ta = 0.0f, tb = 0.0f;
        for (; i < hw; i++) {
            float g = BN_DY(dy, y, i, gated);
            ta += g;
            tb += g * ((x[i] - mean) * invstd);
        }
        KAHAN_ADD(s, cs, lanes_sum8(a) - lanes_sum8(ca) + ta);
        KAHAN_ADD(sx, cx, lanes_sum8(b) - lanes_sum8(cb) + tb);
    }
    float sum_dy = group_sum(buf, s);
    float sum_dy_xhat = group_sum(buf, sx);
    if (get_local_id(0) == 0)
        store_param_grads(sum_dy, sum_dy_xhat, ch, dgamma + dg_off, dbeta + db_off, want_dgamma, want_dbeta);
    if (want_din) {
        float k = gamma[g_off + ch] * invstd;
        float mean_dy = sum_dy / m, mean_dy_xhat = sum_dy_xhat / m;
        for (int img = get_local_id(0); img < n; img += LOCAL) {
            size_t base = ((size_t)img * c + ch) * hw;
            __global const float *x = in + in_off + base, *dy = dout + dout_off + base, *y = gate + gate_off + base;
            __global float *dx = din + din_off + base;
            for (int i = 0; i < hw; i++) {
                float xhat = (x[i] - mean) * invstd;
                dx[i] += k * (BN_DY(dy, y, i, gated) - mean_dy - xhat * mean_dy_xhat);
            }
        }
    }
}
