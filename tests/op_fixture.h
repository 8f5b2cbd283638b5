/* Helpers of the op tests: PyTorch fixtures from tests/ref/fixtures (cases
 * "c0", "c1", ... with tensors "<case>.<name>", see tests/ref/opref.py) and
 * device tensors with guard elements on both sides. */
#ifndef FIGKD_TESTS_OP_FIXTURE_H
#define FIGKD_TESTS_OP_FIXTURE_H

#include "common.h"
#include "figkd/io.h"
#include "figkd/ops.h"

#define FX_GUARD 37            /* guard elements before and after each tensor */
#define FX_SENTINEL (-12345.5f) /* value of the guards */

/* Read tests/ref/fixtures/<name>.safetensors under $FIGKD_SOURCE_ROOT (or
 * the current directory); returns 0 or prints why and returns -1. */
int fx_open(const char *name, fk_st_file *f);
/* Number of cases c0..c<k-1> present (by their cfg tensors). */
int fx_cases(const fk_st_file *f);
/* Integer config of a case (count written to *n, at most max). */
int fx_cfg(const fk_st_file *f, int c, long long *cfg, int max);
/* Float tensor "<case>.<name>", or NULL (and a CHECK failure unless
 * optional) when absent; *count gets its element count when count != NULL. */
const float *fx_get(const fk_st_file *f, int c, const char *name, size_t *count);
/* Shape of "<case>.<name>" right-aligned into dims[4] (leading 1s), e.g.
 * (N, O) -> {1, 1, N, O}; returns its ndim or -1 when absent. */
int fx_dims(const fk_st_file *f, int c, const char *name, int dims[4]);
const float *fx_find(const fk_st_file *f, int c, const char *name, size_t *count);

/* A device tensor of n floats with FX_GUARD sentinels before and after. */
typedef struct fx_buf {
    fk_runtime *rt;
    cl_mem mem;
    size_t n;
    fk_tensor t;   /* offset FX_GUARD; ndim 1 (callers set shapes if needed) */
} fx_buf;

/* Create with data (or fill with `value` when data is NULL). */
int fx_buf_create(fk_runtime *rt, fx_buf *b, size_t n, const float *data, float value);
/* Read the n floats back into out (allocated by the caller); checks the
 * guards (a CHECK failure names `what`). */
int fx_buf_read(fx_buf *b, float *out, const char *what);
/* Read back and compare with ref (fk_test_close); returns bad count. */
size_t fx_buf_check(fx_buf *b, const float *ref, const char *what, double atol, double rtol);
void fx_buf_free(fx_buf *b);

/* ref[i] = a[i] + b[i] in a fresh allocation (expected value of a gradient
 * buffer that started at a and had b added). */
float *fx_sum(const float *a, const float *b, size_t n);

#endif
