/* DIST loss (src/loss/dist.c) against PyTorch float64 autograd
 * (tests/ref/gen_dist.py): value and gradient for (N, C) = (8, 10),
 * (64, 100), (5, 67), (3, 200) at T = 1 and 4, logits of +-1e3, a teacher
 * column and rows whose Pearson denominator is eps alone, one row and one
 * class. The gradient is added into a pre-filled dlogits with a weight;
 * guards around every output and the work space; dlogits NULL gives the
 * same value; a second run gives the same bits; a NaN logit gives a NaN
 * value; bad arguments are errors. */
#include "op_fixture.h"

#include "figkd/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static fk_status run_case(fk_runtime *rt, const void *k, const float *student, const float *pre, float *value,
                          float *grad);

/* Tolerances, |got - ref| <= atol + rtol * |ref|. The references are float64
 * from the same float32 inputs; the kernels work in float32 and sum
 * serially over C (row correlations) or N (column correlations). Measured
 * worst errors on PoCL (CPU) are given for each; the tolerances sit 4-10x
 * above them.
 * - value: N + C terms T^2 w (1 - r) / (N or C), each r a ratio of sums of
 *   C or N products rounded in float32: measured <= 1.2e-7 relative (one to
 *   two ulps of the sum); rtol 1e-6, and atol 1e-6 for values near 0.
 * - grad (compared as pre-filled dlogits + 0.7 * grad): each element is
 *   P (G - <P, G>) / T with G = q' / D - u p' of centred probabilities, so
 *   it carries the rounding of the centring (a difference of
 *   probabilities, ~6e-8 of the larger), of D and of the row dot product.
 *   Measured: <= 2.1e-7 absolute where |grad| < 1, <= 2.3e-5 relative on
 *   compared values above 1e-3, and 2.5e-6 relative on the case where a constant
 *   student row makes |grad| ~ 1e6 (q' / eps). atol 1e-6 covers the
 *   small elements (differences of nearly equal terms), rtol 1e-5 the
 *   large ones (the 2.3e-5 element is 1e-2, inside atol).
 * - extreme (|logits| 1e3) and eps cases use the same tolerances:
 *   probabilities that are 0 or 1 in float32 where float64 has 1e-100 or
 *   1 - 1e-100 differ far below the floors (measured <= 6e-9 absolute). */
static const fx_logit_loss DIST = {
    .run = run_case,
    .weight = 0.7f, /* gradients are added as weight * d(value)/d(student) */
    .value = {1e-6, 1e-6},
    .grad = {1e-6, 1e-5},
};

#define GUARD 11             /* elements before and after every device tensor */
#define SENTINEL -9876.543f /* their value; any write there is caught */

typedef struct dist_case {
    const char *name;
    int n, c;
    float T, beta, gamma;
    const float *student, *teacher;
} dist_case;

/* A device buffer of GUARD + n + GUARD floats, data (or SENTINEL) inside. */
static cl_mem guarded(fk_runtime *rt, const float *data, size_t n)
{
    size_t total = n + 2 * GUARD;
    float *h = malloc(total * sizeof *h);
    for (size_t i = 0; i < total; i++)
        h[i] = SENTINEL;
    if (data)
        memcpy(h + GUARD, data, n * sizeof *h);
    cl_mem b = NULL;
    int bad = fk_test_upload(rt, h, total, &b);
    CHECK(!bad, "upload of %zu floats: %s", n, fk_last_error());
    free(h);
    return bad ? NULL : b;
}

/* The n floats inside a guarded buffer into out; 0 when the guards held. */
static int guarded_read(fk_runtime *rt, cl_mem b, size_t n, float *out, const char *what)
{
    size_t total = n + 2 * GUARD;
    float *h = malloc(total * sizeof *h);
    fk_status st = fk_buffer_read(rt, b, 0, total * sizeof *h, h);
    CHECK(st == FK_OK, "%s: read: %s", what, fk_last_error());
    int bad = st != FK_OK;
    for (size_t i = 0; !bad && i < GUARD; i++)
        if (h[i] != SENTINEL || h[GUARD + n + i] != SENTINEL) {
            CHECK(0, "%s: guard element %zu %s the data overwritten", what, i,
                  h[i] != SENTINEL ? "before" : "after");
            bad = 1;
        }
    if (out)
        memcpy(out, h + GUARD, n * sizeof *h);
    free(h);
    return bad;
}

static fk_tensor view(cl_mem b, int d0, int d1)
{
    fk_tensor t = {b, GUARD, 2, {d0, d1, 1, 1}};
    return t;
}

/* One run on device copies of the case: value, and dlogits pre-filled with
 * `pre` (NULL: no gradient) read back into grad; guards of every output
 * and of the work space checked. Returns the status of fk_dist_loss. */
static fk_status run_case(fk_runtime *rt, const void *kv, const float *student, const float *pre, float *value,
                          float *grad)
{
    const dist_case *k = kv;
    size_t nc = (size_t)k->n * (size_t)k->c, nw = fk_dist_work(k->n, k->c);
    cl_mem ds = guarded(rt, student, nc), dt = guarded(rt, k->teacher, nc), dv = guarded(rt, NULL, 1);
    cl_mem dw = guarded(rt, NULL, nw), dd = pre ? guarded(rt, pre, nc) : NULL;
    fk_status st = FK_ERR_CL;
    if (ds && dt && dv && dw && (dd || !pre)) {
        fk_tensor dlog = view(dd, k->n, k->c);
        st = fk_dist_loss(rt, view(dv, 1, 1), pre ? &dlog : NULL, view(ds, k->n, k->c), view(dt, k->n, k->c),
                          k->n, k->c, k->T, k->beta, k->gamma, DIST.weight, view(dw, 1, (int)nw));
        CHECK(st == FK_OK, "%s: %s", k->name, fk_last_error());
    }
    if (st == FK_OK) {
        char what[128];
        snprintf(what, sizeof what, "%s value", k->name);
        guarded_read(rt, dv, 1, value, what);
        snprintf(what, sizeof what, "%s work", k->name);
        guarded_read(rt, dw, nw, NULL, what);
        snprintf(what, sizeof what, "%s dlogits", k->name);
        if (pre)
            guarded_read(rt, dd, nc, grad, what);
        snprintf(what, sizeof what, "%s student", k->name);
        guarded_read(rt, ds, nc, NULL, what);
    }
    cl_mem all[] = {ds, dt, dv, dw, dd};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i])
            clReleaseMemObject(all[i]);
    return st;
}

static void check_bad_arguments(fk_runtime *rt, const dist_case *k)
{
    size_t nc = (size_t)k->n * (size_t)k->c;
    cl_mem b = guarded(rt, NULL, fk_dist_work(k->n, k->c) + nc);
    if (!b)
        return;
    fk_tensor v = view(b, 1, 1), x = view(b, k->n, k->c), w = view(b, 1, (int)fk_dist_work(k->n, k->c));
    fk_tensor small = view(b, 1, (int)fk_dist_work(k->n, k->c) - 1);
    fk_error_quiet(1);
    CHECK(fk_dist_loss(rt, v, NULL, x, x, k->n, k->c, 0.0f, 1, 1, 1, w) == FK_ERR_ARG, "T = 0");
    CHECK(fk_dist_loss(rt, v, NULL, x, x, k->n, k->c, NAN, 1, 1, 1, w) == FK_ERR_ARG, "T = NaN");
    CHECK(fk_dist_loss(rt, v, NULL, x, x, 0, k->c, 4.0f, 1, 1, 1, w) == FK_ERR_ARG, "n = 0");
    CHECK(fk_dist_loss(rt, v, NULL, x, x, k->n, k->c, 4.0f, 1, 1, 1, small) == FK_ERR_ARG, "work too small");
    fk_error_quiet(0);
    CHECK(fk_dist_work(k->n, k->c) == 3 * nc + (size_t)k->n + (size_t)k->c && fk_dist_work(0, 5) == 0,
          "fk_dist_work(%d, %d) = %zu", k->n, k->c, fk_dist_work(k->n, k->c));
    clReleaseMemObject(b);
}

/* All checks of one fixture case; the NaN and argument checks on n8c10_t4. */
static void run_fixture_case(fk_runtime *rt, const fx_logit_case *c)
{
    dist_case k = {c->name, c->n, c->c, c->params[0], c->params[1], c->params[2], c->student, c->teacher};
    char what[160];
    snprintf(what, sizeof what, "%s value (T %g, beta %g, gamma %g)", k.name, (double)k.T, (double)k.beta,
             (double)k.gamma);
    fx_logit_check(rt, &DIST, c, &k, what, NULL, NULL);
    if (!strcmp(c->name, "n8c10_t4")) {
        fx_logit_check_nan(rt, &DIST, c, &k);
        check_bad_arguments(rt, &k);
    }
}

static void body(fk_runtime *rt, const fk_st_file *f)
{
    int cases = fx_logit_cases(rt, f, 3, run_fixture_case);
    CHECK(cases == 13, "%d DIST cases in the fixture, 13 expected", cases);
    printf("%d DIST cases\n", cases);
}

int main(void)
{
    return fk_test_main("test_dist", "dist.safetensors", body);
}
