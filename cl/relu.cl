/* ReLU. Backward uses the forward output (out > 0), so it also works when
 * forward ran in place (out aliases in). */

__kernel void relu_forward(__global float *out, const ulong out_off, __global const float *in,
                           const ulong in_off, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n) {
        float x = in[in_off + i];
        /* NaN passes through, as in PyTorch */
        out[out_off + i] = isnan(x) ? x : (x > 0.0f ? x : 0.0f);
    }
}

/* din += dout where out > 0 */
__kernel void relu_backward(__global float *din, const ulong din_off, __global const float *dout,
                            const ulong dout_off, __global const float *out, const ulong out_off,
                            const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n && out[out_off + i] > 0.0f)
        din[din_off + i] += dout[dout_off + i];
}
