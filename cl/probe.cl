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

/* The same count with the loop cut into an outer loop of chunk-long inner
 * loops (no single loop longer than chunk): on llvmpipe the limit counts
 * the iterations of all of a kernel's loops together, so this is cut as
 * early (tests/test_long_loops.c). */
__kernel void loop_probe_split(__global int *out, __global const int *in, const int n, const int chunk)
{
    int count = 0;
    for (int i0 = 0; i0 < n; i0 += chunk) {
        const int end = min(i0 + chunk, n);
        for (int i = i0; i < end; i++)
            count += in[i & 15];
    }
    out[0] = count;
    out[1] = 1;
}
