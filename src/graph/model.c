/* Models: build from the registry, initialise from a seed, upload, run,
 * save and load weights as safetensors with PyTorch state_dict names. */
#include "figkd/model.h"

#include "figkd/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const fk_model_entry *fk_model_find(const char *name)
{
    int count;
    const fk_model_entry *list = fk_model_registry(&count);
    for (int i = 0; i < count; i++)
        if (!strcmp(list[i].name, name))
            return &list[i];
    return NULL;
}

fk_status fk_model_build(const char *name, const fk_model_opts *opts, fk_model **out)
{
    *out = NULL;
    const fk_model_entry *e = fk_model_find(name);
    if (!e) {
        int count;
        const fk_model_entry *list = fk_model_registry(&count);
        char names[1024] = "";
        for (int i = 0; i < count; i++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", list[i].name);
        }
        return fk_error(FK_ERR_ARG, "unknown model '%s'; models: %s", name, names);
    }
    fk_model_opts o = *opts;
    if (o.input_size == 0)
        o.input_size = e->native_input;
    if (o.in_channels == 0)
        o.in_channels = 3;
    if (o.num_classes <= 0 || o.input_size <= 0 || o.in_channels <= 0)
        return fk_error(FK_ERR_ARG, "model %s: bad classes %d, input size %d or channels %d", name,
                        o.num_classes, o.input_size, o.in_channels);
    fk_model *m = fk_calloc(1, sizeof *m);
    if (!m)
        return FK_ERR_NOMEM;
    m->entry = e;
    m->opts = o;
    fk_graph_init(&m->graph);
    fk_status st = e->build(&m->graph, e, &o);
    if (st == FK_OK)
        st = m->graph.status;
    if (st == FK_OK)
        st = fk_graph_finish(&m->graph);
    if (st != FK_OK) {
        fk_model_free(m);
        return st;
    }
    *out = m;
    return FK_OK;
}

void fk_model_free(fk_model *m)
{
    if (!m)
        return;
    fk_graph_free(&m->graph);
    free(m);
}

/* ---- initialisation --------------------------------------------------------- */

/* xoshiro256** seeded through splitmix64: our own, not torch's generator. */
typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in (0, 1). */
static double rng_unit(rng *r) { return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double rng_normal(rng *r)
{
    double u1 = rng_unit(r), u2 = rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void fk_model_init_host(const fk_model *m, uint64_t seed, float *params, float *buffers)
{
    const fk_graph *g = &m->graph;
    const fk_param_store *ps = &g->params;
    memset(params, 0, ps->param_count * sizeof *params);
    memset(buffers, 0, ps->buffer_count * sizeof *buffers);
    rng r;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r.s[i] = splitmix64(&x);
    for (int i = 0; i < ps->count; i++) {
        const fk_param *p = &ps->items[i];
        float *dst = (p->is_buffer ? buffers : params) + p->off;
        fk_init_rule rule = g->init[i];
        for (size_t j = 0; j < p->count; j++) {
            double v = 0;
            switch (rule.kind) {
            case FK_INIT_ZERO: v = 0; break;
            case FK_INIT_ONE: v = 1; break;
            case FK_INIT_NORMAL: v = rule.a * rng_normal(&r); break;
            case FK_INIT_UNIFORM: v = rule.a * (2.0 * rng_unit(&r) - 1.0); break;
            }
            dst[j] = (float)v;
        }
    }
}

fk_status fk_model_to_device(fk_runtime *rt, fk_model *m, uint64_t seed)
{
    fk_param_store *ps = &m->graph.params;
    FK_TRY(fk_params_alloc(rt, ps));
    m->rt = rt;
    float *p = fk_malloc((ps->param_count + 1) * sizeof *p);
    float *b = fk_malloc((ps->buffer_count + 1) * sizeof *b);
    fk_status st = (p && b) ? FK_OK : FK_ERR_NOMEM;
    if (st == FK_OK) {
        fk_model_init_host(m, seed, p, b);
        st = fk_buffer_write(rt, ps->params, 0, ps->param_count * sizeof *p, p);
    }
    if (st == FK_OK && ps->buffer_count)
        st = fk_buffer_write(rt, ps->buffers, 0, ps->buffer_count * sizeof *b, b);
    if (st == FK_OK)
        st = fk_runtime_finish(rt);
    free(p);
    free(b);
    return st;
}

/* ---- running ----------------------------------------------------------------- */

fk_status fk_model_plan(fk_model *m, int batch, bool train)
{
    if (!m->rt)
        return fk_error(FK_ERR_ARG, "model %s: plan before fk_model_to_device", m->entry->name);
    return fk_graph_plan(m->rt, &m->graph, batch, train);
}

fk_status fk_model_forward(fk_model *m, fk_tensor input, bool train, fk_tensor *logits)
{
    return fk_graph_forward(m->rt, &m->graph, input, train, logits);
}

fk_status fk_model_backward(fk_model *m, fk_tensor dlogits)
{
    return fk_graph_backward(m->rt, &m->graph, dlogits);
}

size_t fk_model_param_count(const fk_model *m) { return fk_graph_param_elems(&m->graph); }

double fk_model_macs(const fk_model *m) { return fk_graph_macs(&m->graph); }

/* ---- weights ------------------------------------------------------------------ */

static void expected_tensor(const fk_param *p, fk_st_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->name = p->name;
    t->dtype = p->is_int64 ? FK_DT_I64 : FK_DT_F32;
    t->ndim = p->ndim;
    for (int d = 0; d < p->ndim; d++)
        t->shape[d] = p->shape[d];
    t->nbytes = p->count * fk_dtype_size(t->dtype);
}

/* Host copies of the store's params and buffers. */
static fk_status read_store(fk_model *m, float **p, float **b)
{
    fk_param_store *ps = &m->graph.params;
    *p = fk_malloc((ps->param_count + 1) * sizeof **p);
    *b = fk_malloc((ps->buffer_count + 1) * sizeof **b);
    if (!*p || !*b)
        return FK_ERR_NOMEM;
    FK_TRY(fk_buffer_read(m->rt, ps->params, 0, ps->param_count * sizeof **p, *p));
    if (ps->buffer_count)
        FK_TRY(fk_buffer_read(m->rt, ps->buffers, 0, ps->buffer_count * sizeof **b, *b));
    return FK_OK;
}

fk_status fk_model_save(fk_model *m, const char *path, const char *const *meta_keys,
                        const char *const *meta_values, size_t n_meta)
{
    if (!m->rt)
        return fk_error(FK_ERR_ARG, "model %s: save before fk_model_to_device", m->entry->name);
    fk_param_store *ps = &m->graph.params;
    float *p = NULL, *b = NULL;
    fk_st_tensor *ts = fk_calloc((size_t)ps->count + 1, sizeof *ts);
    int64_t *ints = fk_calloc((size_t)ps->count + 1, sizeof *ints);
    fk_status st = ts && ints ? read_store(m, &p, &b) : FK_ERR_NOMEM;
    if (st == FK_OK) {
        for (int i = 0; i < ps->count; i++) {
            const fk_param *q = &ps->items[i];
            const float *src = (q->is_buffer ? b : p) + q->off;
            expected_tensor(q, &ts[i]);
            if (q->is_int64) {
                ints[i] = (int64_t)llround(src[0]);
                ts[i].data = &ints[i];
            } else {
                ts[i].data = (void *)src;
            }
        }
        st = fk_st_write(path, ts, (size_t)ps->count, meta_keys, meta_values, n_meta);
    }
    free(ts);
    free(ints);
    free(p);
    free(b);
    return st;
}

fk_status fk_model_load(fk_model *m, const char *path)
{
    if (!m->rt)
        return fk_error(FK_ERR_ARG, "model %s: load before fk_model_to_device", m->entry->name);
    fk_param_store *ps = &m->graph.params;
    fk_st_file f;
    FK_TRY(fk_st_read(path, &f));
    float *p = NULL, *b = NULL;
    fk_st_tensor *ts = fk_calloc((size_t)ps->count + 1, sizeof *ts);
    fk_status st = ts ? FK_OK : FK_ERR_NOMEM;
    for (int i = 0; st == FK_OK && i < ps->count; i++)
        expected_tensor(&ps->items[i], &ts[i]);
    if (st == FK_OK)
        st = fk_st_check(&f, ts, (size_t)ps->count, path);
    if (st == FK_OK) {
        /* start from the device values so that alignment padding stays as is */
        st = read_store(m, &p, &b);
    }
    for (int i = 0; st == FK_OK && i < ps->count; i++) {
        const fk_param *q = &ps->items[i];
        const fk_st_tensor *t = fk_st_find(&f, q->name);
        float *dst = (q->is_buffer ? b : p) + q->off;
        if (q->is_int64)
            dst[0] = (float)((const int64_t *)t->data)[0];
        else if (q->count)
            memcpy(dst, t->data, q->count * sizeof(float));
    }
    if (st == FK_OK)
        st = fk_buffer_write(m->rt, ps->params, 0, ps->param_count * sizeof *p, p);
    if (st == FK_OK && ps->buffer_count)
        st = fk_buffer_write(m->rt, ps->buffers, 0, ps->buffer_count * sizeof *b, b);
    if (st == FK_OK)
        st = fk_runtime_finish(m->rt);
    free(ts);
    free(p);
    free(b);
    fk_st_free(&f);
    return st;
}
