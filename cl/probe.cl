/* Probes of device behaviour that the OpenCL specification does not allow
 * but some drivers show (src/runtime/probe.c). */

/* out[0] = how many of n loop iterations ran (in[] holds ones, so the sum
 * cannot be computed without running the loop); out[1] = 1 when the code
 * after the loop ran. One work-item. */
__kernel void loop_probe(__global int *out, __global const int *in, const int n)
{
    int count = 0;
    for (int i = 0; i < n; i++)
        count += in[i & 15];
    out[0] = count;
    out[1] = 1;
}
