/* Max, average and global average pooling over NCHW planes.
 * Build options: -DK=<kernel> -DS=<stride> -DP=<pad> (not used by gap_*).
 * Grid of the windowed kernels: (columns rounded up, rows, N * C planes) of
 * the output (forward) or the input (average backward). No atomics: average
 * backward gathers (each input element visits the outputs whose windows
 * cover it); max backward scatters in Q*Q phases (Q = ceil(K/S)), each
 * phase taking outputs Q apart in both directions, whose windows never
 * overlap, so no two work-items of a launch write the same element. */

#ifdef K
/* Outputs oh whose window [oh*S - P, oh*S - P + K) covers input row i. */
inline int first_cover(int i)
{
    int t = i + P - K + 1;
    return t <= 0 ? 0 : (t + S - 1) / S;
}
inline int last_cover(int i, int n_out) { return min((i + P) / S, n_out - 1); }

/* PyTorch's CPU rule: the first maximum in row-major order wins (a NaN
 * always wins); the index starts at the first position inside the input. */
inline int window_argmax(__global const float *x, int h, int w, int oh, int ow, float *best)
{
    int hs = oh * S - P, ws = ow * S - P;
    int he = min(hs + K, h), we = min(ws + K, w);
    hs = max(hs, 0);
    ws = max(ws, 0);
    int idx = hs * w + ws;
    float m = -INFINITY;
    for (int ih = hs; ih < he; ih++)
        for (int iw = ws; iw < we; iw++) {
            float v = x[ih * w + iw];
            if (v > m || isnan(v)) {
                m = v;
                idx = ih * w + iw;
            }
        }
    *best = m;
    return idx;
}

#define Q ((K + S - 1) / S)

__kernel void maxpool_forward(__global float *out, const ulong out_off, __global const float *in,
                              const ulong in_off, const int h, const int w, const int h_out,
                              const int w_out)
{
    int ow = get_global_id(0), oh = get_global_id(1);
    size_t plane = get_global_id(2);
    if (ow >= w_out)
        return;
    float m;
    window_argmax(in + in_off + plane * (size_t)(h * w), h, w, oh, ow, &m);
    out[out_off + (plane * (size_t)h_out + (size_t)oh) * (size_t)w_out + (size_t)ow] = m;
}

/* One phase (a, b) of max backward: outputs (a + Q*y, b + Q*x) send their
 * gradient to their argmax. Grid: (ceil((w_out - b) / Q) rounded up,
 * ceil((h_out - a) / Q), planes). */
__kernel void maxpool_backward(__global float *din, const ulong din_off, __global const float *dout,
                               const ulong dout_off, __global const float *in, const ulong in_off,
                               const int h, const int w, const int h_out, const int w_out,
                               const int a, const int b)
{
    int ow = b + Q * (int)get_global_id(0), oh = a + Q * (int)get_global_id(1);
    size_t plane = get_global_id(2);
    if (ow >= w_out || oh >= h_out)
        return;
    float m;
    int idx = window_argmax(in + in_off + plane * (size_t)(h * w), h, w, oh, ow, &m);
    din[din_off + plane * (size_t)(h * w) + (size_t)idx] +=
        dout[dout_off + (plane * (size_t)h_out + (size_t)oh) * (size_t)w_out + (size_t)ow];
}

/* PyTorch's divisor with count_include_pad = true: the window clipped to the
 * padded input (always K*K in floor mode). */
inline int avg_divisor(int h, int w, int oh, int ow)
{
    int hs = oh * S - P, ws = ow * S - P;
    return (min(hs + K, h + P) - hs) * (min(ws + K, w + P) - ws);
}

__kernel void avgpool_forward(__global float *out, const ulong out_off, __global const float *in,
                              const ulong in_off, const int h, const int w, const int h_out,
                              const int w_out)
{
    int ow = get_global_id(0), oh = get_global_id(1);
    size_t plane = get_global_id(2);
    if (ow >= w_out)
        return;
    __global const float *x = in + in_off + plane * (size_t)(h * w);
    int hs = oh * S - P, ws = ow * S - P;
    int he = min(hs + K, h), we = min(ws + K, w);
    float sum = 0.0f;
    for (int ih = max(hs, 0); ih < he; ih++)
        for (int iw = max(ws, 0); iw < we; iw++)
            sum += x[ih * w + iw];
    out[out_off + (plane * (size_t)h_out + (size_t)oh) * (size_t)w_out + (size_t)ow] =
        sum / (float)avg_divisor(h, w, oh, ow);
}

__kernel void avgpool_backward(__global float *din, const ulong din_off, __global const float *dout,
                               const ulong dout_off, const int h, const int w, const int h_out,
                               const int w_out)
{
    int iw = get_global_id(0), ih = get_global_id(1);
    size_t plane = get_global_id(2);
    if (iw >= w)
        return;
    __global const float *dy = dout + dout_off + plane * (size_t)(h_out * w_out);
    int oh0 = first_cover(ih), oh1 = last_cover(ih, h_out);
    int ow0 = first_cover(iw), ow1 = last_cover(iw, w_out);
    if (oh0 > oh1 || ow0 > ow1)
        return;
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++)
            acc += dy[oh * w_out + ow] / (float)avg_divisor(h, w, oh, ow);
    din[din_off + (plane * (size_t)h + (size_t)ih) * (size_t)w + (size_t)iw] += acc;
}
#endif

/* Global average pool: one work-item per (n, c) plane of hw elements. */
__kernel void gap_forward(__global float *out, const ulong out_off, __global const float *in,
                          const ulong in_off, const int planes, const int hw)
{
    int p = get_global_id(0);
    if (p >= planes)
        return;
    __global const float *x = in + in_off + (size_t)p * (size_t)hw;
    float sum = 0.0f;
    for (int i = 0; i < hw; i++)
        sum += x[i];
    out[out_off + p] = sum / (float)hw;
}

/* din[p, i] += dout[p] / hw; grid (hw rounded up, planes) */
__kernel void gap_backward(__global float *din, const ulong din_off, __global const float *dout,
                           const ulong dout_off, const int hw)
{
    int i = get_global_id(0);
    size_t p = get_global_id(1);
    if (i < hw)
        din[din_off + p * (size_t)hw + i] += dout[dout_off + p] / (float)hw;
}
