/* Max, average and global average pooling (cl/pool.cl). */
#include "figkd/ops.h"

#include <stdio.h>

fk_status fk_pool_dims_init(fk_pool_dims *d, int n, int c, int h, int w, int k, int stride, int pad)
{
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || k <= 0 || stride <= 0 || pad < 0)
        return fk_error(FK_ERR_ARG, "pool: bad sizes (n %d, c %d, h %d, w %d, kernel %d, stride %d, pad %d)",
                        n, c, h, w, k, stride, pad);
    if (pad > k / 2)
        return fk_error(FK_ERR_ARG, "pool: pad %d should be at most half the kernel size %d (as PyTorch)", pad, k);
    int h_out = (h + 2 * pad - k) / stride + 1, w_out = (w + 2 * pad - k) / stride + 1;
    if (h + 2 * pad < k || w + 2 * pad < k || h_out <= 0 || w_out <= 0)
        return fk_error(FK_ERR_ARG, "pool: kernel %d larger than the padded input %dx%d (pad %d)", k, h, w, pad);
    *d = (fk_pool_dims){.n = n, .c = c, .h = h, .w = w, .k = k, .stride = stride, .pad = pad,
                        .h_out = h_out, .w_out = w_out};
    return FK_OK;
}

static fk_status pool_kernel(fk_runtime *rt, const fk_pool_dims *d, const char *name, cl_kernel *k)
{
    char opts[64];
    snprintf(opts, sizeof opts, "-DK=%d -DS=%d -DP=%d", d->k, d->stride, d->pad);
    return fk_kernel_get(rt, "pool", opts, name, k);
}

/* Arguments shared by the windowed kernels after the first `first` ones. */
static fk_status size_args(cl_kernel k, cl_uint first, const fk_pool_dims *d)
{
    FK_ARG(k, first, d->h);
    FK_ARG(k, first + 1, d->w);
    FK_ARG(k, first + 2, d->h_out);
    FK_ARG(k, first + 3, d->w_out);
    return FK_OK;
}

/* Forward of max or average pooling: one work-item per output. */
static fk_status window_forward(fk_runtime *rt, const char *name, fk_tensor out, fk_tensor in,
                                const fk_pool_dims *d)
{
    cl_kernel k;
    FK_TRY(pool_kernel(rt, d, name, &k));
    cl_ulong out_off = out.off, in_off = in.off;
    FK_ARG(k, 0, out.buf);
    FK_ARG(k, 1, out_off);
    FK_ARG(k, 2, in.buf);
    FK_ARG(k, 3, in_off);
    FK_TRY(size_args(k, 4, d));
    size_t global[3] = {fk_round_up((size_t)d->w_out, 8), (size_t)d->h_out, (size_t)d->n * (size_t)d->c};
    FK_LAUNCH(rt, k, 3, global, NULL);
    return FK_OK;
}

fk_status fk_maxpool_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, const fk_pool_dims *d)
{
    return window_forward(rt, "maxpool_forward", out, in, d);
}

fk_status fk_avgpool_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, const fk_pool_dims *d)
{
    return window_forward(rt, "avgpool_forward", out, in, d);
}

/* Q*Q launches (Q = ceil(k / stride)); in each, the outputs are Q apart
 * in both directions so their windows do not overlap and no two work-items
 * add into the same input element. */
fk_status fk_maxpool_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, fk_tensor in,
                              const fk_pool_dims *d)
{
    cl_kernel k;
    FK_TRY(pool_kernel(rt, d, "maxpool_backward", &k));
    cl_ulong din_off = din.off, dout_off = dout.off, in_off = in.off;
    FK_ARG(k, 0, din.buf);
    FK_ARG(k, 1, din_off);
    FK_ARG(k, 2, dout.buf);
    FK_ARG(k, 3, dout_off);
    FK_ARG(k, 4, in.buf);
    FK_ARG(k, 5, in_off);
    FK_TRY(size_args(k, 6, d));
    int q = (d->k + d->stride - 1) / d->stride;
    for (int a = 0; a < q && a < d->h_out; a++)
        for (int b = 0; b < q && b < d->w_out; b++) {
            FK_ARG(k, 10, a);
            FK_ARG(k, 11, b);
            size_t cols = (size_t)((d->w_out - b + q - 1) / q), rows = (size_t)((d->h_out - a + q - 1) / q);
            size_t global[3] = {fk_round_up(cols, 8), rows, (size_t)d->n * (size_t)d->c};
            FK_LAUNCH(rt, k, 3, global, NULL);
        }
    return FK_OK;
}

fk_status fk_avgpool_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, const fk_pool_dims *d)
{
    cl_kernel k;
    FK_TRY(pool_kernel(rt, d, "avgpool_backward", &k));
    cl_ulong din_off = din.off, dout_off = dout.off;
    FK_ARG(k, 0, din.buf);
    FK_ARG(k, 1, din_off);
    FK_ARG(k, 2, dout.buf);
    FK_ARG(k, 3, dout_off);
    FK_TRY(size_args(k, 4, d));
    size_t global[3] = {fk_round_up((size_t)d->w, 8), (size_t)d->h, (size_t)d->n * (size_t)d->c};
    FK_LAUNCH(rt, k, 3, global, NULL);
    return FK_OK;
}

fk_status fk_gap_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, int n, int c, int hw)
{
    if (n <= 0 || c <= 0 || hw <= 0)
        return fk_error(FK_ERR_ARG, "global average pool: bad sizes (n %d, c %d, hw %d)", n, c, hw);
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "pool", "", "gap_forward", &k));
    cl_ulong out_off = out.off, in_off = in.off;
    int planes = n * c;
    FK_ARG(k, 0, out.buf);
    FK_ARG(k, 1, out_off);
    FK_ARG(k, 2, in.buf);
    FK_ARG(k, 3, in_off);
    FK_ARG(k, 4, planes);
    FK_ARG(k, 5, hw);
    size_t global = fk_round_up((size_t)planes, 32);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}

fk_status fk_gap_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, int n, int c, int hw)
{
    if (n <= 0 || c <= 0 || hw <= 0)
        return fk_error(FK_ERR_ARG, "global average pool: bad sizes (n %d, c %d, hw %d)", n, c, hw);
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "pool", "", "gap_backward", &k));
    cl_ulong din_off = din.off, dout_off = dout.off;
    FK_ARG(k, 0, din.buf);
    FK_ARG(k, 1, din_off);
    FK_ARG(k, 2, dout.buf);
    FK_ARG(k, 3, dout_off);
    FK_ARG(k, 4, hw);
    size_t global[2] = {fk_round_up((size_t)hw, 32), (size_t)n * (size_t)c};
    FK_LAUNCH(rt, k, 2, global, NULL);
    return FK_OK;
}
