/* The feature losses AT (src/loss/at.c), PKT (src/loss/pkt.c) and RKD
 * (src/loss/rkd.c) against PyTorch float64 autograd of mdistiller's
 * at_loss, pkt_loss and rkd_loss (tests/ref/gen_feat.py): value and
 * gradient for AT at p = 1, 2, 3 on post-ReLU and signed maps, maps pooled
 * by 2 on either side and by bins that overlap (7 to 3, 5 to 2), a sample
 * whose map is all zero, a batch of 64; PKT
 * on embeddings of other widths, signed ones, similar rows and a student
 * equal to its teacher; RKD on other widths and weights, signed
 * embeddings, a far point (smooth_l1 past its knee) and similar rows. The gradient is added
 * into pre-filled buffers with a weight; guards around every output and
 * the work space; no gradient gives the same value; a second run gives the
 * same bits; shapes that do not pair are errors. */
#include "op_fixture.h"

#include "figkd/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* |got - ref| <= atol + rtol * |ref|, against float64 from the same float32
 * inputs; the kernels sum serially in float32. For gradients atol is a share
 * of the stage's largest |WEIGHT * grad|. Measured on PoCL (CPU), as a
 * share of these limits: worst 0.18 for AT, 0.35 for PKT, 0.32 for RKD.
 * - AT value: N*H*W squared differences of normalised maps per stage,
 *   measured <= 1.2e-7 relative; rtol 1e-6.
 * - AT grad: a channel sum, a norm and a dot product of H*W terms each:
 *   measured <= 1.8e-6 of the largest; atol 1e-6 of it, rtol 1e-5.
 * - PKT value: N^2 terms Q log((Q + eps) / (P + eps)) of ratios near 1,
 *   taken with their first-order part removed (cl/pkt.cl): measured
 *   <= 7.6e-7 relative (pkt_similar, cosines near 1); rtol 1e-5.
 * - PKT grad: compensated dot products of D terms, sums of N rows, and a
 *   projection off each row's direction that cancels most of it when the
 *   rows point the same way: measured <= 1.8e-5 of the largest on
 *   pkt_similar (cosines near 1; PyTorch's own float32 gradient is off by
 *   0.8-1.1e-5 of the largest on such rows), <= 1e-6 elsewhere; atol 5e-5
 *   of it, rtol 1e-5. pkt_same (student = teacher) has a gradient that is
 *   0 but for the eps terms (4e-10 in float64): its atol is 5e-5 of 1e-4.
 * - RKD value: N^3 + N^2 smooth_l1 terms of dot products of D terms:
 *   measured <= 3.2e-7 relative; rtol 1e-6.
 * - RKD grad: sums over N pairs of D-vectors, through the means and the
 *   normalisations: measured <= 2e-7 of the largest; atol 1e-6 of it,
 *   rtol 1e-5. */
static const fk_test_tol tol[] = {
    {"at value", 0, 1e-6},
    {"at grad", 1e-6, 1e-5},
    {"pkt value", 0, 1e-5},
    {"pkt grad", 5e-5, 1e-5},
    {"rkd value", 0, 1e-6},
    {"rkd grad", 1e-6, 1e-5},
};

static const float WEIGHT = 0.7f;

#define MAX_STAGES 4

typedef struct feat_case {
    const char *name;
    int kind, stages; /* kind 0: AT, 1: PKT, 2: RKD */
    float p, wd, wa;  /* AT's p; RKD's distance and angle weights */
    fk_tensor s[MAX_STAGES], t[MAX_STAGES]; /* shapes only */
    const float *sd[MAX_STAGES], *td[MAX_STAGES], *grad[MAX_STAGES], *value;
} feat_case;

static size_t work_of(const feat_case *k)
{
    if (k->kind == 0)
        return fk_at_work(k->s, k->t, k->stages);
    if (k->kind == 1)
        return fk_pkt_work(k->s[0].shape[0], k->s[0].shape[1], k->t[0].shape[1]);
    return fk_rkd_work(k->s[0].shape[0], k->s[0].shape[1], k->t[0].shape[1]);
}

/* One run on device copies: the value, and (pre not NULL) the gradients
 * pre-filled with pre[i] read back into grad[i]. */
static fk_status run_case(fk_runtime *rt, const feat_case *k, float *const *pre, float *value, float **grad)
{
    cl_mem bs[MAX_STAGES] = {0}, bt[MAX_STAGES] = {0}, bd[MAX_STAGES] = {0};
    fk_tensor s[MAX_STAGES], t[MAX_STAGES], d[MAX_STAGES];
    size_t nw = work_of(k);
    cl_mem bv = fx_upload(rt, NULL, 1), bw = fx_upload(rt, NULL, nw);
    bool ok = bv && bw;
    for (int i = 0; i < k->stages; i++) {
        size_t ns = fk_tensor_numel(&k->s[i]), nt = fk_tensor_numel(&k->t[i]);
        bs[i] = fx_upload(rt, k->sd[i], ns);
        bt[i] = fx_upload(rt, k->td[i], nt);
        if (pre)
            bd[i] = fx_upload(rt, pre[i], ns);
        ok = ok && bs[i] && bt[i] && (bd[i] || !pre);
        s[i] = k->s[i], t[i] = k->t[i], d[i] = k->s[i];
        s[i].buf = bs[i], t[i].buf = bt[i], d[i].buf = bd[i];
        s[i].off = t[i].off = d[i].off = FX_GUARD;
    }
    fk_status st = FK_ERR_CL;
    fk_tensor v = {bv, FX_GUARD, 1, {1, 1, 1, 1}}, w = {bw, FX_GUARD, 1, {(int)nw, 1, 1, 1}};
    if (ok) {
        if (k->kind == 0)
            st = fk_at_loss(rt, v, s, pre ? d : NULL, t, k->stages, k->p, WEIGHT, w);
        else if (k->kind == 1)
            st = fk_pkt_loss(rt, v, s[0], pre ? &d[0] : NULL, t[0], WEIGHT, w);
        else
            st = fk_rkd_loss(rt, v, s[0], pre ? &d[0] : NULL, t[0], k->wd, k->wa, WEIGHT, w);
        CHECK(st == FK_OK, "%s: %s", k->name, fk_last_error());
    }
    if (st == FK_OK) {
        char what[160];
        snprintf(what, sizeof what, "%s value", k->name);
        fx_read(rt, bv, 1, value, what);
        snprintf(what, sizeof what, "%s work", k->name);
        fx_read(rt, bw, nw, NULL, what);
        for (int i = 0; i < k->stages; i++) {
            snprintf(what, sizeof what, "%s stage %d", k->name, i);
            fx_read(rt, bs[i], fk_tensor_numel(&k->s[i]), NULL, what);
            if (pre)
                fx_read(rt, bd[i], fk_tensor_numel(&k->s[i]), grad[i], what);
        }
    }
    cl_mem all[] = {bv, bw};
    for (size_t i = 0; i < 2; i++)
        if (all[i])
            clReleaseMemObject(all[i]);
    for (int i = 0; i < k->stages; i++) {
        cl_mem m[] = {bs[i], bt[i], bd[i]};
        for (size_t j = 0; j < 3; j++)
            if (m[j])
                clReleaseMemObject(m[j]);
    }
    return st;
}

/* The largest err / limit over n elements (the tolerance's margin). */
static double worst_ratio(const float *got, const float *ref, size_t n, double atol, double rtol)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        w = fmax(w, fabs((double)got[i] - ref[i]) / (atol + rtol * fabs((double)ref[i]) + 1e-300));
    return w;
}

static void check_case(fk_runtime *rt, const feat_case *k)
{
    const char *kind = k->kind == 0 ? "at" : k->kind == 1 ? "pkt" : "rkd";
    char row[32];
    snprintf(row, sizeof row, "%s value", kind);
    const fk_test_tol *tv = fk_test_tol_find(tol, sizeof tol / sizeof tol[0], row, false);
    snprintf(row, sizeof row, "%s grad", kind);
    const fk_test_tol *tg = fk_test_tol_find(tol, sizeof tol / sizeof tol[0], row, false);
    /* the gradient buffers are pre-filled with values of the gradient's own
     * size, and what was added (got - pre) is compared with WEIGHT * grad,
     * atol being a share of its largest element */
    float *pre[MAX_STAGES], *got[MAX_STAGES], *again[MAX_STAGES], *expect[MAX_STAGES];
    double big[MAX_STAGES];
    for (int i = 0; i < k->stages; i++) {
        size_t n = fk_tensor_numel(&k->s[i]);
        pre[i] = fk_test_uniform(n, (unsigned)(n + i), -1.0f, 1.0f);
        got[i] = malloc(n * sizeof(float));
        again[i] = malloc(n * sizeof(float));
        expect[i] = malloc(n * sizeof(float));
        big[i] = 0;
        for (size_t j = 0; j < n; j++)
            big[i] = fmax(big[i], fabs((double)WEIGHT * k->grad[i][j]));
        /* pkt_same: the student is its teacher, the gradient is 0 but for
         * the eps terms (float64: 4e-10) */
        if (strstr(k->name, "_same"))
            big[i] = fmax(big[i], 1e-4);
        for (size_t j = 0; j < n; j++) {
            pre[i][j] = (float)(pre[i][j] * big[i]);
            expect[i][j] = (float)((double)WEIGHT * k->grad[i][j]);
        }
    }
    float v = NAN, v2 = NAN, v3 = NAN;
    char what[160];
    double wv = 0, wg = 0;
    if (run_case(rt, k, pre, &v, got) == FK_OK) {
        wv = worst_ratio(&v, k->value, 1, tv->atol, tv->rtol);
        for (int i = 0; i < k->stages; i++) {
            for (size_t j = 0; j < fk_tensor_numel(&k->s[i]); j++)
                got[i][j] = (float)((double)got[i][j] - pre[i][j]);
            wg = fmax(wg, worst_ratio(got[i], expect[i], fk_tensor_numel(&k->s[i]), tg->atol * big[i], tg->rtol));
        }
        snprintf(what, sizeof what, "%s value", k->name);
        CHECK(fk_test_close(what, &v, k->value, 1, tv->atol, tv->rtol) == 0, "%s (got %.9g, ref %.9g)", what,
              (double)v, (double)k->value[0]);
        for (int i = 0; i < k->stages; i++) {
            snprintf(what, sizeof what, "%s stage %d: added into pre-filled - %g * grad", k->name, i, (double)WEIGHT);
            CHECK(fk_test_close(what, got[i], expect[i], fk_tensor_numel(&k->s[i]), tg->atol * big[i], tg->rtol) == 0,
                  "%s", what);
        }
    }
    if (run_case(rt, k, NULL, &v2, NULL) == FK_OK)
        CHECK(memcmp(&v, &v2, sizeof v) == 0, "%s without gradient: value %.9g, with %.9g", k->name, (double)v2,
              (double)v);
    if (run_case(rt, k, pre, &v3, again) == FK_OK) {
        bool same = memcmp(&v, &v3, sizeof v) == 0;
        for (int i = 0; i < k->stages; i++) {
            for (size_t j = 0; j < fk_tensor_numel(&k->s[i]); j++)
                again[i][j] = (float)((double)again[i][j] - pre[i][j]);
            same = same && memcmp(got[i], again[i], fk_tensor_numel(&k->s[i]) * sizeof(float)) == 0;
        }
        CHECK(same, "%s: a second run differs", k->name);
    }
    printf("%s: value %.9g (ref %.9g); worst error / limit: value %.3g, gradient %.3g\n", k->name, (double)v,
           (double)k->value[0], wv, wg);
    for (int i = 0; i < k->stages; i++)
        free(pre[i]), free(got[i]), free(again[i]), free(expect[i]);
}

/* Shapes that do not pair are refused before any launch. */
static void check_bad_arguments(fk_runtime *rt)
{
    cl_mem b = fx_upload(rt, NULL, 4096);
    if (!b)
        return;
    fk_tensor v = {b, FX_GUARD, 1, {1, 1, 1, 1}}, w = {b, FX_GUARD, 1, {4000, 1, 1, 1}};
    fk_tensor s = {b, FX_GUARD, 4, {2, 3, 8, 8}}, t3 = {b, FX_GUARD, 4, {2, 3, 3, 3}}, f2 = {b, FX_GUARD, 2, {2, 192, 1, 1}};
    fk_tensor tn = {b, FX_GUARD, 4, {3, 3, 8, 8}}, e = {b, FX_GUARD, 2, {4, 5, 1, 1}}, e3 = {b, FX_GUARD, 2, {3, 5, 1, 1}};
    fk_error_quiet(1);
    CHECK(fk_at_loss(rt, v, &s, NULL, &f2, 1, 2.0f, 1.0f, w) == FK_ERR_ARG, "AT map against a vector");
    CHECK(fk_at_loss(rt, v, &s, NULL, &tn, 1, 2.0f, 1.0f, w) == FK_ERR_ARG, "AT batch 2 against 3");
    CHECK(fk_at_loss(rt, v, &s, NULL, &s, 0, 2.0f, 1.0f, w) == FK_ERR_ARG, "AT no stages");
    CHECK(fk_at_loss(rt, v, &s, NULL, &s, 1, 0.0f, 1.0f, w) == FK_ERR_ARG, "AT p = 0");
    w.shape[0] = (int)fk_at_work(&s, &s, 1) - 1;
    CHECK(fk_at_loss(rt, v, &s, NULL, &s, 1, 2.0f, 1.0f, w) == FK_ERR_ARG, "AT work too small");
    w.shape[0] = 4000;
    CHECK(fk_pkt_loss(rt, v, e, NULL, e3, 1.0f, w) == FK_ERR_ARG, "PKT batch 4 against 3");
    w.shape[0] = (int)fk_pkt_work(4, 5, 5) - 1;
    CHECK(fk_pkt_loss(rt, v, e, NULL, e, 1.0f, w) == FK_ERR_ARG, "PKT work too small");
    fk_error_quiet(0);
    fk_error_quiet(1);
    CHECK(fk_at_work(&s, &f2, 1) == 0 && fk_at_work(&s, &s, 1) == 2 + 2 * 2 * 64 &&
              fk_at_work(&s, &t3, 1) == 2 + 2 * 2 * 9,
          "fk_at_work");
    fk_error_quiet(0);
    CHECK(fk_pkt_work(4, 5, 6) == 8 + 40 + 24 + 16 && fk_pkt_work(0, 5, 6) == 0, "fk_pkt_work");
    fk_error_quiet(1);
    fk_tensor e1 = {b, FX_GUARD, 2, {1, 5, 1, 1}};
    CHECK(fk_rkd_loss(rt, v, e1, NULL, e1, 25, 50, 1.0f, w) == FK_ERR_ARG, "RKD batch 1");
    CHECK(fk_rkd_loss(rt, v, e, NULL, e3, 25, 50, 1.0f, w) == FK_ERR_ARG, "RKD batch 4 against 3");
    w.shape[0] = (int)fk_rkd_work(4, 5, 5) - 1;
    CHECK(fk_rkd_loss(rt, v, e, NULL, e, 25, 50, 1.0f, w) == FK_ERR_ARG, "RKD work too small");
    fk_error_quiet(0);
    CHECK(fk_rkd_work(4, 5, 6) == 64 + 5 + 16 * 16 && fk_rkd_work(4, 0, 6) == 0, "fk_rkd_work");
    clReleaseMemObject(b);
}

static bool load_case(const fk_st_file *f, const char *name, feat_case *k)
{
    char key[160];
    memset(k, 0, sizeof *k);
    k->name = name;
    snprintf(key, sizeof key, "%s/params", name);
    size_t n;
    const float *p = fk_test_tensor(f, key, &n);
    snprintf(key, sizeof key, "%s/value", name);
    k->value = fk_test_tensor(f, key, &n);
    if (!p || !k->value)
        return false;
    k->kind = (int)p[0];
    k->p = p[1];
    k->stages = (int)p[2];
    k->wd = p[3];
    k->wa = p[4];
    CHECK(k->stages >= 1 && k->stages <= MAX_STAGES, "%s: %d stages", name, k->stages);
    for (int i = 0; i < k->stages && i < MAX_STAGES; i++) {
        const char *part[3] = {"s", "t", "grad"};
        const float **dst[3] = {&k->sd[i], &k->td[i], &k->grad[i]};
        fk_tensor *shape[3] = {&k->s[i], &k->t[i], NULL};
        for (int j = 0; j < 3; j++) {
            snprintf(key, sizeof key, "%s/%s%d", name, part[j], i);
            const fk_st_tensor *t = fk_st_find(f, key);
            *dst[j] = fk_test_tensor(f, key, &n);
            if (!t || !*dst[j])
                return false;
            if (shape[j]) {
                shape[j]->ndim = (int)t->ndim;
                for (int d = 0; d < 4; d++)
                    shape[j]->shape[d] = d < (int)t->ndim ? (int)t->shape[d] : 1;
            }
        }
    }
    return true;
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    int cases = 0;
    for (size_t i = 0; i < f->count; i++) {
        const char *name = f->tensors[i].name, *slash = strrchr(name, '/');
        if (!slash || strcmp(slash, "/params"))
            continue;
        char base[128];
        snprintf(base, sizeof base, "%.*s", (int)(slash - name), name);
        feat_case k;
        if (load_case(f, base, &k)) {
            check_case(rt, &k);
            cases++;
        } else
            CHECK(0, "%s: incomplete case", base);
    }
    CHECK(cases >= 20, "%d cases in the fixture", cases);
    check_bad_arguments(rt);
}

int main(void) { return fk_test_main("test_feat_losses", "feat.safetensors", run); }
