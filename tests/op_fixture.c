#include "op_fixture.h"

#include <stdlib.h>
#include <string.h>

int fx_open(const char *name, fk_st_file *f)
{
    const char *root = getenv("FIGKD_SOURCE_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/ref/fixtures/%s.safetensors", root && *root ? root : ".", name);
    if (fk_st_read(path, f) != FK_OK) {
        fprintf(stderr, "cannot read fixture %s: %s\n", path, fk_last_error());
        return -1;
    }
    return 0;
}

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

int fx_buf_create(fk_runtime *rt, fx_buf *b, size_t n, const float *data, float value)
{
    memset(b, 0, sizeof *b);
    b->rt = rt;
    b->n = n;
    size_t total = n + 2 * FX_GUARD;
    float *host = malloc(total * sizeof *host);
    if (!host)
        return -1;
    for (size_t i = 0; i < total; i++)
        host[i] = FX_SENTINEL;
    for (size_t i = 0; i < n; i++)
        host[FX_GUARD + i] = data ? data[i] : value;
    fk_status st = fk_buffer_create(rt, total * sizeof *host, 0, &b->mem);
    if (st == FK_OK)
        st = fk_buffer_write(rt, b->mem, 0, total * sizeof *host, host);
    free(host);
    CHECK(st == FK_OK, "device buffer of %zu floats: %s", n, fk_last_error());
    b->t = (fk_tensor){.buf = b->mem, .off = FX_GUARD, .ndim = 1, .shape = {(int)n, 1, 1, 1}};
    return st == FK_OK ? 0 : -1;
}

int fx_buf_read(fx_buf *b, float *out, const char *what)
{
    size_t total = b->n + 2 * FX_GUARD;
    float *host = malloc(total * sizeof *host);
    if (!host)
        return -1;
    fk_status st = fk_buffer_read(b->rt, b->mem, 0, total * sizeof *host, host);
    CHECK(st == FK_OK, "%s: read back: %s", what, fk_last_error());
    if (st != FK_OK) {
        free(host);
        return -1;
    }
    for (size_t i = 0; i < FX_GUARD; i++) {
        CHECK(host[i] == FX_SENTINEL, "%s: guard before the tensor overwritten at -%zu (%g)", what,
              FX_GUARD - i, (double)host[i]);
        CHECK(host[FX_GUARD + b->n + i] == FX_SENTINEL, "%s: guard after the tensor overwritten at +%zu (%g)",
              what, i, (double)host[FX_GUARD + b->n + i]);
    }
    memcpy(out, host + FX_GUARD, b->n * sizeof *out);
    free(host);
    return 0;
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
    free(got);
    return bad;
}

void fx_buf_free(fx_buf *b)
{
    if (b->mem)
        clReleaseMemObject(b->mem);
    b->mem = NULL;
}

float *fx_sum(const float *a, const float *b, size_t n)
{
    float *r = malloc((n ? n : 1) * sizeof *r);
    if (r)
        for (size_t i = 0; i < n; i++)
            r[i] = a[i] + b[i];
    return r;
}
