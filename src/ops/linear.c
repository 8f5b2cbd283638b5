/* Fully connected layer: out (N, O) = in (N, I) * weight (O, I)^T + bias (O),
 * the products by fk_gemm, the bias by cl/linear.cl. */
#include "figkd/ops.h"

static fk_status check_sizes(int n, int in_features, int out_features)
{
    if (n <= 0 || in_features <= 0 || out_features <= 0)
        return fk_error(FK_ERR_ARG, "linear: bad sizes (n %d, in %d, out %d)", n, in_features, out_features);
    return FK_OK;
}

fk_status fk_linear_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                            const fk_tensor *bias, int n, int in_features, int out_features)
{
    FK_TRY(check_sizes(n, in_features, out_features));
    size_t N = (size_t)n, I = (size_t)in_features, O = (size_t)out_features;
    FK_TRY(fk_gemm(rt, false, true, N, O, I, 1.0f, in.buf, in.off, I, weight.buf, weight.off, I, 0.0f,
                   out.buf, out.off, O));
    if (!bias)
        return FK_OK;
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "linear", "", "bias_add", &k));
    cl_ulong out_off = out.off, bias_off = bias->off;
    FK_ARG(k, 0, out.buf);
    FK_ARG(k, 1, out_off);
    FK_ARG(k, 2, bias->buf);
    FK_ARG(k, 3, bias_off);
    FK_ARG(k, 4, out_features);
    size_t global[2] = {fk_round_up(O, 32), N};
    FK_LAUNCH(rt, k, 2, global, NULL);
    return FK_OK;
}

fk_status fk_linear_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dweight,
                             const fk_tensor *dbias, fk_tensor dout, fk_tensor in, fk_tensor weight,
                             int n, int in_features, int out_features)
{
    FK_TRY(check_sizes(n, in_features, out_features));
    size_t N = (size_t)n, I = (size_t)in_features, O = (size_t)out_features;
    /* din (N, I) += dout (N, O) * weight (O, I) */
    if (din)
        FK_TRY(fk_gemm(rt, false, false, N, I, O, 1.0f, dout.buf, dout.off, O, weight.buf, weight.off, I,
                       1.0f, din->buf, din->off, I));
    /* dweight (O, I) += dout^T (O, N) * in (N, I) */
    if (dweight)
        FK_TRY(fk_gemm(rt, true, false, O, I, N, 1.0f, dout.buf, dout.off, O, in.buf, in.off, I, 1.0f,
                       dweight->buf, dweight->off, I));
    if (dbias) {
        cl_kernel k;
        FK_TRY(fk_kernel_get(rt, "linear", "", "bias_backward", &k));
        cl_ulong dbias_off = dbias->off, dout_off = dout.off;
        FK_ARG(k, 0, dbias->buf);
        FK_ARG(k, 1, dbias_off);
        FK_ARG(k, 2, dout.buf);
        FK_ARG(k, 3, dout_off);
        FK_ARG(k, 4, n);
        FK_ARG(k, 5, out_features);
        size_t global = fk_round_up(O, 32);
        FK_LAUNCH(rt, k, 1, &global, NULL);
    }
    return FK_OK;
}
