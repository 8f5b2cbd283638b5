#include "common.h"

#include <math.h>
#include <stdlib.h>

int fk_test_failures;

int fk_test_runtime(fk_runtime **rt)
{
    fk_device_info *list;
    int count;
    if (fk_device_list(&list, &count) != FK_OK)
        return 1;
    free(list);
    if (count == 0) {
        printf("SKIP: no OpenCL device on this machine\n");
        return FK_TEST_SKIP;
    }
    return fk_runtime_create(rt) == FK_OK ? 0 : 1;
}

size_t fk_test_close(const char *what, const float *got, const float *ref, size_t n,
                     double atol, double rtol)
{
    size_t bad = 0, worst = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i];
        double tol = atol + rtol * fabs(r);
        double err = fabs(g - r);
        int ok = isfinite(g) ? err <= tol : (isnan(g) ? 0 : g == r);
        if (!ok) {
            bad++;
            double excess = isfinite(err) ? err - tol : INFINITY;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = i;
            }
        }
    }
    if (bad)
        fprintf(stderr,
                "%s: %zu of %zu elements out of tolerance (atol %g, rtol %g); worst at [%zu]: "
                "got %.9g, ref %.9g, |diff| %.3g\n",
                what, bad, n, atol, rtol, worst, (double)got[worst], (double)ref[worst],
                fabs((double)got[worst] - (double)ref[worst]));
    return bad;
}

void fk_test_fill_uniform(float *x, size_t n, unsigned seed, float lo, float hi)
{
    unsigned long long s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        unsigned long long r = s * 2685821657736338717ull;
        x[i] = lo + (hi - lo) * (float)((r >> 40) / (double)(1ull << 24));
    }
}

int fk_test_result(const char *name)
{
    if (fk_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, fk_test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

int fk_test_fixture(const char *name, fk_st_file *out)
{
    const char *root = getenv("FIGKD_SOURCE_ROOT");
    char path[2048];
    snprintf(path, sizeof path, "%s/tests/ref/fixtures/%s", root ? root : ".", name);
    if (fk_st_read(path, out) != FK_OK) {
        fprintf(stderr, "cannot load fixture %s (run from meson test, which sets FIGKD_SOURCE_ROOT)\n", path);
        return 1;
    }
    return 0;
}

const float *fk_test_tensor(const fk_st_file *f, const char *name, size_t *count)
{
    const fk_st_tensor *t = fk_st_find(f, name);
    if (!t || t->dtype != FK_DT_F32) {
        fprintf(stderr, "fixture tensor %s missing or not F32\n", name);
        fk_test_failures++;
        return NULL;
    }
    if (count)
        *count = t->nbytes / sizeof(float);
    return t->data;
}

int fk_test_upload(fk_runtime *rt, const float *x, size_t n, cl_mem *out)
{
    if (fk_buffer_create(rt, n * sizeof(float), 0, out) != FK_OK)
        return 1;
    return fk_buffer_write(rt, *out, 0, n * sizeof(float), x) != FK_OK;
}
