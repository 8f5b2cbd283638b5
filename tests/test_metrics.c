/* topk_hits and nonfinite_rows (cl/metrics.cl): a row of logits holding NaN
 * or Inf is never a hit, and is counted. */
#include "common.h"
#include "figkd/ops.h"

#include <math.h>

int main(void)
{
    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    enum { N = 6, C = 7 };
    float z[N][C];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++)
            z[i][j] = (float)(j == i ? 10 : j) * 0.1f;
    int y[N] = {0, 1, 2, 3, 4, 5};
    /* row 0 is right; rows 1..4 are ruined; row 5 is right */
    z[1][0] = NAN;             /* NaN elsewhere: no comparison is true */
    z[2][2] = NAN;             /* the label's logit is NaN */
    z[3][3] = INFINITY;        /* +Inf at the label */
    z[4][1] = -INFINITY;
    int hits_ok[N] = {1, 0, 0, 0, 0, 1};
    cl_mem zl = NULL, yl = NULL, acc = NULL;
    float acc0[4] = {0};
    CHECK(fk_buffer_create(rt, sizeof z, 0, &zl) == FK_OK, "create");
    CHECK(fk_buffer_create(rt, sizeof y, 0, &yl) == FK_OK, "create");
    CHECK(fk_buffer_create(rt, sizeof acc0, 0, &acc) == FK_OK, "create");
    if (fk_test_failures)
        return fk_test_result("metrics");
    fk_buffer_write(rt, zl, 0, sizeof z, z);
    fk_buffer_write(rt, yl, 0, sizeof y, y);
    fk_buffer_write(rt, acc, 0, sizeof acc0, acc0);
    fk_tensor t = {zl, 0, 2, {N, C, 1, 1}};
    CHECK(fk_topk_hits(rt, acc, 0, t, yl, 0, N, C) == FK_OK, "topk_hits");
    CHECK(fk_nonfinite_rows(rt, acc, 2, t, N, C) == FK_OK, "nonfinite_rows");
    float got[4];
    fk_buffer_read(rt, acc, 0, sizeof got, got);
    int want = 0;
    for (int i = 0; i < N; i++)
        want += hits_ok[i];
    CHECK(got[0] == (float)want, "top-1 hits %g, want %d (NaN/Inf rows must not count)", got[0], want);
    CHECK(got[1] == (float)want, "top-5 hits %g, want %d", got[1], want);
    CHECK(got[2] == 4.0f, "non-finite rows %g, want 4", got[2]);
    /* offsets: rows 4..5 only, label offset 4 */
    fk_buffer_write(rt, acc, 0, sizeof acc0, acc0);
    fk_tensor t2 = {zl, 4 * C, 2, {2, C, 1, 1}};
    CHECK(fk_topk_hits(rt, acc, 1, t2, yl, 4, 2, C) == FK_OK, "topk_hits offset");
    CHECK(fk_nonfinite_rows(rt, acc, 3, t2, 2, C) == FK_OK, "nonfinite_rows offset");
    fk_buffer_read(rt, acc, 0, sizeof got, got);
    CHECK(got[0] == 0 && got[1] == 1 && got[2] == 1 && got[3] == 1,
          "offsets: acc = %g %g %g %g, want 0 1 1 1", got[0], got[1], got[2], got[3]);
    clReleaseMemObject(zl);
    clReleaseMemObject(yl);
    clReleaseMemObject(acc);
    fk_runtime_free(rt);
    return fk_test_result("metrics");
}
