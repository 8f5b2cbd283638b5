/* GEMM through CLBlast, row-major, with CLBlast's status reported by name. */
#include "figkd/blas_tune.h"
#include "figkd/runtime.h"

#include <clblast_c.h>

static fk_status blas_check(fk_runtime *rt, CLBlastStatusCode s, const char *call,
                            size_t m, size_t n, size_t k, size_t batch)
{
    if (s == CLBlastSuccess) {
        if (rt->opts.sync)
            FK_CL_CHECK(clFinish(rt->queue));
        return FK_OK;
    }
    return fk_error(FK_ERR_BLAS, "%s (m=%zu n=%zu k=%zu batch=%zu) failed with %s on %s", call, m, n,
                    k, batch, fk_blas_errname(s), rt->dev.name);
}

fk_status fk_gemm(fk_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                  float alpha, cl_mem a, size_t a_off, size_t lda,
                  cl_mem b, size_t b_off, size_t ldb,
                  float beta, cl_mem c, size_t c_off, size_t ldc)
{
    if (m == 0 || n == 0)
        return FK_OK;
    CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor,
                                       trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
                                       trans_b ? CLBlastTransposeYes : CLBlastTransposeNo,
                                       m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c,
                                       c_off, ldc, &rt->queue, NULL);
    return blas_check(rt, s, "CLBlastSgemm", m, n, k, 1);
}

fk_status fk_gemm_strided_batched(fk_runtime *rt, bool trans_a, bool trans_b,
                                  size_t m, size_t n, size_t k, float alpha,
                                  cl_mem a, size_t a_off, size_t lda, size_t a_stride,
                                  cl_mem b, size_t b_off, size_t ldb, size_t b_stride,
                                  float beta, cl_mem c, size_t c_off, size_t ldc, size_t c_stride,
                                  size_t batch)
{
    if (m == 0 || n == 0 || batch == 0)
        return FK_OK;
    if (batch == 1)
        return fk_gemm(rt, trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c,
                       c_off, ldc);
    CLBlastStatusCode s = CLBlastSgemmStridedBatched(
        CLBlastLayoutRowMajor, trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, alpha, a, a_off, lda, a_stride,
        b, b_off, ldb, b_stride, beta, c, c_off, ldc, c_stride, batch, &rt->queue, NULL);
    return blas_check(rt, s, "CLBlastSgemmStridedBatched", m, n, k, batch);
}

int fk_blas_override(cl_device_id device, const fk_blas_params *p)
{
    const char *names[FK_BLAS_MAX_PARAMS];
    for (int i = 0; i < p->count; i++)
        names[i] = p->names[i];
    return CLBlastOverrideParameters(device, p->kernel, CLBlastPrecisionSingle, (size_t)p->count, names,
                                     p->values);
}
