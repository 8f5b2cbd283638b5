/* MLKD loss (src/loss/mlkd.c) against PyTorch float64 autograd
 * (tests/ref/gen_mlkd.py, a transcription of the authors' KD_ours.py):
 * value and gradient of each view's term for (N, C) = (8, 10), (64, 100),
 * (5, 67), (7, 10), (3, 200), (6, 10) with logits of +-300, (1, 10), at
 * T = 1, 2 and 4, with and without standardised logits, and a weak teacher
 * whose tied confidences sit at the median (the masks' "<="). The gradient
 * is added into a pre-filled dlogits with a weight; guards around every
 * output and the work space; dlogits NULL gives the same value; a second
 * run gives the same bits; a NaN logit gives a NaN value; bad arguments are
 * errors. */
#include "op_fixture.h"

#include "figkd/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static fk_status run_case(fk_runtime *rt, const void *k, const float *student, const float *pre, float *value,
                          float *grad);

/* Tolerances, |got - ref| <= atol + rtol * |ref|, against float64 from the
 * same float32 inputs. The kernels work in float32 with serial sums over
 * C or N; the correlation matrices are differences of two sums of N (or C)
 * products, which float32 rounds at ~6e-8 of the products' size, and the
 * gradient sums C + N products of these per element.
 * Measured worst on PoCL (CPU), printed by the test: value 1.1e-6
 * relative (the standardised cases: T^2 = 36 times a KL of ~0.05 whose
 * float32 log-probabilities carry ~1e-7; 6e-7 without standardising);
 * gradient 2e-8 absolute where |ref| < 1e-2 and 1.8e-6 relative above.
 * The tolerances sit 4.5-11x above. */
static const fx_logit_loss MLKD = {
    .run = run_case,
    .weight = 0.7f, /* gradients are added as weight * d(value)/d(student) */
    .value = {1e-6, 5e-6},
    .grad = {1e-6, 2e-5},
};

typedef struct mlkd_case {
    const char *name;
    int n, c, stand, view;
    float temps[FK_MLKD_TEMPS];
    const float *student, *teacher;
} mlkd_case;

static double worst_value, worst_grad_abs, worst_grad_rel; /* measured, for the log */

/* One run: value and dlogits pre-filled with `pre` (NULL: no gradient). */
static fk_status run_case(fk_runtime *rt, const void *kv, const float *student, const float *pre, float *value,
                          float *grad)
{
    const mlkd_case *k = kv;
    size_t nc = (size_t)k->n * (size_t)k->c, nw = fk_mlkd_work(k->n, k->c);
    fx_buf s = {0}, t = {0}, v = {0}, w = {0}, d = {0};
    fx_spec specs[] = {{&s, nc, student, 0}, {&t, nc, k->teacher, 0}, {&v, 1, NULL, 0}, {&w, nw, NULL, 0},
                       {&d, pre ? nc : 1, pre, 0}};
    fx_bufs_create(rt, specs, 5);
    fk_status st = FK_ERR_CL;
    if (s.mem && t.mem && v.mem && w.mem && d.mem) {
        fk_tensor dl = fx_tensor2(d.mem, FX_GUARD, k->n, k->c);
        st = fk_mlkd_loss(rt, fx_tensor2(v.mem, FX_GUARD, 1, 1), pre ? &dl : NULL,
                          fx_tensor2(s.mem, FX_GUARD, k->n, k->c), fx_tensor2(t.mem, FX_GUARD, k->n, k->c), k->n,
                          k->c, k->temps, k->view, k->stand, MLKD.weight, fx_tensor2(w.mem, FX_GUARD, 1, (int)nw));
        CHECK(st == FK_OK, "%s: %s", k->name, fk_last_error());
    }
    if (st == FK_OK) {
        fx_buf_read(&v, value, "value");
        fx_buf_guards(&w, "work");
        fx_buf_guards(&s, "student");
        if (pre)
            fx_buf_read(&d, grad, "dlogits");
    }
    fx_buf *all[] = {&s, &t, &v, &w, &d};
    fx_bufs_free(all, 5);
    return st;
}

static void measure(const float *got, const float *ref, size_t n, bool grad)
{
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]), r = fabs((double)ref[i]);
        if (!grad)
            worst_value = fmax(worst_value, e / fmax(r, 1e-30));
        else if (r < 1e-2)
            worst_grad_abs = fmax(worst_grad_abs, e);
        else
            worst_grad_rel = fmax(worst_grad_rel, e / r);
    }
}

static void check_bad_arguments(fk_runtime *rt, const mlkd_case *k)
{
    size_t nc = (size_t)k->n * (size_t)k->c, nw = fk_mlkd_work(k->n, k->c);
    cl_mem b = fx_upload(rt, NULL, nw + nc);
    if (!b)
        return;
    fk_tensor v = fx_tensor2(b, FX_GUARD, 1, 1), x = fx_tensor2(b, FX_GUARD, k->n, k->c);
    fk_tensor w = fx_tensor2(b, FX_GUARD, 1, (int)nw), small = fx_tensor2(b, FX_GUARD, 1, (int)nw - 1);
    float bad_t[FK_MLKD_TEMPS] = {4, 3, 0, 2, 6};
    fk_error_quiet(1);
    CHECK(fk_mlkd_loss(rt, v, NULL, x, x, k->n, k->c, bad_t, 0, 0, 1, w) == FK_ERR_ARG, "T = 0");
    CHECK(fk_mlkd_loss(rt, v, NULL, x, x, k->n, k->c, k->temps, 2, 0, 1, w) == FK_ERR_ARG, "view 2");
    CHECK(fk_mlkd_loss(rt, v, NULL, x, x, 0, k->c, k->temps, 0, 0, 1, w) == FK_ERR_ARG, "n = 0");
    CHECK(fk_mlkd_loss(rt, v, NULL, x, x, k->n, 1, k->temps, 0, 1, 1, w) == FK_ERR_ARG, "standardised, c = 1");
    CHECK(fk_mlkd_loss(rt, v, NULL, x, x, k->n, k->c, k->temps, 0, 0, 1, small) == FK_ERR_ARG, "work too small");
    fk_error_quiet(0);
    clReleaseMemObject(b);
}

/* All checks of one fixture case (params [T, standardize, view]); the NaN
 * and argument checks on n8c10_t4. */
static void run_fixture_case(fk_runtime *rt, const fx_logit_case *c)
{
    const float *p = c->params;
    mlkd_case k = {c->name, c->n, c->c, p[1] != 0.0f, (int)p[2], {p[0], 3, 5, 2, 6}, c->student, c->teacher};
    size_t nc = (size_t)k.n * (size_t)k.c;
    char what[160];
    snprintf(what, sizeof what, "%s value (view %d, T %g%s)", k.name, k.view, (double)k.temps[0],
             k.stand ? ", standardised" : "");
    float v, *added = malloc(nc * sizeof *added);
    if (fx_logit_check(rt, &MLKD, c, &k, what, &v, added) == 0) {
        measure(&v, c->value, 1, false);
        measure(added, c->grad, nc, true);
    }
    free(added);
    if (!strcmp(c->name, "n8c10_t4_w") || !strcmp(c->name, "n8c10_t4_s"))
        fx_logit_check_nan(rt, &MLKD, c, &k);
    if (!strcmp(c->name, "n8c10_t4_w"))
        check_bad_arguments(rt, &k);
}

static void body(fk_runtime *rt, const fk_st_file *f)
{
    int cases = fx_logit_cases(rt, f, 3, run_fixture_case);
    CHECK(cases == 18, "%d MLKD cases in the fixture, 18 expected", cases);
    printf("%d MLKD cases; worst: value %.2g relative, gradient %.2g absolute (|ref| < 1e-2), %.2g relative\n", cases,
           worst_value, worst_grad_abs, worst_grad_rel);
}

int main(void)
{
    return fk_test_main("test_mlkd", "mlkd.safetensors", body);
}
