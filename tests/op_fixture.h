/* The device-op layer of the test harness (common.h): PyTorch fixtures of
 * the op tests (cases "c0", "c1", ... with tensors "<case>.<name>", see
 * tests/ref/opref.py) and device tensors with guard elements on both sides. */
#ifndef FIGKD_TESTS_OP_FIXTURE_H
#define FIGKD_TESTS_OP_FIXTURE_H

#include "common.h"
#include "figkd/ops.h"

#define FX_GUARD 37            /* guard elements before and after each tensor */
#define FX_SENTINEL (-12345.5f) /* value of the guards */

/* Number of cases c0..c<k-1> present (by their cfg tensors). */
int fx_cases(const fk_st_file *f);
/* run(rt, f, c) for every case of f after checking that there are at least
 * min_cases; returns the number of cases. */
int fx_run_cases(fk_runtime *rt, const fk_st_file *f, int min_cases,
                 void (*run)(fk_runtime *rt, const fk_st_file *f, int c));
/* Integer config of a case (count written to *n, at most max). */
int fx_cfg(const fk_st_file *f, int c, long long *cfg, int max);
/* Float tensor "<case>.<name>", or NULL (and a CHECK failure unless
 * optional) when absent; *count gets its element count when count != NULL. */
const float *fx_get(const fk_st_file *f, int c, const char *name, size_t *count);
/* Shape of "<case>.<name>" right-aligned into dims[4] (leading 1s), e.g.
 * (N, O) -> {1, 1, N, O}; returns its ndim or -1 when absent. */
int fx_dims(const fk_st_file *f, int c, const char *name, int dims[4]);
const float *fx_find(const fk_st_file *f, int c, const char *name, size_t *count);

/* A buffer of FX_GUARD + n + FX_GUARD floats on the device: the guards
 * hold FX_SENTINEL, the middle n elements data (FX_SENTINEL when data is
 * NULL). NULL, with a failed check, when it cannot be made. */
cl_mem fx_upload(fk_runtime *rt, const float *data, size_t n);
/* Read the n floats after the guard of b into out (NULL: only the guards)
 * and check that the guards still hold FX_SENTINEL (failed checks name
 * `what`); 0 when all is well. */
int fx_read(fk_runtime *rt, cl_mem b, size_t n, float *out, const char *what);
/* A 2-D tensor (d0, d1) at element off of b. */
fk_tensor fx_tensor2(cl_mem b, size_t off, int d0, int d1);

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
/* Read back and compare with ref (fk_test_close); returns bad count. With
 * FIGKD_TEST_VERBOSE=1 also prints the worst error as a share of its tolerance. */
size_t fx_buf_check(fx_buf *b, const float *ref, const char *what, double atol, double rtol);
/* Only the guards (the body of a scratch buffer is free for the op); 0 when
 * they hold, otherwise the number overwritten (a failed check names what). */
size_t fx_buf_guards(fx_buf *b, const char *what);
void fx_buf_free(fx_buf *b);

/* fx_buf_check of a gradient buffer that started at g0 and had ref added:
 * against g0 + ref (against ref alone when g0 is NULL). */
size_t fx_buf_check_added(fx_buf *b, const float *g0, const float *ref, const char *what, double atol,
                          double rtol);

/* Creating several guarded buffers at once: each spec is fx_buf_create's
 * arguments; fx_bufs_free frees a list of buffers. */
typedef struct fx_spec {
    fx_buf *b;
    size_t n;
    const float *data;
    float value;
} fx_spec;
void fx_bufs_create(fk_runtime *rt, const fx_spec *specs, size_t count);
void fx_bufs_free(fx_buf *const *bufs, size_t count);

/* Cases of a logit loss as tests/ref/gen_dist.py and gen_mlkd.py write them:
 * tensors "<name>/student" and "/teacher" (N, C), "/params", "/value" (1)
 * and "/grad" (N, C), a case per "<name>/params" in file order. */
typedef struct fx_logit_case {
    char name[64];
    int n, c;
    const float *student, *teacher, *params, *value, *grad;
} fx_logit_case;
/* run(rt, &case) for every complete case with nparams params (a failed check
 * names an incomplete one); returns the number run. */
int fx_logit_cases(fk_runtime *rt, const fk_st_file *f, size_t nparams,
                   void (*run)(fk_runtime *rt, const fx_logit_case *k));
/* The names of the cases of such a file in order: from tensor *i on, the
 * next "<name>/params" gives name (*i moves past it); 0 when none is left.
 * for (size_t i = 0; fx_next_case(f, &i, name, sizeof name);) ... */
int fx_next_case(const fk_st_file *f, size_t *i, char *name, size_t size);

/* A logit loss under test: run is one run of the test's own case k on the
 * device with the student logits `student`, the value into *value and,
 * unless pre is NULL, dlogits pre-filled with pre plus weight * the
 * gradient into grad; then the tolerances, |got - ref| <= atol + rtol * |ref|,
 * of the value and of the pre-filled dlogits. */
typedef struct fx_logit_loss {
    fk_status (*run)(fk_runtime *rt, const void *k, const float *student, const float *pre, float *value,
                     float *grad);
    float weight;
    struct {
        double atol, rtol;
    } value, grad;
} fx_logit_loss;
/* The checks of loss on fixture case c (k: the same case as run takes it):
 * the value against c->value (a failure names value_what) and dlogits
 * pre-filled with a fixed pattern plus weight * the gradient against
 * c->grad; without dlogits the same value; a second run the same bits.
 * When the first run worked (the return is 0), *value and grad (n * c
 * floats; either may be NULL) get its value and the gradient it added,
 * (dlogits - pre) / weight, for a test that measures its errors. */
int fx_logit_check(fk_runtime *rt, const fx_logit_loss *loss, const fx_logit_case *c, const void *k,
                   const char *value_what, float *value, float *grad);
/* A NaN among the student logits of c makes the value NaN (the trainer's
 * finite check catches it) rather than a number. */
void fx_logit_check_nan(fk_runtime *rt, const fx_logit_loss *loss, const fx_logit_case *c, const void *k);

#endif
