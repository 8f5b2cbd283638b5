/* Whether texel fetches are cheaper than buffer loads on this device
 * (src/runtime/probe.c, fk_device_image_loads): the same four float4 per
 * iteration, loaded from a buffer (vload4) or read through a CL_RGBA float
 * image view of it (the views the texel convs and BatchNorm's backward
 * read). Built only on devices with image support. */

#define PROBE_SUM(LOAD)                                                          \
    const int i = get_global_id(0);                                              \
    float4 s0 = (float4)(0.0f), s1 = (float4)(0.0f);                             \
    for (int it = 0; it < iters; it++) {                                         \
        const int b = ((i * 7 + it * 16) & 4095) >> 2; /* texel */               \
        s0 += LOAD(b) * LOAD(b + 1);                                             \
        s1 += LOAD(b + 2) * LOAD(b + 3);                                         \
    }                                                                            \
    const float4 s = s0 + s1;                                                    \
    out[i] = (s.x + s.y) + (s.z + s.w);

__kernel void image_probe_buffer(__global float *out, __global const float *a, const int iters)
{
#define PROBE_BUFFER(t) vload4(t, a)
    PROBE_SUM(PROBE_BUFFER)
}

__kernel void image_probe_image(__global float *out, __read_only image1d_buffer_t a, const int iters)
{
#define PROBE_IMAGE(t) read_imagef(a, t)
    PROBE_SUM(PROBE_IMAGE)
}
