/* BatchNorm2d's train-mode backward (bn_backward_img of batchnorm.cl) with
 * the input, the output gradient and the fused ReLU's gate read through
 * CL_RGBA float 1D image views, four elements per read, for the devices
 * whose convs read images (src/ops/batchnorm.c; Mesa's llvmpipe, where a
 * buffer load is a loop over the SIMD lanes and a texel fetch is not).
 * H*W a multiple of 4, the views' offsets in texels. Same sums as
 * bn_backward_img in four lanes instead of eight. Build option: LOCAL as
 * batchnorm.cl. */

#include "batchnorm.clh"

#define KAHAN_ADD4(sum, comp, v) KAHAN_ADD_OF(float4, sum, comp, v)

/* BN_DY of batchnorm.cl for the four elements of texel t (yt: the gate's) */
inline float4 bn_dy4(__read_only image1d_buffer_t dy, __read_only image1d_buffer_t y, int t, int yt, int gated)
{
    const float4 g = read_imagef(dy, t);
    return gated ? select((float4)(0.0f), 0.0f + g, isgreater(read_imagef(y, yt), (float4)(0.0f))) : g;
}

inline float lanes_sum4(float4 v) { return (v.x + v.y) + (v.z + v.w); }

/* Channel get_group_id(0): dbeta += sum dy, dgamma += sum dy * xhat,
 * din += gamma * invstd * (dy - sum dy / M - xhat * sum(dy * xhat) / M),
 * each work-item taking whole images (img = lid, lid + LOCAL, ...). */
__kernel __attribute__((reqd_work_group_size(LOCAL, 1, 1)))
void bn_backward_t4(__global float *din, const ulong din_off, __global float *dgamma, const ulong dg_off,
                    __global float *dbeta, const ulong db_off, __read_only image1d_buffer_t dout, const int dout_t,
                    __read_only image1d_buffer_t gate, const int gate_t, __read_only image1d_buffer_t in,
                    const int in_t, __global const float *gamma, const ulong g_off, __global const float *save_mean,
                    const ulong sm_off, __global const float *save_invstd, const ulong si_off, const int n,
                    const int c, const int hw, const int want_din, const int want_dgamma, const int want_dbeta,
                    const int gated)
{
    __local float buf[LOCAL];
    const int ch = get_group_id(0), hw4 = hw / 4;
    const float mean = save_mean[sm_off + ch], invstd = save_invstd[si_off + ch];
    const float m = (float)n * (float)hw;
    float s = 0.0f, cs = 0.0f, sx = 0.0f, cx = 0.0f;
    for (int img = get_local_id(0); img < n; img += LOCAL) {
        const int base = (img * c + ch) * hw4;
        float4 a = (float4)(0.0f), ca = (float4)(0.0f), b = (float4)(0.0f), cb = (float4)(0.0f);
        for (int i = 0; i < hw4; i++) {
            const float4 g = bn_dy4(dout, gate, dout_t + base + i, gate_t + base + i, gated);
            KAHAN_ADD4(a, ca, g);
            KAHAN_ADD4(b, cb, g * ((read_imagef(in, in_t + base + i) - mean) * invstd));
        }
        KAHAN_ADD(s, cs, lanes_sum4(a) - lanes_sum4(ca));
        KAHAN_ADD(sx, cx, lanes_sum4(b) - lanes_sum4(cb));
    }
    const float sum_dy = group_sum(buf, s);
    const float sum_dy_xhat = group_sum(buf, sx);
    if (get_local_id(0) == 0)
        store_param_grads(sum_dy, sum_dy_xhat, ch, dgamma + dg_off, dbeta + db_off, want_dgamma, want_dbeta);
    if (!want_din)
        return;
    const float k = gamma[g_off + ch] * invstd, mean_dy = sum_dy / m, mean_dy_xhat = sum_dy_xhat / m;
    for (int img = get_local_id(0); img < n; img += LOCAL) {
        const int base = (img * c + ch) * hw4;
        __global float *dx = din + din_off + (size_t)base * 4;
        for (int i = 0; i < hw4; i++) {
            const float4 xhat = (read_imagef(in, in_t + base + i) - mean) * invstd;
            const float4 g = bn_dy4(dout, gate, dout_t + base + i, gate_t + base + i, gated);
            vstore4(vload4(i, dx) + k * (g - mean_dy - xhat * mean_dy_xhat), i, dx);
        }
    }
}
