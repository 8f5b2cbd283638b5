/* FitNet's hint loss (Romero et al. 2015), as mdistiller's
 * mdistiller/distillers/FitNet.py: F.mse_loss(r, t), the mean over every
 * element of (r - t)^2, r the regressed student feature and t the
 * teacher's, both (N, C, H, W). One work-item per (sample, channel) plane
 * of hw elements: work[p] = the plane's sum of squares (loss_mean in
 * cl/loss.cl sums the planes in a fixed order), and when has_grad
 * d[i] = scale * (r[i] - t[i]) (scale = weight * 2 / numel), overwritten.
 * Serial sums, no atomics: every run gives the same bits. */

__kernel void fitnet_mse(__global const float *r, const ulong r_off, __global const float *t, const ulong t_off,
                         __global float *work, const ulong work_off, __global float *d, const ulong d_off,
                         const int planes, const int hw, const float scale, const int has_grad)
{
    const int p = (int)get_global_id(0);
    if (p >= planes)
        return;
    const ulong o = (ulong)p * hw;
    float ss = 0.0f;
    for (int i = 0; i < hw; i++) {
        const float e = r[r_off + o + i] - t[t_off + o + i];
        ss += e * e;
        if (has_grad)
            d[d_off + o + i] = scale * e;
    }
    work[work_off + (ulong)p] = ss;
}
