/* Tensor plumbing: residual add, channel blocks (concat, split), channel
 * shuffle. Every "_add" kernel accumulates into its destination (backward). */

/* out = a + b */
__kernel void add_forward(__global float *out, const ulong out_off, __global const float *a,
                          const ulong a_off, __global const float *b, const ulong b_off,
                          const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        out[out_off + i] = a[a_off + i] + b[b_off + i];
}

/* out = relu(a + b): add_forward, then relu.cl's relu_forward on the sum
 * (0 unless above 0, NaN passing through), in one pass */
__kernel void add_relu_forward(__global float *out, const ulong out_off, __global const float *a,
                               const ulong a_off, __global const float *b, const ulong b_off,
                               const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n) {
        float v = a[a_off + i] + b[b_off + i];
        out[out_off + i] = isnan(v) ? v : (v > 0.0f ? v : 0.0f);
    }
}

/* Backward of add_relu_forward (out its output): g = 0 + dout where
 * out > 0, else 0 (what relu_backward leaves in the add's zeroed
 * gradient), then da += g and, when want_b, db += g (acc for each input). */
__kernel void add_relu_backward(__global float *da, const ulong da_off, __global float *db,
                                const ulong db_off, __global const float *dout, const ulong dout_off,
                                __global const float *out, const ulong out_off, const ulong n,
                                const int want_b)
{
    size_t i = get_global_id(0);
    if (i < n) {
        float g = out[out_off + i] > 0.0f ? 0.0f + dout[dout_off + i] : 0.0f;
        da[da_off + i] += g;
        if (want_b)
            db[db_off + i] += g;
    }
}

/* dx += dout */
__kernel void acc(__global float *dx, const ulong dx_off, __global const float *dout,
                  const ulong dout_off, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        dx[dx_off + i] += dout[dout_off + i];
}

/* Channel block copy: for every image, `nch` channels of HW elements from
 * src (N, src_c, HW) starting at channel src_c0 go to dst (N, dst_c, HW) at
 * channel dst_c0. Global size: (nch * HW rounded up, N). */
#define CHANNEL_BLOCK(name, OP)                                                        \
    __kernel void name(__global float *dst, const ulong dst_off, const int dst_c,       \
                       const int dst_c0, __global const float *src, const ulong src_off, \
                       const int src_c, const int src_c0, const int nch, const int hw)   \
    {                                                                                  \
        size_t i = get_global_id(0);                                                   \
        size_t img = get_global_id(1);                                                 \
        if (i < (size_t)nch * (size_t)hw) {                                            \
            size_t d = dst_off + (img * (size_t)dst_c + (size_t)dst_c0) * (size_t)hw + i; \
            size_t s = src_off + (img * (size_t)src_c + (size_t)src_c0) * (size_t)hw + i; \
            dst[d] OP src[s];                                                          \
        }                                                                              \
    }
CHANNEL_BLOCK(channel_copy, =)
CHANNEL_BLOCK(channel_acc, +=)

/* Channel shuffle as ShuffleNet: view src as (N, g, C/g, HW), transpose to
 * (N, C/g, g, HW): dst channel j*g + i takes src channel i*(C/g) + j. The
 * inverse permutation is the same map with g' = C/g, which backward uses.
 * Global size: (HW rounded up, C, N). */
#define SHUFFLE(name, OP)                                                              \
    __kernel void name(__global float *dst, const ulong dst_off, __global const float *src, \
                       const ulong src_off, const int c, const int g, const int hw)     \
    {                                                                                  \
        int p = get_global_id(0), co = get_global_id(1);                               \
        size_t img = get_global_id(2);                                                 \
        if (p < hw) {                                                                  \
            int ci = (co % g) * (c / g) + co / g;                                      \
            size_t base = img * (size_t)c * (size_t)hw + (size_t)p;                    \
            dst[dst_off + base + (size_t)co * (size_t)hw] OP src[src_off + base + (size_t)ci * (size_t)hw]; \
        }                                                                              \
    }
SHUFFLE(shuffle_copy, =)
SHUFFLE(shuffle_acc, +=)
