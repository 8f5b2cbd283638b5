/* Whether 1D image reads are cheaper than buffer loads on this device
 * (src/runtime/probe.c, fk_device_image_loads): the same 16 floats per
 * iteration, read from a buffer or through a CL_R float image view of it.
 * Built only on devices with image support. */

#define PROBE_SUM(LOAD)                                                          \
    const int i = get_global_id(0);                                              \
    float s0 = 0.0f, s1 = 0.0f;                                                  \
    for (int it = 0; it < iters; it++) {                                         \
        const int b = (i * 7 + it * 16) & 4095 & ~3;                             \
        s0 += LOAD(b) * LOAD(b + 1) + LOAD(b + 2) * LOAD(b + 3) +                \
              LOAD(b + 4) * LOAD(b + 5) + LOAD(b + 6) * LOAD(b + 7);             \
        s1 += LOAD(b + 8) * LOAD(b + 9) + LOAD(b + 10) * LOAD(b + 11) +          \
              LOAD(b + 12) * LOAD(b + 13) + LOAD(b + 14) * LOAD(b + 15);         \
    }                                                                            \
    out[i] = s0 + s1;

__kernel void image_probe_buffer(__global float *out, __global const float *a, const int iters)
{
#define PROBE_BUFFER(j) a[j]
    PROBE_SUM(PROBE_BUFFER)
}

__kernel void image_probe_image(__global float *out, __read_only image1d_buffer_t a, const int iters)
{
#define PROBE_IMAGE(j) read_imagef(a, j).x
    PROBE_SUM(PROBE_IMAGE)
}
