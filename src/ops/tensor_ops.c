/* Residual add (alone or with the ReLU after it fused in), concat and split along channels, channel shuffle
 * (cl/tensor_ops.cl). Flatten is a view and needs no code. */
#include "figkd/ops.h"

fk_status fk_add_forward(fk_runtime *rt, fk_tensor out, fk_tensor a, fk_tensor b, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_ADD_FORWARD, &k));
    FK_RUN_1D(rt, k, count, FK_T(out), FK_T(a), FK_T(b), FK_A(count));
    return FK_OK;
}

fk_status fk_add_backward(fk_runtime *rt, fk_tensor dx, fk_tensor dout, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_ACC, &k));
    FK_RUN_1D(rt, k, count, FK_T(dx), FK_T(dout), FK_A(count));
    return FK_OK;
}

fk_status fk_add_relu_forward(fk_runtime *rt, fk_tensor out, fk_tensor a, fk_tensor b, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_ADD_RELU_FORWARD, &k));
    FK_RUN_1D(rt, k, count, FK_T(out), FK_T(a), FK_T(b), FK_A(count));
    return FK_OK;
}

fk_status fk_add_relu_backward(fk_runtime *rt, const fk_tensor *da, const fk_tensor *db, fk_tensor dout,
                               fk_tensor out, size_t count)
{
    if (!da && !db)
        return FK_OK;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_ADD_RELU_BACKWARD, &k));
    fk_tensor first = da ? *da : *db;
    FK_RUN_1D(rt, k, count, FK_T(first), FK_T(da && db ? *db : first), FK_T(dout), FK_T(out), FK_A(count),
              FK_A(da && db ? 1 : 0));
    return FK_OK;
}

/* nch channels per image from src (N, src_c, HW) at src_c0 to dst (N, dst_c,
 * HW) at dst_c0; accumulate adds instead of overwriting. */
static fk_status channel_block(fk_runtime *rt, bool accumulate, fk_tensor dst, int dst_c, int dst_c0,
                               fk_tensor src, int src_c, int src_c0, int n, int nch, int hw)
{
    if (nch <= 0 || n <= 0 || hw <= 0)
        return FK_OK;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, accumulate ? FK_K_CHANNEL_ACC : FK_K_CHANNEL_COPY, &k));
    size_t global[2] = {fk_round_up((size_t)nch * (size_t)hw, 64), (size_t)n};
    FK_RUN(rt, k, 2, global, NULL, FK_T(dst), FK_A(dst_c), FK_A(dst_c0), FK_T(src), FK_A(src_c), FK_A(src_c0),
           FK_A(nch), FK_A(hw));
    return FK_OK;
}

fk_status fk_concat_forward(fk_runtime *rt, fk_tensor out, fk_tensor a, fk_tensor b, int n, int ca,
                            int cb, int hw)
{
    FK_TRY(channel_block(rt, false, out, ca + cb, 0, a, ca, 0, n, ca, hw));
    return channel_block(rt, false, out, ca + cb, ca, b, cb, 0, n, cb, hw);
}

fk_status fk_concat_backward(fk_runtime *rt, const fk_tensor *da, const fk_tensor *db, fk_tensor dout,
                             int n, int ca, int cb, int hw)
{
    if (da)
        FK_TRY(channel_block(rt, true, *da, ca, 0, dout, ca + cb, 0, n, ca, hw));
    if (db)
        FK_TRY(channel_block(rt, true, *db, cb, 0, dout, ca + cb, ca, n, cb, hw));
    return FK_OK;
}

fk_status fk_split_forward(fk_runtime *rt, fk_tensor a, fk_tensor b, fk_tensor in, int n, int ca, int cb,
                           int hw)
{
    FK_TRY(channel_block(rt, false, a, ca, 0, in, ca + cb, 0, n, ca, hw));
    return channel_block(rt, false, b, cb, 0, in, ca + cb, ca, n, cb, hw);
}

fk_status fk_split_backward(fk_runtime *rt, fk_tensor din, const fk_tensor *da, const fk_tensor *db, int n,
                            int ca, int cb, int hw)
{
    if (da)
        FK_TRY(channel_block(rt, true, din, ca + cb, 0, *da, ca, 0, n, ca, hw));
    if (db)
        FK_TRY(channel_block(rt, true, din, ca + cb, ca, *db, cb, 0, n, cb, hw));
    return FK_OK;
}

static fk_status shuffle(fk_runtime *rt, bool accumulate, fk_tensor dst, fk_tensor src, int n, int c,
                         int groups, int hw)
{
    if (groups <= 0 || c % groups != 0)
        return fk_error(FK_ERR_ARG, "channel shuffle: %d channels do not split into %d groups", c, groups);
    if (n <= 0 || c <= 0 || hw <= 0)
        return FK_OK;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, accumulate ? FK_K_SHUFFLE_ACC : FK_K_SHUFFLE_COPY, &k));
    size_t global[3] = {fk_round_up((size_t)hw, 16), (size_t)c, (size_t)n};
    FK_RUN(rt, k, 3, global, NULL, FK_T(dst), FK_T(src), FK_A(c), FK_A(groups), FK_A(hw));
    return FK_OK;
}

fk_status fk_shuffle_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, int n, int c, int groups, int hw)
{
    return shuffle(rt, false, out, in, n, c, groups, hw);
}

/* The inverse of the shuffle with g groups is the shuffle with C/g groups. */
fk_status fk_shuffle_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, int n, int c, int groups, int hw)
{
    if (groups <= 0 || c % groups != 0)
        return fk_error(FK_ERR_ARG, "channel shuffle: %d channels do not split into %d groups", c, groups);
    return shuffle(rt, true, din, dout, n, c, c / groups, hw);
}
