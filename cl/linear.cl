/* Bias of the linear layer; the products go through fk_gemm (CLBlast). */

/* out[r, o] += bias[o] for rows r < n; grid (O rounded up, n) */
__kernel void bias_add(__global float *out, const ulong out_off, __global const float *bias,
                       const ulong bias_off, const int o_count)
{
    int o = get_global_id(0);
    size_t r = get_global_id(1);
    if (o < o_count)
        out[out_off + r * (size_t)o_count + o] += bias[bias_off + o];
}

/* dbias[o] += sum over rows of dout[r, o]; one work-item per column, rows
 * summed in blocks of 32 to keep the float error small for large batches. */
__kernel void bias_backward(__global float *dbias, const ulong dbias_off, __global const float *dout,
                            const ulong dout_off, const int n, const int o_count)
{
    int o = get_global_id(0);
    if (o >= o_count)
        return;
    __global const float *dy = dout + dout_off + o;
    float total = 0.0f;
    for (int r0 = 0; r0 < n; r0 += 32) {
        float part = 0.0f;
        int r1 = min(r0 + 32, n);
        for (int r = r0; r < r1; r++)
            part += dy[(size_t)r * (size_t)o_count];
        total += part;
    }
    dbias[dbias_off + o] += total;
}
