/* Models: initialise from a seed, upload, run, save and load weights as
 * safetensors with PyTorch state_dict names. Building by name is the zoo's
 * (models/registry.c). */
#include "figkd/model.h"

#include "figkd/checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Whether fk_model_plan_teacher freezes the teacher. */
static bool teacher_frozen(const fk_model *m, bool feats)
{
    return m->rt->opts.fold_teacher != FK_SWITCH_OFF && !feats;
}

fk_status fk_model_plan_teacher(fk_model *m, int batch, bool feats)
{
    if (!m->rt)
        return fk_error(FK_ERR_ARG, "model %s: plan before fk_model_to_device", m->entry->name);
    if (!teacher_frozen(m, feats))
        return fk_graph_plan(m->rt, &m->graph, batch, false);
    FK_TRY(fk_graph_freeze(m->rt, &m->graph, batch));
    /* a frozen teacher trains no more: no gradients, no momentum */
    fk_param_store *ps = &m->graph.params;
    cl_mem *unused[] = {&ps->grads, &ps->momentum};
    for (int i = 0; i < 2; i++)
        if (*unused[i]) {
            clReleaseMemObject(*unused[i]);
            *unused[i] = NULL;
        }
    return FK_OK;
}

size_t fk_model_planned_bytes(const fk_model *m)
{
    const fk_param_store *ps = &m->graph.params;
    size_t bytes = ps->buffer_count * sizeof(float);
    const cl_mem stores[] = {ps->params, ps->grads, ps->momentum};
    for (int i = 0; i < 3; i++)
        bytes += stores[i] ? ps->param_count * sizeof(float) : 0;
    return bytes + fk_graph_planned_bytes(&m->graph);
}

/* the parameter store's bytes with `stores` of its parameter-sized buffers */
static size_t store_bytes(const fk_param_store *ps, size_t stores)
{
    return (stores * ps->param_count + ps->buffer_count) * sizeof(float);
}

fk_status fk_model_bytes(fk_model *m, int batch, bool train, size_t *bytes)
{
    FK_TRY(fk_graph_plan_bytes(m->rt, &m->graph, batch, train, bytes));
    *bytes += store_bytes(&m->graph.params, 3);
    return FK_OK;
}

fk_status fk_model_teacher_bytes(fk_model *m, int batch, bool feats, size_t *bytes)
{
    *bytes = 0;
    if (!m->rt)
        return fk_error(FK_ERR_ARG, "model %s: plan before fk_model_to_device", m->entry->name);
    if (!teacher_frozen(m, feats))
        return fk_model_bytes(m, batch, false, bytes);
    FK_TRY(fk_graph_frozen_plan_bytes(m->rt, &m->graph, batch, bytes));
    *bytes += store_bytes(&m->graph.params, 1); /* no gradients, no momentum */
    return FK_OK;
}

fk_status fk_model_forward(fk_model *m, fk_tensor input, bool train, fk_tensor *logits)
{
    return fk_graph_forward(m->rt, &m->graph, input, train, logits);
}

fk_status fk_model_backward(fk_model *m, fk_tensor dlogits)
{
    return fk_graph_backward(m->rt, &m->graph, dlogits);
}

fk_status fk_model_zero_grad(fk_model *m) { return fk_graph_zero_grad(m->rt, &m->graph); }

fk_status fk_model_backward_from(fk_model *m, fk_tensor dlogits)
{
    return fk_graph_backward_from(m->rt, &m->graph, dlogits);
}

void fk_model_feats(const fk_model *m, fk_feats *out) { fk_graph_feats(&m->graph, out); }

size_t fk_model_param_count(const fk_model *m) { return fk_graph_param_elems(&m->graph); }

double fk_model_macs(const fk_model *m) { return fk_graph_macs(&m->graph); }

/* ---- weights ------------------------------------------------------------------ */

/* The weights-only form of a checkpoint (src/io/checkpoint.c is the codec). */
fk_status fk_model_save(fk_model *m, const char *path, const char *const *meta_keys,
                        const char *const *meta_values, size_t n_meta)
{
    if (!m->rt)
        return fk_error(FK_ERR_ARG, "model %s: save before fk_model_to_device", m->entry->name);
    return fk_checkpoint_save(m->rt, &m->graph.params, path, false, meta_keys, meta_values, n_meta);
}

fk_status fk_model_load(fk_model *m, const char *path)
{
    if (!m->rt)
        return fk_error(FK_ERR_ARG, "model %s: load before fk_model_to_device", m->entry->name);
    FK_TRY(fk_checkpoint_load(m->rt, &m->graph.params, path, false, NULL));
    return fk_runtime_finish(m->rt);
}
