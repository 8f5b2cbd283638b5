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

fk_status fk_checkpoint_save(fk_runtime *rt, const fk_param_store *ps, const char *path, bool with_momentum,
                             const char *const *meta_keys, const char *const *meta_values, size_t n_meta)
{
    fk_status st = FK_OK;
    size_t nt = (size_t)ps->count * (with_momentum ? 2 : 1);
    fk_st_tensor *ts = fk_calloc(nt, sizeof *ts);
    float *params = fk_malloc(ps->param_count * sizeof(float) + 1);
    float *mom = with_momentum ? fk_malloc(ps->param_count * sizeof(float) + 1) : NULL;
    float *bufs = fk_malloc(ps->buffer_count * sizeof(float) + 1);
    int64_t *ints = fk_calloc((size_t)ps->count, sizeof(int64_t));
    char **names = fk_calloc((size_t)ps->count, sizeof(char *));
    if (!ts || !params || !bufs || !ints || !names || (with_momentum && !mom)) {
        st = FK_ERR_NOMEM;
        goto out;
    }
    if ((st = fk_buffer_read(rt, ps->params, 0, ps->param_count * sizeof(float), params)) ||
        (st = fk_buffer_read(rt, ps->buffers, 0, ps->buffer_count * sizeof(float), bufs)) ||
        (with_momentum && (st = fk_buffer_read(rt, ps->momentum, 0, ps->param_count * sizeof(float), mom))))
        goto out;
    size_t k = 0;
    for (int i = 0; i < ps->count; i++) {
        const fk_param *p = &ps->items[i];
        fk_st_tensor *t = &ts[k++];
        t->name = p->name;
        fill_shape(t, p);
        if (p->is_buffer && is_int64(p)) {
            ints[i] = (int64_t)bufs[p->off];
            t->dtype = FK_DT_I64;
            t->data = &ints[i];
            t->nbytes = sizeof(int64_t) * p->count;
            if (p->count != 1) {
                st = fk_error(FK_ERR_ARG, "%s: integer buffer %s must have one element", path, p->name);
                goto out;
            }
        } else {
            t->dtype = FK_DT_F32;
            t->data = (p->is_buffer ? bufs : params) + p->off;
            t->nbytes = p->count * sizeof(float);
        }
        if (with_momentum && !p->is_buffer) {
            size_t len = strlen(FK_CKPT_MOMENTUM_PREFIX) + strlen(p->name) + 1;
            names[i] = fk_malloc(len);
            if (!names[i]) {
                st = FK_ERR_NOMEM;
                goto out;
            }
            snprintf(names[i], len, "%s%s", FK_CKPT_MOMENTUM_PREFIX, p->name);
            fk_st_tensor *m = &ts[k++];
            *m = *t;
            m->name = names[i];
            m->data = mom + p->off;
        }
    }
    st = fk_st_write(path, ts, k, meta_keys, meta_values, n_meta);
out:
    if (names)
        for (int i = 0; i < ps->count; i++)
            free(names[i]);
    free(names);
    free(ts);
    free(params);
    free(mom);
    free(bufs);
    free(ints);
    return st;
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

static fk_status load(fk_runtime *rt, fk_param_store *ps, const char *path, bool with_momentum, const char *exclude,
                      fk_st_file *meta)
{
    fk_st_file f;
    FK_TRY(fk_st_read(path, &f));
    fk_status st = FK_OK;
    float *params = fk_calloc(ps->param_count + 1, sizeof(float));
    float *mom = fk_calloc(ps->param_count + 1, sizeof(float));
    float *bufs = fk_calloc(ps->buffer_count + 1, sizeof(float));
    if (!params || !mom || !bufs) {
        st = FK_ERR_NOMEM;
        goto out;
    }
    /* the excluded tensors keep the values the store holds */
    if (exclude && ((st = fk_buffer_read(rt, ps->params, 0, ps->param_count * sizeof(float), params)) ||
                    (st = fk_buffer_read(rt, ps->buffers, 0, ps->buffer_count * sizeof(float), bufs))))
        goto out;
    size_t expected = 0;
    for (int i = 0; i < ps->count && st == FK_OK; i++) {
        const fk_param *p = &ps->items[i];
        if (fk_checkpoint_excluded(p->name, exclude))
            continue;
        bool integer = p->is_buffer && is_int64(p);
        const fk_st_tensor *t;
        if ((st = check_tensor(&f, path, p->name, p, integer ? FK_DT_I64 : FK_DT_F32, &t)))
            break;
        expected++;
        if (integer)
            bufs[p->off] = (float)*(const int64_t *)t->data;
        else
            memcpy((p->is_buffer ? bufs : params) + p->off, t->data, t->nbytes);
        if (with_momentum && !p->is_buffer) {
            char name[256];
            snprintf(name, sizeof name, "%s%s", FK_CKPT_MOMENTUM_PREFIX, p->name);
            if ((st = check_tensor(&f, path, name, p, FK_DT_F32, &t)))
                break;
            expected++;
            memcpy(mom + p->off, t->data, t->nbytes);
        }
    }
    if (st)
        goto out;
    /* anything else is unexpected, except optimizer state we did not ask for */
    for (size_t i = 0; i < f.count; i++) {
        const char *name = f.tensors[i].name;
        if ((!with_momentum && !strncmp(name, "optimizer.", 10)) || fk_checkpoint_excluded(name, exclude))
            continue;
        if (fk_params_find(ps, name) < 0 &&
            !(with_momentum && !strncmp(name, FK_CKPT_MOMENTUM_PREFIX, strlen(FK_CKPT_MOMENTUM_PREFIX)) &&
              fk_params_find(ps, name + strlen(FK_CKPT_MOMENTUM_PREFIX)) >= 0)) {
            st = fk_error(FK_ERR_FORMAT, "%s: unexpected tensor %s (not a parameter or buffer of this model)",
                          path, name);
            goto out;
        }
    }
    if ((st = fk_buffer_write(rt, ps->params, 0, ps->param_count * sizeof(float), params)) ||
        (st = fk_buffer_write(rt, ps->buffers, 0, ps->buffer_count * sizeof(float), bufs)))
        goto out;
    if (with_momentum)
        st = fk_buffer_write(rt, ps->momentum, 0, ps->param_count * sizeof(float), mom);
out:
    free(params);
    free(mom);
    free(bufs);
    if (st == FK_OK && meta)
        *meta = f;
    else
        fk_st_free(&f);
    return st;
}

fk_status fk_checkpoint_load(fk_runtime *rt, fk_param_store *ps, const char *path, bool with_momentum,
                             fk_st_file *meta)
{
    return load(rt, ps, path, with_momentum, NULL, meta);
}

fk_status fk_checkpoint_load_except(fk_runtime *rt, fk_param_store *ps, const char *path, const char *exclude)
{
    return load(rt, ps, path, false, exclude, NULL);
}
