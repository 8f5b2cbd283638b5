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
    FK_TRY(fk_kernel(rt, FK_K_LINEAR_BIAS_ADD, &k));
    size_t global[2] = {fk_round_up(O, 32), N};
    FK_RUN(rt, k, 2, global, NULL, FK_T(out), FK_T(*bias), FK_A(out_features));
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
        FK_TRY(fk_kernel(rt, FK_K_LINEAR_BIAS_BACKWARD, &k));
        size_t global = fk_round_up(O, 32);
        FK_RUN(rt, k, 1, &global, NULL, FK_T(*dbias), FK_T(dout), FK_A(n), FK_A(out_features));
    }
    return FK_OK;
}
