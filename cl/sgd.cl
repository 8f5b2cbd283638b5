/* torch.optim.SGD with dampening 0:
 *   d = g + wd * p
 *   buf = momentum * buf + d          (buf starts at 0, so the first step gives d)
 *   d = nesterov ? d + momentum * buf : buf
 *   p = p - lr * d
 * The momentum buffer starting at zero equals torch's clone on the first
 * step exactly: 0.9f * 0.0f + d == d. */
__kernel void sgd_step(__global float *p, __global const float *g, __global float *buf,
                       const ulong n, const float lr, const float momentum, const float wd,
                       const int nesterov)
{
    size_t i = get_global_id(0);
    if (i >= n)
        return;
    float d = g[i];
    if (wd != 0.0f)
        d = d + wd * p[i];
    if (momentum != 0.0f) {
        float b = momentum * buf[i] + d;
        buf[i] = b;
        d = nesterov ? d + momentum * b : b;
    }
    p[i] = p[i] - lr * d;
}
