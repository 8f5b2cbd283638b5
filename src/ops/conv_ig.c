/* Implicit-GEMM conv for groups == 1 on the devices that take the
 * per-work-item GEMMs (src/ops/conv.c use_wi_gemm: a device that leaves
 * long loops early, such as Mesa's llvmpipe, or FIGKD_CONV_GEMM=wi).
 * Kernels: cl/conv_ig.cl, one IG_TM x IG_TN output tile per work-item.
 *
 * Each work-item loops over the channels of its launch and, inside, the
 * KH x KW taps; the channels are cut into launches of at most IG_BUDGET
 * loop iterations (llvmpipe counts every loop's iterations of a kernel
 * together and leaves after 65535), the launches after the first adding.
 * Their sources are read through image views where that is cheaper
 * (fk_device_image_loads: llvmpipe), with the same floats and sums. */
#include "ops/conv_ig.h"

#define IG_TM 16         /* tile rows (IG_TM of cl/conv_ig.cl) */
#define IG_TN 16         /* tile columns (IG_TN) */
#define IG_LOCAL 8       /* work-items per group along the columns */
#define IG_BUDGET 16384u /* loop iterations per work-item and launch */

/* channels per launch: each costs KH*KW inner, KH middle and one outer
 * iteration when the compiler does not unroll the tap loops */
static int channels_per_launch(const fk_conv_dims *d, int channels)
{
    unsigned per = IG_BUDGET / (unsigned)(d->kh * d->kw + d->kh + 1);
    return per < 1 ? 1 : per > (unsigned)channels ? channels : (int)per;
}

/* Kernel id for d, reading a and b through image views of their buffers
 * where the device reads images faster (fk_device_image_loads) and both
 * buffers have one (a->buf and b->buf replaced by the views). */
static fk_status ig_kernel(fk_runtime *rt, fk_kernel_id id, const fk_conv_dims *d, fk_tensor *a, fk_tensor *b,
                           cl_kernel *k)
{
    bool images;
    FK_TRY(fk_device_image_loads(rt, &images));
    cl_mem ia = NULL, ib = NULL;
    if (images) {
        FK_TRY(fk_buffer_image(rt, a->buf, &ia));
        FK_TRY(fk_buffer_image(rt, b->buf, &ib));
    }
    images = ia && ib;
    if (images)
        a->buf = ia, b->buf = ib;
    return fk_kernel_defs(rt, id, (int[]){d->kh, d->kw, d->stride, d->pad, images}, k);
}

/* out = (or += after the first launch) kernel id over `channels` sliced */
static fk_status run_sliced(fk_runtime *rt, fk_kernel_id id, fk_tensor dst, fk_tensor src, fk_tensor weight,
                            const fk_conv_dims *d, size_t rows, size_t cols, int channels, bool accumulate)
{
    cl_kernel k;
    FK_TRY(ig_kernel(rt, id, d, &src, &weight, &k));
    size_t global[3] = {fk_round_up((cols + IG_TN - 1) / IG_TN, IG_LOCAL), (rows + IG_TM - 1) / IG_TM,
                        (size_t)d->n};
    size_t local[3] = {IG_LOCAL, 1, 1};
    const int per = channels_per_launch(d, channels);
    for (int c0 = 0; c0 < channels; c0 += per) {
        int cn = channels - c0 < per ? channels - c0 : per;
        FK_RUN(rt, k, 3, global, local, FK_T(dst), FK_T(src), FK_T(weight), FK_A(d->c_in), FK_A(d->h),
               FK_A(d->w), FK_A(d->c_out), FK_A(d->h_out), FK_A(d->w_out), FK_A(c0), FK_A(cn),
               FK_A(accumulate || c0 > 0 ? 1 : 0));
    }
    return FK_OK;
}

fk_status fk_conv_ig_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                             const fk_conv_dims *d)
{
    return run_sliced(rt, FK_K_CONV_FWD_IG, out, in, weight, d, (size_t)d->c_out,
                      (size_t)d->h_out * d->w_out, d->c_in, false);
}

fk_status fk_conv_ig_backward_data(fk_runtime *rt, fk_tensor din, fk_tensor dout, fk_tensor weight,
                                   const fk_conv_dims *d)
{
    return run_sliced(rt, FK_K_CONV_BWD_DATA_IG, din, dout, weight, d, (size_t)d->c_in,
                      (size_t)d->h * d->w, d->c_out, true);
}

fk_status fk_conv_ig_backward_weight(fk_runtime *rt, fk_tensor dweight, fk_tensor dout, fk_tensor in,
                                     const fk_conv_dims *d)
{
    cl_kernel k;
    FK_TRY(ig_kernel(rt, FK_K_CONV_BWD_WEIGHT_IG, d, &dout, &in, &k));
    const size_t cols = (size_t)d->c_in * d->kh * d->kw;
    size_t global[2] = {fk_round_up((cols + IG_TN - 1) / IG_TN, IG_LOCAL), ((size_t)d->c_out + IG_TM - 1) / IG_TM};
    size_t local[2] = {IG_LOCAL, 1};
    /* whole samples per launch, or output rows of one sample when a
     * sample alone loops longer than IG_BUDGET */
    const size_t per_row = (size_t)d->w_out + 1, per_sample = (size_t)d->h_out * per_row + 1;
    const size_t samples = per_sample > IG_BUDGET ? 1 : IG_BUDGET / per_sample;
    const size_t rows = per_sample > IG_BUDGET ? (IG_BUDGET / per_row ? IG_BUDGET / per_row : 1) : (size_t)d->h_out;
    const size_t out_sample = (size_t)d->c_out * d->h_out * d->w_out, in_sample = (size_t)d->c_in * d->h * d->w;
    for (size_t s0 = 0; s0 < (size_t)d->n; s0 += samples)
        for (size_t y0 = 0; y0 < (size_t)d->h_out; y0 += rows) {
            int sn = (int)((size_t)d->n - s0 < samples ? (size_t)d->n - s0 : samples);
            int yn = (int)((size_t)d->h_out - y0 < rows ? (size_t)d->h_out - y0 : rows);
            fk_tensor g = dout, x = in;
            g.off += s0 * out_sample;
            x.off += s0 * in_sample;
            FK_RUN(rt, k, 2, global, local, FK_T(dweight), FK_T(g), FK_T(x), FK_A(d->c_in), FK_A(d->h),
                   FK_A(d->w), FK_A(d->c_out), FK_A(d->h_out), FK_A(d->w_out), FK_A(sn), FK_A((int)y0),
                   FK_A(yn));
        }
    return FK_OK;
}
