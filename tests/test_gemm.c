/* fk_gemm and fk_gemm_strided_batched against a plain C reference (double
 * accumulation): transposes, offsets, leading dimensions, batches. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

/* row-major element (r, c) of op(X) where X is stored with leading dim ld */
static double at(const float *x, int trans, size_t ld, size_t r, size_t c)
{
    return trans ? x[c * ld + r] : x[r * ld + c];
}

static int run_case(fk_runtime *rt, int ta, int tb, size_t m, size_t n, size_t k, size_t batch,
                    size_t a_off, size_t b_off, size_t c_off, size_t pad, float alpha, float beta)
{
    size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t a_rows = ta ? k : m, b_rows = tb ? n : k;
    size_t a_stride = a_rows * lda + 3, b_stride = b_rows * ldb + 5, c_stride = m * ldc + 7;
    size_t a_len = a_off + batch * a_stride, b_len = b_off + batch * b_stride, c_len = c_off + batch * c_stride;
    float *a = malloc(a_len * 4), *b = malloc(b_len * 4), *c = malloc(c_len * 4), *ref = malloc(c_len * 4),
          *got = malloc(c_len * 4);
    fk_test_fill_uniform(a, a_len, 1 + (unsigned)m, -1, 1);
    fk_test_fill_uniform(b, b_len, 2 + (unsigned)n, -1, 1);
    fk_test_fill_uniform(c, c_len, 3 + (unsigned)k, -1, 1);
    memcpy(ref, c, c_len * 4);
    for (size_t bi = 0; bi < batch; bi++)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t p = 0; p < k; p++)
                    s += at(a + a_off + bi * a_stride, ta, lda, i, p) * at(b + b_off + bi * b_stride, tb, ldb, p, j);
                float *dst = ref + c_off + bi * c_stride + i * ldc + j;
                *dst = (float)(alpha * s + beta * *dst);
            }
    cl_mem da, db, dc;
    fk_status st = fk_buffer_create(rt, a_len * 4, 0, &da);
    st = st ? st : fk_buffer_create(rt, b_len * 4, 0, &db);
    st = st ? st : fk_buffer_create(rt, c_len * 4, 0, &dc);
    st = st ? st : fk_buffer_write(rt, da, 0, a_len * 4, a);
    st = st ? st : fk_buffer_write(rt, db, 0, b_len * 4, b);
    st = st ? st : fk_buffer_write(rt, dc, 0, c_len * 4, c);
    if (!st) {
        if (batch == 1)
            st = fk_gemm(rt, ta, tb, m, n, k, alpha, da, a_off, lda, db, b_off, ldb, beta, dc, c_off, ldc);
        else
            st = fk_gemm_strided_batched(rt, ta, tb, m, n, k, alpha, da, a_off, lda, a_stride, db, b_off, ldb,
                                         b_stride, beta, dc, c_off, ldc, c_stride, batch);
    }
    st = st ? st : fk_buffer_read(rt, dc, 0, c_len * 4, got);
    char what[160];
    snprintf(what, sizeof what, "gemm ta=%d tb=%d m=%zu n=%zu k=%zu batch=%zu", ta, tb, m, n, k, batch);
    CHECK(st == FK_OK, "%s: %s", what, fk_last_error());
    /* float32 sums of k products of numbers in [-1, 1]: error grows ~ sqrt(k) * eps */
    size_t bad = st ? 1 : fk_test_close(what, got, ref, c_len, 1e-5 * (double)k, 1e-5);
    CHECK(bad == 0, "%s", what);
    clReleaseMemObject(da);
    clReleaseMemObject(db);
    clReleaseMemObject(dc);
    free(a), free(b), free(c), free(ref), free(got);
    return 0;
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    (void)f;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            run_case(rt, ta, tb, 17, 23, 31, 1, 0, 0, 0, 0, 1.0f, 0.0f);
            run_case(rt, ta, tb, 64, 40, 288, 1, 5, 7, 9, 3, 0.5f, 1.0f);
            run_case(rt, ta, tb, 3, 5, 7, 4, 1, 2, 3, 1, 1.0f, 0.5f);
        }
    run_case(rt, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 2.0f, 0.0f);
    run_case(rt, 0, 1, 128, 100, 256, 1, 0, 0, 0, 0, 1.0f, 0.0f);
    /* a bad leading dimension is reported by CLBlast's status name */
    fk_error_quiet(1);
    cl_mem d;
    if (fk_buffer_create(rt, 64, 0, &d) == FK_OK) {
        fk_status st = fk_gemm(rt, false, false, 4, 4, 4, 1, d, 0, 1, d, 0, 4, 0, d, 0, 4);
        CHECK(st == FK_ERR_BLAS && strstr(fk_last_error(), "CLBlastInvalidLeadDimA"),
              "bad lda named: %s", fk_last_error());
        clReleaseMemObject(d);
    }
}

int main(void) { return fk_test_main("test_gemm", NULL, run); }
