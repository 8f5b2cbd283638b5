/* Parameter stores to and from safetensors files. */
#include "figkd/checkpoint.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_int64(const fk_param *p)
{
    const char *s = "num_batches_tracked";
    size_t n = strlen(p->name), m = strlen(s);
    return p->is_int64 || (n >= m && !strcmp(p->name + n - m, s));
}

static void fill_shape(fk_st_tensor *t, const fk_param *p)
{
    t->ndim = p->ndim;
    for (int d = 0; d < p->ndim; d++)
        t->shape[d] = p->shape[d];
}

/* The host copies of one store's tensors for a save. */
typedef struct host_store {
    float *params, *mom, *bufs;
    int64_t *ints;
    char **names;
} host_store;

static void host_store_free(host_store *h, int count)
{
    if (h->names)
        for (int i = 0; i < count; i++)
            free(h->names[i]);
    free(h->names);
    free(h->params);
    free(h->mom);
    free(h->bufs);
    free(h->ints);
}

/* Read ps back and add its tensors (and momentum) to ts from ts[*k] on. */
static fk_status add_store(fk_runtime *rt, const fk_param_store *ps, const char *path, bool with_momentum,
                           host_store *h, fk_st_tensor *ts, size_t *k)
{
    h->params = fk_malloc(ps->param_count * sizeof(float) + 1);
    h->mom = with_momentum ? fk_malloc(ps->param_count * sizeof(float) + 1) : NULL;
    h->bufs = fk_malloc(ps->buffer_count * sizeof(float) + 1);
    h->ints = fk_calloc((size_t)ps->count + 1, sizeof(int64_t));
    h->names = fk_calloc((size_t)ps->count + 1, sizeof(char *));
    if (!h->params || !h->bufs || !h->ints || !h->names || (with_momentum && !h->mom))
        return FK_ERR_NOMEM;
    FK_TRY(fk_buffer_read(rt, ps->params, 0, ps->param_count * sizeof(float), h->params));
    FK_TRY(fk_buffer_read(rt, ps->buffers, 0, ps->buffer_count * sizeof(float), h->bufs));
    if (with_momentum)
        FK_TRY(fk_buffer_read(rt, ps->momentum, 0, ps->param_count * sizeof(float), h->mom));
    for (int i = 0; i < ps->count; i++) {
        const fk_param *p = &ps->items[i];
        fk_st_tensor *t = &ts[(*k)++];
        t->name = p->name;
        fill_shape(t, p);
        if (p->is_buffer && is_int64(p)) {
            h->ints[i] = (int64_t)h->bufs[p->off];
            t->dtype = FK_DT_I64;
            t->data = &h->ints[i];
            t->nbytes = sizeof(int64_t) * p->count;
            if (p->count != 1)
                return fk_error(FK_ERR_ARG, "%s: integer buffer %s must have one element", path, p->name);
        } else {
            t->dtype = FK_DT_F32;
            t->data = (p->is_buffer ? h->bufs : h->params) + p->off;
            t->nbytes = p->count * sizeof(float);
        }
        if (with_momentum && !p->is_buffer) {
            size_t len = strlen(FK_CKPT_MOMENTUM_PREFIX) + strlen(p->name) + 1;
            h->names[i] = fk_malloc(len);
            if (!h->names[i])
                return FK_ERR_NOMEM;
            snprintf(h->names[i], len, "%s%s", FK_CKPT_MOMENTUM_PREFIX, p->name);
            fk_st_tensor *m = &ts[(*k)++];
            *m = *t;
            m->name = h->names[i];
            m->data = h->mom + p->off;
        }
    }
    return FK_OK;
}

fk_status fk_checkpoint_save_stores(fk_runtime *rt, const fk_param_store *const *stores, int nstores,
                                    const char *path, bool with_momentum, const char *const *meta_keys,
                                    const char *const *meta_values, size_t n_meta)
{
    size_t nt = 0, k = 0;
    for (int s = 0; s < nstores; s++)
        nt += (size_t)stores[s]->count * (with_momentum ? 2 : 1);
    fk_st_tensor *ts = fk_calloc(nt + 1, sizeof *ts);
    host_store *h = fk_calloc((size_t)nstores + 1, sizeof *h);
    fk_status st = ts && h ? FK_OK : FK_ERR_NOMEM;
    for (int s = 0; s < nstores && st == FK_OK; s++)
        st = add_store(rt, stores[s], path, with_momentum, &h[s], ts, &k);
    if (st == FK_OK)
        st = fk_st_write(path, ts, k, meta_keys, meta_values, n_meta);
    for (int s = 0; h && s < nstores; s++)
        host_store_free(&h[s], stores[s]->count);
    free(h);
    free(ts);
    return st;
}

fk_status fk_checkpoint_save(fk_runtime *rt, const fk_param_store *ps, const char *path, bool with_momentum,
                             const char *const *meta_keys, const char *const *meta_values, size_t n_meta)
{
    return fk_checkpoint_save_stores(rt, &ps, 1, path, with_momentum, meta_keys, meta_values, n_meta);
}

static fk_status check_tensor(const fk_st_file *f, const char *path, const char *name, const fk_param *p,
                              fk_dtype dtype, const fk_st_tensor **out)
{
    const fk_st_tensor *t = fk_st_find(f, name);
    if (!t)
        return fk_error(FK_ERR_FORMAT, "%s: tensor %s is missing", path, name);
    char want[64] = "", got[64] = "";
    size_t n = 0, m = 0;
    bool same = t->ndim == p->ndim;
    for (int d = 0; d < p->ndim; d++)
        n += (size_t)snprintf(want + n, sizeof want - n, "%s%d", d ? ", " : "", p->shape[d]);
    for (int d = 0; d < t->ndim && m < sizeof got; d++) {
        m += (size_t)snprintf(got + m, sizeof got - m, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        same = same && t->shape[d] == p->shape[d];
    }
    if (!same)
        return fk_error(FK_ERR_FORMAT, "%s: tensor %s has shape (%s), the model expects (%s)", path, name, got,
                        want);
    if (t->dtype != dtype)
        return fk_error(FK_ERR_FORMAT, "%s: tensor %s has dtype %s, the model expects %s", path, name,
                        fk_dtype_name(t->dtype), fk_dtype_name(dtype));
    *out = t;
    return FK_OK;
}

bool fk_checkpoint_excluded(const char *name, const char *globs)
{
    if (!globs || !*globs)
        return false;
    char pat[256];
    for (const char *g = globs; *g;) {
        size_t n = strcspn(g, ",");
        while (n && (*g == ' ' || *g == '\t'))
            g++, n--;
        size_t len = n;
        while (len && (g[len - 1] == ' ' || g[len - 1] == '\t'))
            len--;
        snprintf(pat, sizeof pat, "%.*s", (int)len, g);
        if (len && fnmatch(pat, name, 0) == 0)
            return true;
        g += n + (g[n] == ',');
    }
    return false;
}

static bool has_prefix(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

/* Whether a store of stores holds a parameter or buffer name. */
static bool stores_find(fk_param_store *const *stores, int n, const char *name)
{
    for (int s = 0; s < n; s++)
        if (fk_params_find(stores[s], name) >= 0)
            return true;
    return false;
}

/* Every tensor of one store from f into host copies (h: params, mom, bufs). */
static fk_status read_store(fk_runtime *rt, fk_param_store *ps, const fk_st_file *f, const char *path,
                            bool with_momentum, const char *exclude, host_store *h)
{
    h->params = fk_calloc(ps->param_count + 1, sizeof(float));
    h->mom = fk_calloc(ps->param_count + 1, sizeof(float));
    h->bufs = fk_calloc(ps->buffer_count + 1, sizeof(float));
    if (!h->params || !h->mom || !h->bufs)
        return FK_ERR_NOMEM;
    /* the excluded tensors keep the values the store holds */
    if (exclude) {
        FK_TRY(fk_buffer_read(rt, ps->params, 0, ps->param_count * sizeof(float), h->params));
        FK_TRY(fk_buffer_read(rt, ps->buffers, 0, ps->buffer_count * sizeof(float), h->bufs));
    }
    for (int i = 0; i < ps->count; i++) {
        const fk_param *p = &ps->items[i];
        if (fk_checkpoint_excluded(p->name, exclude))
            continue;
        bool integer = p->is_buffer && is_int64(p);
        const fk_st_tensor *t;
        FK_TRY(check_tensor(f, path, p->name, p, integer ? FK_DT_I64 : FK_DT_F32, &t));
        if (integer)
            h->bufs[p->off] = (float)*(const int64_t *)t->data;
        else
            memcpy((p->is_buffer ? h->bufs : h->params) + p->off, t->data, t->nbytes);
        if (with_momentum && !p->is_buffer) {
            char name[256];
            snprintf(name, sizeof name, "%s%s", FK_CKPT_MOMENTUM_PREFIX, p->name);
            FK_TRY(check_tensor(f, path, name, p, FK_DT_F32, &t));
            memcpy(h->mom + p->off, t->data, t->nbytes);
        }
    }
    return FK_OK;
}

static fk_status write_store(fk_runtime *rt, fk_param_store *ps, bool with_momentum, const host_store *h)
{
    FK_TRY(fk_buffer_write(rt, ps->params, 0, ps->param_count * sizeof(float), h->params));
    FK_TRY(fk_buffer_write(rt, ps->buffers, 0, ps->buffer_count * sizeof(float), h->bufs));
    if (with_momentum)
        FK_TRY(fk_buffer_write(rt, ps->momentum, 0, ps->param_count * sizeof(float), h->mom));
    return FK_OK;
}

/* Nothing is written to the device unless every check passes. */
static fk_status load(fk_runtime *rt, fk_param_store *const *stores, int nstores, const char *path,
                      bool with_momentum, const char *exclude, fk_st_file *meta)
{
    fk_st_file f;
    FK_TRY(fk_st_read(path, &f));
    host_store *h = fk_calloc((size_t)nstores + 1, sizeof *h);
    fk_status st = h ? FK_OK : FK_ERR_NOMEM;
    for (int s = 0; s < nstores && st == FK_OK; s++)
        st = read_store(rt, stores[s], &f, path, with_momentum, exclude, &h[s]);
    /* anything else is unexpected, except optimizer state we did not ask
     * for and a method's own parameters no store here holds */
    const size_t mp = strlen(FK_CKPT_MOMENTUM_PREFIX);
    for (size_t i = 0; i < f.count && st == FK_OK; i++) {
        const char *name = f.tensors[i].name;
        bool momentum = has_prefix(name, FK_CKPT_MOMENTUM_PREFIX);
        const char *param = momentum ? name + mp : name;
        if ((!with_momentum && has_prefix(name, "optimizer.")) || fk_checkpoint_excluded(name, exclude))
            continue;
        if ((!momentum || with_momentum) && stores_find(stores, nstores, param))
            continue;
        if (has_prefix(param, FK_CKPT_METHOD_PREFIX) && !stores_find(stores, nstores, param))
            continue;
        st = fk_error(FK_ERR_FORMAT, "%s: unexpected tensor %s (not a parameter or buffer of this model)", path,
                      name);
    }
    for (int s = 0; s < nstores && st == FK_OK; s++)
        st = write_store(rt, stores[s], with_momentum, &h[s]);
    for (int s = 0; h && s < nstores; s++)
        host_store_free(&h[s], 0);
    free(h);
    if (st == FK_OK && meta)
        *meta = f;
    else
        fk_st_free(&f);
    return st;
}

fk_status fk_checkpoint_load(fk_runtime *rt, fk_param_store *ps, const char *path, bool with_momentum,
                             fk_st_file *meta)
{
    return load(rt, &ps, 1, path, with_momentum, NULL, meta);
}

fk_status fk_checkpoint_load_stores(fk_runtime *rt, fk_param_store *const *stores, int nstores, const char *path,
                                    bool with_momentum, fk_st_file *meta)
{
    return load(rt, stores, nstores, path, with_momentum, NULL, meta);
}

fk_status fk_checkpoint_load_except(fk_runtime *rt, fk_param_store *ps, const char *path, const char *exclude)
{
    return load(rt, &ps, 1, path, false, exclude, NULL);
}
