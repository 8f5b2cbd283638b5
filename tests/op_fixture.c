#include "op_fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const fk_st_tensor *tensor(const fk_st_file *f, int c, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "c%d.%s", c, name);
    return fk_st_find(f, key);
}

int fx_cases(const fk_st_file *f)
{
    int c = 0;
    while (tensor(f, c, "cfg"))
        c++;
    return c;
}

int fx_run_cases(fk_runtime *rt, const fk_st_file *f, int min_cases,
                 void (*run)(fk_runtime *rt, const fk_st_file *f, int c))
{
    int cases = fx_cases(f);
    CHECK(cases >= min_cases, "only %d cases in the fixture", cases);
    for (int c = 0; c < cases; c++)
        run(rt, f, c);
    return cases;
}

int fx_cfg(const fk_st_file *f, int c, long long *cfg, int max)
{
    const fk_st_tensor *t = tensor(f, c, "cfg");
    if (!t || t->dtype != FK_DT_I64) {
        CHECK(0, "case c%d: no I64 cfg", c);
        return 0;
    }
    int n = (int)(t->nbytes / 8);
    const int64_t *v = t->data;
    for (int i = 0; i < n && i < max; i++)
        cfg[i] = (long long)v[i];
    return n;
}

int fx_dims(const fk_st_file *f, int c, const char *name, int dims[4])
{
    const fk_st_tensor *t = tensor(f, c, name);
    for (int i = 0; i < 4; i++)
        dims[i] = 1;
    if (!t || t->ndim > 4) {
        CHECK(0, "case c%d: fixture lacks tensor %s (or it has more than 4 dims)", c, name);
        return -1;
    }
    for (int i = 0; i < t->ndim; i++)
        dims[4 - t->ndim + i] = (int)t->shape[i];
    return t->ndim;
}

const float *fx_find(const fk_st_file *f, int c, const char *name, size_t *count)
{
    const fk_st_tensor *t = tensor(f, c, name);
    if (!t || t->dtype != FK_DT_F32)
        return NULL;
    if (count)
        *count = t->nbytes / 4;
    return t->data;
}

const float *fx_get(const fk_st_file *f, int c, const char *name, size_t *count)
{
    const float *p = fx_find(f, c, name, count);
    CHECK(p != NULL, "case c%d: fixture lacks F32 tensor %s", c, name);
    return p;
}

/* A guarded buffer whose body is data, or value when data is NULL. */
static cl_mem guarded(fk_runtime *rt, size_t n, const float *data, float value)
{
    size_t total = n + 2 * FX_GUARD;
    float *host = malloc(total * sizeof *host);
    if (!host) {
        CHECK(0, "host buffer of %zu floats", total);
        return NULL;
    }
    for (size_t i = 0; i < total; i++)
        host[i] = FX_SENTINEL;
    for (size_t i = 0; i < n; i++)
        host[FX_GUARD + i] = data ? data[i] : value;
    cl_mem mem = NULL;
    fk_status st = fk_buffer_create(rt, total * sizeof *host, 0, &mem);
    if (st == FK_OK)
        st = fk_buffer_write(rt, mem, 0, total * sizeof *host, host);
    free(host);
    CHECK(st == FK_OK, "device buffer of %zu floats: %s", n, fk_last_error());
    if (st != FK_OK && mem) {
        clReleaseMemObject(mem);
        mem = NULL;
    }
    return mem;
}

cl_mem fx_upload(fk_runtime *rt, const float *data, size_t n) { return guarded(rt, n, data, FX_SENTINEL); }

/* The whole buffer with its guards (NULL, with a failed check, on failure). */
static float *read_all(fk_runtime *rt, cl_mem b, size_t n, const char *what)
{
    size_t total = n + 2 * FX_GUARD;
    float *host = malloc(total * sizeof *host);
    fk_status st = host ? fk_buffer_read(rt, b, 0, total * sizeof *host, host) : FK_ERR_NOMEM;
    CHECK(st == FK_OK, "%s: read back: %s", what, fk_last_error());
    if (st != FK_OK) {
        free(host);
        return NULL;
    }
    return host;
}

/* Guard elements of host (n in the middle) that no longer hold FX_SENTINEL;
 * each one is a failed check. */
static size_t guards_overwritten(const float *host, size_t n, const char *what)
{
    size_t bad = 0;
    for (size_t i = 0; i < FX_GUARD; i++) {
        bad += host[i] != FX_SENTINEL;
        bad += host[FX_GUARD + n + i] != FX_SENTINEL;
        CHECK(host[i] == FX_SENTINEL, "%s: guard before the tensor overwritten at -%zu (%g)", what,
              FX_GUARD - i, (double)host[i]);
        CHECK(host[FX_GUARD + n + i] == FX_SENTINEL, "%s: guard after the tensor overwritten at +%zu (%g)",
              what, i, (double)host[FX_GUARD + n + i]);
    }
    return bad;
}

int fx_read(fk_runtime *rt, cl_mem b, size_t n, float *out, const char *what)
{
    float *host = read_all(rt, b, n, what);
    if (!host)
        return -1;
    size_t bad = guards_overwritten(host, n, what);
    if (out)
        memcpy(out, host + FX_GUARD, n * sizeof *out);
    free(host);
    return bad ? -1 : 0;
}

fk_tensor fx_tensor2(cl_mem b, size_t off, int d0, int d1)
{
    fk_tensor t = {b, off, 2, {d0, d1, 1, 1}};
    return t;
}

int fx_buf_create(fk_runtime *rt, fx_buf *b, size_t n, const float *data, float value)
{
    memset(b, 0, sizeof *b);
    b->rt = rt;
    b->n = n;
    b->mem = guarded(rt, n, data, value);
    b->t = (fk_tensor){.buf = b->mem, .off = FX_GUARD, .ndim = 1, .shape = {(int)n, 1, 1, 1}};
    return b->mem ? 0 : -1;
}

int fx_buf_read(fx_buf *b, float *out, const char *what)
{
    float *host = read_all(b->rt, b->mem, b->n, what);
    if (!host)
        return -1;
    guards_overwritten(host, b->n, what);
    memcpy(out, host + FX_GUARD, b->n * sizeof *out);
    free(host);
    return 0;
}

size_t fx_buf_guards(fx_buf *b, const char *what)
{
    float *host = read_all(b->rt, b->mem, b->n, what);
    if (!host)
        return 1;
    size_t bad = guards_overwritten(host, b->n, what);
    free(host);
    return bad;
}

size_t fx_buf_check(fx_buf *b, const float *ref, const char *what, double atol, double rtol)
{
    float *got = malloc((b->n ? b->n : 1) * sizeof *got);
    if (!got || fx_buf_read(b, got, what) != 0 || !ref) {
        free(got);
        CHECK(0, "%s: nothing to compare", what);
        return 1;
    }
    size_t bad = fk_test_close(what, got, ref, b->n, atol, rtol);
    CHECK(bad == 0, "%s", what);
    const char *v = getenv("FIGKD_TEST_VERBOSE");
    if (v && *v && strcmp(v, "0")) { /* how much of the tolerance is used */
        double worst = 0;
        size_t at = 0;
        for (size_t i = 0; i < b->n; i++) {
            double tol = atol + rtol * fabs((double)ref[i]), err = fabs((double)got[i] - (double)ref[i]);
            double used = tol > 0 ? err / tol : (err > 0 ? INFINITY : 0);
            if (used > worst)
                worst = used, at = i;
        }
        printf("%-48s max |diff| / tolerance = %.3f (at [%zu]: got %.9g, ref %.9g)\n", what, worst, at,
               b->n ? (double)got[at] : 0.0, b->n ? (double)ref[at] : 0.0);
    }
    free(got);
    return bad;
}

void fx_buf_free(fx_buf *b)
{
    if (b->mem)
        clReleaseMemObject(b->mem);
    b->mem = NULL;
}

size_t fx_buf_check_added(fx_buf *b, const float *g0, const float *ref, const char *what, double atol,
                          double rtol)
{
    if (!g0 || !ref)
        return fx_buf_check(b, ref, what, atol, rtol);
    float *want = malloc((b->n ? b->n : 1) * sizeof *want);
    if (want)
        for (size_t i = 0; i < b->n; i++)
            want[i] = g0[i] + ref[i];
    size_t bad = fx_buf_check(b, want, what, atol, rtol);
    free(want);
    return bad;
}

void fx_bufs_create(fk_runtime *rt, const fx_spec *specs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        fx_buf_create(rt, specs[i].b, specs[i].n, specs[i].data, specs[i].value);
}

void fx_bufs_free(fx_buf *const *bufs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        fx_buf_free(bufs[i]);
}

/* The case `name` of a logit-loss fixture; 0 when complete. */
static int logit_case(const fk_st_file *f, const char *name, size_t nparams, fx_logit_case *k)
{
    char key[128];
    size_t np = 0, ns = 0, nt = 0, nv = 0, ng = 0;
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(key, sizeof key, "%s/params", name);
    k->params = fk_test_tensor(f, key, &np);
    snprintf(key, sizeof key, "%s/student", name);
    k->student = fk_test_tensor(f, key, &ns);
    const fk_st_tensor *st = fk_st_find(f, key);
    snprintf(key, sizeof key, "%s/teacher", name);
    k->teacher = fk_test_tensor(f, key, &nt);
    snprintf(key, sizeof key, "%s/value", name);
    k->value = fk_test_tensor(f, key, &nv);
    snprintf(key, sizeof key, "%s/grad", name);
    k->grad = fk_test_tensor(f, key, &ng);
    int ok = k->params && np == nparams && k->student && st && st->ndim == 2 && k->teacher && nt == ns &&
             k->value && nv == 1 && k->grad && ng == ns;
    CHECK(ok, "case %s incomplete", name);
    if (ok) {
        k->n = (int)st->shape[0];
        k->c = (int)st->shape[1];
    }
    return ok ? 0 : -1;
}

int fx_next_case(const fk_st_file *f, size_t *i, char *name, size_t size)
{
    for (; *i < f->count; ++*i) {
        const char *nm = f->tensors[*i].name, *slash = strchr(nm, '/');
        if (!slash || strcmp(slash, "/params"))
            continue;
        snprintf(name, size, "%.*s", (int)(slash - nm), nm);
        ++*i;
        return 1;
    }
    return 0;
}

int fx_logit_cases(fk_runtime *rt, const fk_st_file *f, size_t nparams,
                   void (*run)(fk_runtime *rt, const fx_logit_case *k))
{
    int cases = 0;
    char name[64];
    for (size_t i = 0; fx_next_case(f, &i, name, sizeof name);) {
        fx_logit_case k;
        if (logit_case(f, name, nparams, &k))
            continue;
        run(rt, &k);
        cases++;
    }
    return cases;
}

int fx_logit_check(fk_runtime *rt, const fx_logit_loss *loss, const fx_logit_case *c, const void *k,
                   const char *value_what, float *value, float *grad)
{
    size_t nc = (size_t)c->n * (size_t)c->c;
    float *pre = malloc(nc * sizeof *pre), *expect = malloc(nc * sizeof *expect);
    float *got = malloc(nc * sizeof *got), *again = malloc(nc * sizeof *again);
    fk_test_fill_uniform(pre, nc, (unsigned)nc, -0.05f, 0.05f);
    for (size_t i = 0; i < nc; i++)
        expect[i] = (float)((double)pre[i] + (double)loss->weight * c->grad[i]);
    char what[160];
    float v = NAN, v2 = NAN, v3 = NAN;
    int bad = loss->run(rt, k, c->student, pre, &v, got) != FK_OK;
    if (!bad) {
        CHECK(fk_test_close(value_what, &v, c->value, 1, loss->value.atol, loss->value.rtol) == 0, "%s", value_what);
        snprintf(what, sizeof what, "%s pre-filled + %g * grad", c->name, (double)loss->weight);
        CHECK(fk_test_close(what, got, expect, nc, loss->grad.atol, loss->grad.rtol) == 0, "%s", what);
        if (value)
            *value = v;
        for (size_t i = 0; grad && i < nc; i++)
            grad[i] = (float)(((double)got[i] - pre[i]) / loss->weight);
    }
    if (loss->run(rt, k, c->student, NULL, &v2, NULL) == FK_OK)
        CHECK(memcmp(&v, &v2, sizeof v) == 0, "%s without gradient: value %.9g, with %.9g", c->name, (double)v2,
              (double)v);
    if (loss->run(rt, k, c->student, pre, &v3, again) == FK_OK)
        CHECK(memcmp(&v, &v3, sizeof v) == 0 && memcmp(got, again, nc * sizeof *got) == 0,
              "%s: a second run differs (value %.9g, then %.9g)", c->name, (double)v, (double)v3);
    free(pre), free(expect), free(got), free(again);
    return bad ? -1 : 0;
}

void fx_logit_check_nan(fk_runtime *rt, const fx_logit_loss *loss, const fx_logit_case *c, const void *k)
{
    size_t nc = (size_t)c->n * (size_t)c->c;
    float *s = malloc(nc * sizeof *s), *g = calloc(nc, sizeof *g), v = 0.0f;
    memcpy(s, c->student, nc * sizeof *s);
    s[nc / 2] = NAN;
    if (loss->run(rt, k, s, g, &v, g) == FK_OK)
        CHECK(isnan(v), "%s with a NaN logit: value %g, expected NaN", c->name, (double)v);
    free(s), free(g);
}
