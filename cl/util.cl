/* Elementwise helpers shared by several modules. */

__kernel void fill_f32(__global float *x, const ulong off, const float value, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        x[off + i] = value;
}

/* y[i] += a * x[i] */
__kernel void axpy_f32(__global float *y, const ulong y_off, __global const float *x,
                       const ulong x_off, const float a, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        y[y_off + i] += a * x[x_off + i];
}

/* y[i] = x[i] */
__kernel void copy_f32(__global float *y, const ulong y_off, __global const float *x,
                       const ulong x_off, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        y[y_off + i] = x[x_off + i];
}
