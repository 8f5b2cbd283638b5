/* Max, average and global average pooling (cl/pool.cl). */
#include "figkd/ops.h"

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

static fk_status pool_kernel(fk_runtime *rt, const fk_pool_dims *d, fk_kernel_id id, cl_kernel *k)
{
    return fk_kernel_defs(rt, id, (int[]){d->k, d->stride, d->pad}, k);
}

/* the size arguments of the windowed kernels */
#define POOL_SIZES(d) FK_A((d)->h), FK_A((d)->w), FK_A((d)->h_out), FK_A((d)->w_out)

/* Forward of max or average pooling: one work-item per output. */
static fk_status window_forward(fk_runtime *rt, fk_kernel_id id, fk_tensor out, fk_tensor in,
                                const fk_pool_dims *d)
{
    cl_kernel k;
    FK_TRY(pool_kernel(rt, d, id, &k));
    size_t global[3] = {fk_round_up((size_t)d->w_out, 8), (size_t)d->h_out, (size_t)d->n * (size_t)d->c};
    FK_RUN(rt, k, 3, global, NULL, FK_T(out), FK_T(in), POOL_SIZES(d));
    return FK_OK;
}

fk_status fk_maxpool_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, const fk_pool_dims *d)
{
    return window_forward(rt, FK_K_MAXPOOL_FORWARD, out, in, d);
}

fk_status fk_avgpool_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, const fk_pool_dims *d)
{
    return window_forward(rt, FK_K_AVGPOOL_FORWARD, out, in, d);
}

/* Q*Q launches (Q = ceil(k / stride)); in each, the outputs are Q apart
 * in both directions so their windows do not overlap and no two work-items
 * add into the same input element. */
fk_status fk_maxpool_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, fk_tensor in,
                              const fk_pool_dims *d)
{
    cl_kernel k;
    FK_TRY(pool_kernel(rt, d, FK_K_MAXPOOL_BACKWARD, &k));
    int q = (d->k + d->stride - 1) / d->stride;
    for (int a = 0; a < q && a < d->h_out; a++)
        for (int b = 0; b < q && b < d->w_out; b++) {
            size_t cols = (size_t)((d->w_out - b + q - 1) / q), rows = (size_t)((d->h_out - a + q - 1) / q);
            size_t global[3] = {fk_round_up(cols, 8), rows, (size_t)d->n * (size_t)d->c};
            FK_RUN(rt, k, 3, global, NULL, FK_T(din), FK_T(dout), FK_T(in), POOL_SIZES(d), FK_A(a), FK_A(b));
        }
    return FK_OK;
}

fk_status fk_avgpool_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, const fk_pool_dims *d)
{
    cl_kernel k;
    FK_TRY(pool_kernel(rt, d, FK_K_AVGPOOL_BACKWARD, &k));
    size_t global[3] = {fk_round_up((size_t)d->w, 8), (size_t)d->h, (size_t)d->n * (size_t)d->c};
    FK_RUN(rt, k, 3, global, NULL, FK_T(din), FK_T(dout), POOL_SIZES(d));
    return FK_OK;
}

static fk_status check_gap(int n, int c, int hw)
{
    if (n <= 0 || c <= 0 || hw <= 0)
        return fk_error(FK_ERR_ARG, "global average pool: bad sizes (n %d, c %d, hw %d)", n, c, hw);
    return FK_OK;
}

fk_status fk_gap_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, int n, int c, int hw)
{
    FK_TRY(check_gap(n, c, hw));
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_GAP_FORWARD, &k));
    int planes = n * c;
    size_t global = fk_round_up((size_t)planes, 32);
    FK_RUN(rt, k, 1, &global, NULL, FK_T(out), FK_T(in), FK_A(planes), FK_A(hw));
    return FK_OK;
}

fk_status fk_gap_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, int n, int c, int hw)
{
    FK_TRY(check_gap(n, c, hw));
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_GAP_BACKWARD, &k));
    size_t global[2] = {fk_round_up((size_t)hw, 32), (size_t)n * (size_t)c};
    FK_RUN(rt, k, 2, global, NULL, FK_T(din), FK_T(dout), FK_A(hw));
    return FK_OK;
}
