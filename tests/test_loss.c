/* CE, KD, DKD and FiGKD losses against PyTorch (tests/ref/gen_loss.py):
 * value and gradient (torch autograd, float64) for C = 10, 40, 67, 100, 120,
 * 200, odd grids (1x67, 3x5, 5x8, 2x5) and a shape override (4x25), the
 * FiGKD variants mse/l1 over LH+HL+HH, LL alone, LH alone and all four
 * bands, and logits of magnitude 1e4. Gradients are added into a pre-filled
 * dlogits with a weight; guards around every output; dlogits NULL gives the same
 * value; finite differences of the device's own value agree with its
 * gradient; bad labels give NaN; bad arguments are errors. */
#include "op_fixture.h"

#include "figkd/loss.h"

#include <math.h>

/* Tolerances, |got - ref| <= atol + rtol * |ref|. The references are float64
 * from the same float32 inputs; the kernels work in float32. Measured worst
 * errors are 3-10x below these.
 * - value: a sum of C terms per sample then N samples, each term rounded
 *   once or twice: a few float32 ulps (rtol 2e-6), and an absolute floor
 *   for KL sums that cancel (teacher ~ student; DKD's beta = 8 scales it).
 * - grad: softmax differences of order 1/N, scaled by weight; each element
 *   carries the rounding of exp((x - max) - log(sum)) (~1e-7 relative) and
 *   for FiGKD of two 4-term Haar sums; the floor covers elements that are
 *   differences of nearly equal probabilities.
 * - extreme (|logits| up to 1e4): x - max and the KL's log-ratios of ~1e3
 *   are formed exactly or to one ulp, so values of 1e4..1e8 come out to
 *   ~1e-7 relative (rtol 1e-6); the floors cover losses where large terms
 *   cancel and probabilities that are 0 or 1 up to rounding. */
static const struct {
    double atol, rtol;
} TOL_VALUE = {1e-5, 2e-6}, TOL_GRAD = {2e-7, 1e-5}, TOL_X_VALUE = {1e-3, 1e-6}, TOL_X_GRAD = {1e-5, 1e-5};

static const float WEIGHT = 0.7f; /* gradients are added as WEIGHT * d(value)/d(logits) */

typedef struct loss_case {
    const char *name;
    int n, c, h, w;
    float T, alpha, beta;
    cl_mem student, teacher, labels; /* data at FX_GUARD (labels at LABEL_OFF) */
} loss_case;

#define LABEL_OFF 3

/* Run the loss `key` (ce, kd, dkd, figkd_<mse|l1>_<mask>) of case k. */
static fk_status run_loss(fk_runtime *rt, const loss_case *k, const char *key, fk_tensor value,
                          const fk_tensor *dlogits, fk_tensor work, float weight)
{
    fk_tensor s = fx_tensor2(k->student, FX_GUARD, k->n, k->c), t = fx_tensor2(k->teacher, FX_GUARD, k->n, k->c);
    if (!strcmp(key, "ce"))
        return fk_ce_loss(rt, value, dlogits, s, k->labels, LABEL_OFF, k->n, k->c, weight, work);
    if (!strcmp(key, "kd"))
        return fk_kd_loss(rt, value, dlogits, s, t, k->n, k->c, k->T, weight, work);
    if (!strcmp(key, "dkd"))
        return fk_dkd_loss(rt, value, dlogits, s, t, k->labels, LABEL_OFF, k->n, k->c, k->alpha, k->beta, k->T,
                           weight, work);
    char kind[8];
    int mask;
    if (sscanf(key, "figkd_%7[a-z1]_%d", kind, &mask) == 2)
        return fk_figkd_loss(rt, value, dlogits, s, t, k->n, k->c, k->h, k->w, mask,
                             !strcmp(kind, "l1") ? FK_DETAIL_L1 : FK_DETAIL_MSE, weight, work);
    return fk_error(FK_ERR_ARG, "unknown loss %s", key);
}

static const char *const KEYS[] = {"ce", "kd", "dkd", "figkd_mse_14", "figkd_l1_14",
                                   "figkd_mse_1", "figkd_mse_2", "figkd_mse_15", "figkd_l1_15"};
#define NKEYS (sizeof KEYS / sizeof *KEYS)

/* value and gradient of one loss against the fixture */
static void check_loss(fk_runtime *rt, const fk_st_file *f, const loss_case *k, const char *key)
{
    char name[128], what[192];
    snprintf(name, sizeof name, "%s/%s/value", k->name, key);
    const float *vref = fk_test_tensor(f, name, NULL);
    snprintf(name, sizeof name, "%s/%s/grad", k->name, key);
    const float *gref = fk_test_tensor(f, name, NULL);
    if (!vref || !gref)
        return;
    const bool extreme = k->name[0] == 'x';
    size_t nc = (size_t)k->n * (size_t)k->c;

    /* dlogits pre-filled with values of the gradients' size */
    float *pre = malloc(nc * sizeof *pre), *expect = malloc(nc * sizeof *expect), *got = malloc(nc * sizeof *got);
    fk_test_fill_uniform(pre, nc, (unsigned)nc, -0.05f, 0.05f);
    for (size_t i = 0; i < nc; i++)
        expect[i] = (float)((double)pre[i] + (double)WEIGHT * gref[i]);
    cl_mem dv = fx_upload(rt, NULL, 1), dd = fx_upload(rt, pre, nc);
    cl_mem dw = fx_upload(rt, NULL, fk_loss_work(k->n, k->c));
    fk_tensor value = fx_tensor2(dv, FX_GUARD, 1, 1), dlog = fx_tensor2(dd, FX_GUARD, k->n, k->c);
    fk_tensor work = fx_tensor2(dw, FX_GUARD, 1, (int)fk_loss_work(k->n, k->c));

    fk_status st = run_loss(rt, k, key, value, &dlog, work, WEIGHT);
    snprintf(what, sizeof what, "%s %s", k->name, key);
    CHECK(st == FK_OK, "%s: %s", what, fk_last_error());
    float v;
    double vat = extreme ? TOL_X_VALUE.atol : TOL_VALUE.atol, vrt = extreme ? TOL_X_VALUE.rtol : TOL_VALUE.rtol;
    double gat = extreme ? TOL_X_GRAD.atol : TOL_GRAD.atol, grt = extreme ? TOL_X_GRAD.rtol : TOL_GRAD.rtol;
    snprintf(what, sizeof what, "%s %s value", k->name, key);
    if (!fx_read(rt, dv, 1, &v, what))
        CHECK(fk_test_close(what, &v, vref, 1, vat, vrt) == 0, "%s", what);
    snprintf(what, sizeof what, "%s %s pre-filled + %g * grad", k->name, key, (double)WEIGHT);
    if (!fx_read(rt, dd, nc, got, what))
        CHECK(fk_test_close(what, got, expect, nc, gat, grt) == 0, "%s", what);
    float *wk = malloc(fk_loss_work(k->n, k->c) * sizeof *wk);
    snprintf(what, sizeof what, "%s %s work", k->name, key);
    fx_read(rt, dw, fk_loss_work(k->n, k->c), wk, what);
    free(wk);

    /* without dlogits: the same value, nothing else written */
    float v2 = NAN;
    st = run_loss(rt, k, key, value, NULL, work, WEIGHT);
    snprintf(what, sizeof what, "%s %s value without gradient", k->name, key);
    CHECK(st == FK_OK, "%s: %s", what, fk_last_error());
    if (!fx_read(rt, dv, 1, &v2, what))
        CHECK(v2 == v, "%s: %.9g, with gradient %.9g", what, (double)v2, (double)v);
    clReleaseMemObject(dv);
    clReleaseMemObject(dd);
    clReleaseMemObject(dw);
    free(pre), free(expect), free(got);
}

static int load_case(fk_runtime *rt, const fk_st_file *f, const char *name, loss_case *k)
{
    char key[128];
    size_t count = 0;
    memset(k, 0, sizeof *k);
    k->name = name;
    snprintf(key, sizeof key, "%s/params", name);
    const float *p = fk_test_tensor(f, key, &count);
    snprintf(key, sizeof key, "%s/labels", name);
    const fk_st_tensor *lt = fk_st_find(f, key);
    snprintf(key, sizeof key, "%s/student", name);
    const fk_st_tensor *st = fk_st_find(f, key);
    snprintf(key, sizeof key, "%s/teacher", name);
    const float *t = fk_test_tensor(f, key, NULL);
    CHECK(p && count == 5 && lt && lt->dtype == FK_DT_I64 && st && st->ndim == 2 && t, "case %s incomplete", name);
    if (!p || count != 5 || !lt || lt->dtype != FK_DT_I64 || !st || st->ndim != 2 || !t)
        return -1;
    k->n = (int)st->shape[0];
    k->c = (int)st->shape[1];
    k->T = p[0], k->alpha = p[1], k->beta = p[2], k->h = (int)p[3], k->w = (int)p[4];
    k->student = fx_upload(rt, st->data, (size_t)k->n * (size_t)k->c);
    k->teacher = fx_upload(rt, t, (size_t)k->n * (size_t)k->c);
    /* labels: int32 on the device, at element offset LABEL_OFF */
    int32_t *lab = calloc((size_t)k->n + LABEL_OFF, sizeof *lab);
    const int64_t *l64 = lt->data;
    for (int i = 0; i < k->n; i++)
        lab[LABEL_OFF + i] = (int32_t)l64[i];
    fk_status s = fk_buffer_create(rt, ((size_t)k->n + LABEL_OFF) * sizeof *lab, 0, &k->labels);
    s = s ? s : fk_buffer_write(rt, k->labels, 0, ((size_t)k->n + LABEL_OFF) * sizeof *lab, lab);
    CHECK(s == FK_OK, "labels of %s: %s", name, fk_last_error());
    free(lab);
    return k->student && k->teacher && s == FK_OK ? 0 : -1;
}

static void free_case(loss_case *k)
{
    if (k->student)
        clReleaseMemObject(k->student);
    if (k->teacher)
        clReleaseMemObject(k->teacher);
    if (k->labels)
        clReleaseMemObject(k->labels);
}

/* Central differences of the device's value against its gradient on the
 * first elements of a small case (float32 values, step 1e-2: the quotient
 * carries ~|value| * 6e-8 / 1e-2 of rounding and O(step^2) of curvature).
 * l1 is left out: its kinks make differences unreliable. */
static void check_finite_differences(fk_runtime *rt, const loss_case *k0, const float *s0, const char *key)
{
    loss_case k = *k0;
    size_t nc = (size_t)k.n * (size_t)k.c;
    float *s = malloc(nc * sizeof *s), *g = calloc(nc, sizeof *g);
    memcpy(s, s0, nc * sizeof *s);
    cl_mem dv, dd, dw;
    fk_status st = fk_buffer_create(rt, 4, 0, &dv);
    st = st ? st : fk_buffer_create(rt, nc * 4, 0, &dd);
    st = st ? st : fk_buffer_create(rt, (size_t)k.n * 4, 0, &dw);
    st = st ? st : fk_buffer_create(rt, (nc + 2 * FX_GUARD) * 4, 0, &k.student);
    st = st ? st : fk_buffer_write(rt, k.student, FX_GUARD * 4, nc * 4, s);
    st = st ? st : fk_buffer_fill(rt, dd, 0, nc, 0.0f);
    fk_tensor value = fx_tensor2(dv, 0, 1, 1), dlog = fx_tensor2(dd, 0, k.n, k.c), work = fx_tensor2(dw, 0, 1, k.n);
    st = st ? st : run_loss(rt, &k, key, value, &dlog, work, 1.0f);
    st = st ? st : fk_buffer_read(rt, dd, 0, nc * 4, g);
    CHECK(st == FK_OK, "finite differences %s: %s", key, fk_last_error());
    const float h = 1e-2f;
    int bad = 0;
    for (size_t i = 0; st == FK_OK && i < nc && i < 24; i++) {
        float vp, vm, keep = s[i];
        s[i] = keep + h;
        st = fk_buffer_write(rt, k.student, (FX_GUARD + i) * 4, 4, &s[i]);
        st = st ? st : run_loss(rt, &k, key, value, NULL, work, 1.0f);
        st = st ? st : fk_buffer_read(rt, dv, 0, 4, &vp);
        s[i] = keep - h;
        st = st ? st : fk_buffer_write(rt, k.student, (FX_GUARD + i) * 4, 4, &s[i]);
        st = st ? st : run_loss(rt, &k, key, value, NULL, work, 1.0f);
        st = st ? st : fk_buffer_read(rt, dv, 0, 4, &vm);
        s[i] = keep;
        st = st ? st : fk_buffer_write(rt, k.student, (FX_GUARD + i) * 4, 4, &s[i]);
        double fd = ((double)vp - (double)vm) / (2.0 * h);
        double tol = 1e-4 * (1.0 + fabs((double)vm)) + 1e-2 * fabs(fd);
        if (fabs(fd - g[i]) > tol && bad++ < 3)
            fprintf(stderr, "%s %s [%zu]: finite difference %.6g, gradient %.6g\n", k.name, key, i, fd,
                    (double)g[i]);
    }
    CHECK(st == FK_OK && bad == 0, "finite differences of %s %s: %d elements off", k.name, key, bad);
    clReleaseMemObject(dv);
    clReleaseMemObject(dd);
    clReleaseMemObject(dw);
    clReleaseMemObject(k.student);
    free(s), free(g);
}

/* A label outside [0, C): NaN value (CE, DKD), no gradient for that sample. */
static void check_bad_label(fk_runtime *rt)
{
    const int n = 2, c = 5;
    float x[10], got[10];
    fk_test_fill_uniform(x, 10, 7, -2, 2);
    int32_t lab[2] = {1, 5};
    cl_mem dx = fx_upload(rt, x, 10), dd = fx_upload(rt, NULL, 10), dv = fx_upload(rt, NULL, 1);
    cl_mem dw = fx_upload(rt, NULL, 2), dl;
    fk_status st = fk_buffer_create(rt, sizeof lab, 0, &dl);
    st = st ? st : fk_buffer_write(rt, dl, 0, sizeof lab, lab);
    st = st ? st : fk_buffer_fill(rt, dd, FX_GUARD, 10, 0.0f);
    fk_tensor xs = fx_tensor2(dx, FX_GUARD, n, c), dl_t = fx_tensor2(dd, FX_GUARD, n, c);
    fk_tensor v = fx_tensor2(dv, FX_GUARD, 1, 1), w = fx_tensor2(dw, FX_GUARD, 1, n);
    for (int which = 0; which < 2; which++) {
        st = st ? st
                : which == 0 ? fk_ce_loss(rt, v, &dl_t, xs, dl, 0, n, c, 1.0f, w)
                             : fk_dkd_loss(rt, v, &dl_t, xs, xs, dl, 0, n, c, 1.0f, 8.0f, 4.0f, 1.0f, w);
        float val = 0;
        CHECK(st == FK_OK, "bad label: %s", fk_last_error());
        if (st == FK_OK && !fx_read(rt, dv, 1, &val, "bad label value"))
            CHECK(isnan(val), "%s with label %d of %d classes: value %g, expected NaN", which ? "dkd" : "ce",
                  lab[1], c, (double)val);
        if (st == FK_OK && !fx_read(rt, dd, 10, got, "bad label grad"))
            for (int j = 0; j < c; j++)
                CHECK(got[c + j] == 0.0f, "bad label: gradient written for the bad sample (%g)", (double)got[c + j]);
    }
    clReleaseMemObject(dx), clReleaseMemObject(dd), clReleaseMemObject(dv), clReleaseMemObject(dw);
    if (st == FK_OK)
        clReleaseMemObject(dl);
}

static void check_bad_arguments(fk_runtime *rt, const loss_case *k)
{
    fk_error_quiet(1);
    cl_mem d = fx_upload(rt, NULL, 16);
    fk_tensor v = fx_tensor2(d, 0, 1, 1), w = fx_tensor2(d, 0, 1, 16);
    fk_tensor s = fx_tensor2(k->student, FX_GUARD, k->n, k->c), t = fx_tensor2(k->teacher, FX_GUARD, k->n, k->c);
    CHECK(fk_figkd_loss(rt, v, NULL, s, t, k->n, k->c, k->h + 1, k->w, FK_BANDS_DETAIL, FK_DETAIL_MSE, 1, w) ==
              FK_ERR_ARG, "grid that does not hold C");
    CHECK(fk_figkd_loss(rt, v, NULL, s, t, k->n, k->c, k->h, k->w, 0, FK_DETAIL_MSE, 1, w) == FK_ERR_ARG,
          "no band");
    CHECK(fk_kd_loss(rt, v, NULL, s, t, k->n, k->c, 0.0f, 1, w) == FK_ERR_ARG, "T = 0");
    CHECK(fk_ce_loss(rt, v, NULL, s, k->labels, 0, 0, k->c, 1, w) == FK_ERR_ARG, "n = 0");
    fk_tensor small = fx_tensor2(d, 0, 1, 3);
    CHECK(fk_kd_loss(rt, v, NULL, s, t, k->n, k->c, 4.0f, 1, small) == FK_ERR_ARG, "work too small");
    fk_error_quiet(0);
    clReleaseMemObject(d);
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    int cases = 0, checks = 0;
    char name[64];
    for (size_t i = 0; fx_next_case(f, &i, name, sizeof name);) {
        loss_case k;
        if (load_case(rt, f, name, &k) == 0) {
            /* the default grid is fk_figkd_grid's unless the case overrides it */
            int h, w;
            fk_figkd_grid(k.c, &h, &w);
            CHECK(strchr(name, '_') || (h == k.h && w == k.w), "%s: grid %dx%d, fixture %dx%d", name, h, w, k.h, k.w);
            for (size_t j = 0; j < NKEYS; j++, checks++)
                check_loss(rt, f, &k, KEYS[j]);
            if (!strcmp(name, "c10")) {
                char key[128];
                snprintf(key, sizeof key, "%s/student", name);
                const float *s0 = fk_test_tensor(f, key, NULL);
                for (size_t j = 0; j < NKEYS; j++)
                    if (!strstr(KEYS[j], "l1"))
                        check_finite_differences(rt, &k, s0, KEYS[j]);
                check_bad_arguments(rt, &k);
            }
            cases++;
        }
        free_case(&k);
    }
    CHECK(cases == 10, "%d loss cases in the fixture, 10 expected", cases);
    check_bad_label(rt);
    printf("%d cases, %d loss checks\n", cases, checks);
}

int main(void) { return fk_test_main("test_loss", "loss.safetensors", run); }
