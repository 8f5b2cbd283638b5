/* The frozen plan of an inference-only graph (include/figkd/graph.h,
 * fk_graph_freeze): steps, folded weights, buffers by lifetime.
 *
 * A step runs one node. A conv step may take in the BatchNorm that is its
 * only reader (folded: W' = W * s, b' = beta - mean * s (+ bias * s) with
 * s = gamma / sqrt(running_var + eps), per output channel, in double on the
 * host), then the ReLU that is the BN's only reader, or the add that is its
 * only reader when the add's other input comes from an earlier step (that
 * input is the residual), and the ReLU that is the add's only reader. The
 * nodes taken in run no kernels; their outputs are the step's output.
 * Other nodes run their op's eval forward. Views (flatten, split parts,
 * in-place ReLU) share their source's buffer.
 *
 * Buffers: every step's output value gets a slot; a slot is free again
 * after the last step that reads a value in it, and a new value takes the
 * smallest free slot that holds it (else the largest free one grows, else
 * a new slot). The graph's output keeps its slot to the end.
 *
 * The layout (steps, weight offsets, work space, slot sizes) is computed
 * apart from the device buffers, so that fk_graph_frozen_plan_bytes gives
 * the bytes of a plan without making it. */
#include "frozen.h"

#include "figkd/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 1e-5 /* layer_bn.c's eps (PyTorch's default) */

typedef struct fz_step {
    int node;        /* the node that runs */
    int last;        /* the node whose value the step leaves (node, or the last one taken in) */
    int res;         /* conv steps: the node added as residual, -1 none */
    bool fused;      /* a conv step with its folded weight */
    bool relu;
    bool bias;
    size_t w_off, b_off; /* folded weight and bias in fk_frozen.weights */
} fz_step;

struct fk_frozen {
    fz_step *steps;
    int nsteps;
    cl_mem weights;  /* the folded weights and biases */
    size_t weight_elems;
    cl_mem *slots;
    size_t *slot_elems;
    int nslots;
    cl_mem work;
    size_t work_elems;
};

void fk_frozen_free(fk_graph *g)
{
    struct fk_frozen *z = g->frozen;
    if (!z)
        return;
    if (z->weights)
        clReleaseMemObject(z->weights);
    for (int i = 0; i < z->nslots; i++)
        if (z->slots[i])
            clReleaseMemObject(z->slots[i]);
    if (z->work)
        clReleaseMemObject(z->work);
    free(z->slots);
    free(z->slot_elems);
    free(z->steps);
    free(z);
    g->frozen = NULL;
}

/* the device bytes of a frozen plan's buffers as laid out */
static size_t frozen_bytes(const struct fk_frozen *z)
{
    size_t elems = z->weight_elems + z->work_elems;
    for (int i = 0; i < z->nslots; i++)
        elems += z->slot_elems[i];
    return elems * sizeof(float);
}

size_t fk_graph_frozen_bytes(const fk_graph *g) { return g->frozen ? frozen_bytes(g->frozen) : 0; }

/* The only node that reads node i, or -1 (none, or more than one). */
static int only_reader(const fk_graph *g, int i)
{
    if (g->nodes[i].consumers != 1)
        return -1;
    for (int j = i + 1; j < g->count; j++)
        for (int t = 0; t < g->nodes[j].nin; t++)
            if (g->nodes[j].in[t] == i)
                return j;
    return -1;
}

/* Flatten and split parts: views of their source in a frozen plan too
 * (an in-place ReLU gets a buffer of its own, or is taken into a step). */
static bool is_view(const fk_node *nd)
{
    return nd->alias >= 0 && (nd->op->kind == FK_OP_FLATTEN || nd->op->kind == FK_OP_VIEW);
}

/* The node whose buffer holds node i's value (following views). */
static int root_of(const fk_graph *g, const int *owner, int i)
{
    while (is_view(&g->nodes[i]))
        i = g->nodes[i].alias;
    return owner[i];
}

/* Steps from the node list; owner[i]: the step's last node for the nodes a
 * conv step takes in, i otherwise. */
static int build_steps(const fk_graph *g, fz_step *steps, int *owner, bool *done)
{
    int ns = 0;
    for (int i = 1; i < g->count; i++) {
        if (done[i])
            continue;
        const fk_node *nd = &g->nodes[i];
        fz_step s = {i, i, -1, false, false, false, 0, 0};
        int taken[3], nt = 0;
        done[i] = true;
        if (nd->op->kind == FK_OP_CONV) {
            s.fused = true;
            int r = only_reader(g, i);
            if (r >= 0 && g->nodes[r].op->kind == FK_OP_BN) {
                int cur = taken[nt++] = r;
                r = only_reader(g, cur);
                if (r >= 0 && g->nodes[r].op->kind == FK_OP_ADD) {
                    const fk_node *add = &g->nodes[r];
                    int other = add->in[0] == cur ? add->in[1] : add->in[0];
                    if (other != cur && other < i && done[other]) {
                        s.res = other;
                        cur = taken[nt++] = r;
                        r = only_reader(g, cur);
                    }
                }
                if (r >= 0 && g->nodes[r].op->kind == FK_OP_RELU) {
                    s.relu = true;
                    taken[nt++] = r;
                }
            }
        }
        if (nt)
            s.last = taken[nt - 1];
        for (int t = 0; t < nt; t++) {
            done[taken[t]] = true;
            owner[taken[t]] = s.last;
        }
        owner[i] = s.last;
        steps[ns++] = s;
    }
    return ns;
}

/* Where each conv step's folded weight and bias go in z->weights. */
static void layout_weights(const fk_graph *g, struct fk_frozen *z)
{
    const fk_param_store *ps = &g->params;
    size_t total = 0;
    for (int k = 0; k < z->nsteps; k++) {
        fz_step *s = &z->steps[k];
        if (!s->fused)
            continue;
        const fk_node *conv = &g->nodes[s->node];
        s->bias = conv->nparam > 1 || s->last != s->node;
        s->w_off = total;
        size_t wn = ps->items[conv->param[0]].count;
        total = s->w_off + fk_round_up(wn, 16);
        s->b_off = total;
        total += fk_round_up((size_t)conv->c, 16);
    }
    z->weight_elems = total;
}

/* The folded weights of every conv step (layout_weights), written to
 * z->weights. */
static fk_status fold_weights(fk_runtime *rt, fk_graph *g, struct fk_frozen *z)
{
    const fk_param_store *ps = &g->params;
    const size_t total = z->weight_elems;
    if (!total)
        return FK_OK;
    float *p = fk_malloc((ps->param_count + 1) * sizeof *p), *b = fk_malloc((ps->buffer_count + 1) * sizeof *b);
    float *out = fk_calloc(total, sizeof *out);
    fk_status st = p && b && out ? FK_OK : FK_ERR_NOMEM;
    if (!st)
        st = fk_buffer_read(rt, ps->params, 0, ps->param_count * sizeof *p, p);
    if (!st && ps->buffer_count)
        st = fk_buffer_read(rt, ps->buffers, 0, ps->buffer_count * sizeof *b, b);
    for (int k = 0; !st && k < z->nsteps; k++) {
        const fz_step *s = &z->steps[k];
        if (!s->fused)
            continue;
        const fk_node *conv = &g->nodes[s->node];
        const int bn = only_reader(g, s->node);
        const bool has_bn = s->last != s->node;
        const size_t wn = ps->items[conv->param[0]].count, per = wn / (size_t)conv->c;
        fk_tensor wt = fk_params_tensor(ps, conv->param[0]);
        const float *w = p + wt.off, *cb = NULL;
        if (conv->nparam > 1)
            cb = p + fk_params_tensor(ps, conv->param[1]).off;
        for (int o = 0; o < conv->c; o++) {
            double scale = 1.0, shift = cb ? cb[o] : 0.0;
            if (has_bn) {
                const fk_node *n = &g->nodes[bn];
                const float *gamma = p + fk_params_tensor(ps, n->param[0]).off;
                const float *beta = p + fk_params_tensor(ps, n->param[1]).off;
                const float *mean = b + fk_params_tensor(ps, n->param[2]).off;
                const float *var = b + fk_params_tensor(ps, n->param[3]).off;
                scale = gamma[o] / sqrt((double)var[o] + BN_EPS);
                shift = beta[o] + (shift - mean[o]) * scale;
            }
            for (size_t q = 0; q < per; q++)
                out[s->w_off + (size_t)o * per + q] = (float)(w[(size_t)o * per + q] * scale);
            out[s->b_off + (size_t)o] = (float)shift;
        }
    }
    if (!st)
        st = fk_buffer_create(rt, total * sizeof *out, 0, &z->weights);
    if (!st)
        st = fk_buffer_write(rt, z->weights, 0, total * sizeof *out, out);
    if (!st)
        st = fk_runtime_finish(rt);
    free(p);
    free(b);
    free(out);
    return st;
}

/* Slots by lifetime: z->slot_elems, z->nslots, and each step value's slot
 * in slot_of (-1: none). */
static fk_status plan_slots(const fk_graph *g, struct fk_frozen *z, const int *owner, int n, int *slot_of)
{
    const int count = g->count;
    int *last_use = fk_malloc((size_t)count * sizeof *last_use);
    int *busy_until = fk_calloc((size_t)count + 1, sizeof *busy_until);
    z->slot_elems = fk_calloc((size_t)count + 1, sizeof *z->slot_elems);
    if (!last_use || !busy_until || !z->slot_elems) {
        free(last_use), free(busy_until);
        return FK_ERR_NOMEM;
    }
    for (int i = 0; i < count; i++)
        last_use[i] = -1, slot_of[i] = -1;
    /* the last step that reads each buffer's value (by its owner) */
    for (int k = 0; k < z->nsteps; k++) {
        const fz_step *s = &z->steps[k];
        const fk_node *nd = &g->nodes[s->node];
        for (int t = 0; t < nd->nin; t++) {
            int r = root_of(g, owner, nd->in[t]);
            if (r > 0)
                last_use[r] = k;
        }
        if (s->res >= 0) {
            int r = root_of(g, owner, s->res);
            if (r > 0)
                last_use[r] = k;
        }
    }
    last_use[root_of(g, owner, count - 1)] = z->nsteps;
    for (int k = 0; k < z->nsteps; k++) {
        const int v = z->steps[k].last;
        if (is_view(&g->nodes[v]))
            continue; /* no buffer of its own */
        const size_t need = (size_t)n * g->nodes[v].c * g->nodes[v].h * g->nodes[v].w;
        int best = -1;
        for (int q = 0; q < z->nslots; q++) {
            if (busy_until[q] >= k)
                continue;
            if (best < 0)
                best = q;
            else if (z->slot_elems[q] >= need &&
                     (z->slot_elems[best] < need || z->slot_elems[q] < z->slot_elems[best]))
                best = q;
            else if (z->slot_elems[best] < need && z->slot_elems[q] > z->slot_elems[best])
                best = q;
        }
        if (best < 0)
            best = z->nslots++;
        if (z->slot_elems[best] < need)
            z->slot_elems[best] = need;
        busy_until[best] = last_use[v] < k ? k : last_use[v];
        slot_of[v] = best;
    }
    free(last_use);
    free(busy_until);
    return FK_OK;
}

/* The slots (plan_slots) on the device; sets every node's out. */
static fk_status assign_buffers(fk_runtime *rt, fk_graph *g, struct fk_frozen *z, const int *owner,
                                const int *slot_of, int n)
{
    const int count = g->count;
    z->slots = fk_calloc((size_t)z->nslots + 1, sizeof *z->slots);
    fk_status st = z->slots ? FK_OK : FK_ERR_NOMEM;
    for (int q = 0; !st && q < z->nslots; q++)
        st = fk_buffer_create(rt, z->slot_elems[q] * sizeof(float), 0, &z->slots[q]);
    /* outputs in node order: views after their sources, taken-in nodes
     * after their step's last node */
    for (int i = 1; !st && i < count; i++) {
        fk_node *nd = &g->nodes[i];
        memset(&nd->out, 0, sizeof nd->out);
        memset(&nd->dout, 0, sizeof nd->dout);
        if (is_view(nd))
            nd->out = fk_graph_view(g->nodes[nd->alias].out, nd, n, (size_t)n * nd->alias_sample_off);
        else if (owner[i] == i && slot_of[i] >= 0)
            nd->out = fk_graph_view((fk_tensor){z->slots[slot_of[i]], 0, 1, {1, 1, 1, 1}}, nd, n, 0);
    }
    for (int i = count - 1; !st && i >= 1; i--)
        if (owner[i] != i)
            g->nodes[i].out = g->nodes[owner[i]].out;
    return st;
}

/* The frozen plan's layout for batch n in z (steps, the folded weights'
 * offsets, the work space, the slots' sizes; owner and slot_of: count
 * entries each), nothing on the device. Sets the ops' states for batch n. */
static fk_status layout(fk_runtime *rt, fk_graph *g, int n, struct fk_frozen *z, int *owner, int *slot_of)
{
    bool *done = fk_calloc((size_t)g->count, sizeof *done);
    z->steps = fk_calloc((size_t)g->count, sizeof *z->steps);
    if (!done || !z->steps) {
        free(done);
        return FK_ERR_NOMEM;
    }
    for (int i = 0; i < g->count; i++)
        owner[i] = i;
    size_t work = 0;
    g->plan_rt = rt;
    g->plan_train = false;
    for (int i = 0; i < g->count; i++) {
        fk_node *nd = &g->nodes[i];
        if (nd->op->plan) {
            size_t w = nd->op->plan(g, nd, n);
            work = w > work ? w : work;
        }
    }
    g->plan_rt = NULL;
    z->work_elems = work;
    z->nsteps = build_steps(g, z->steps, owner, done);
    free(done);
    layout_weights(g, z);
    return plan_slots(g, z, owner, n, slot_of);
}

fk_status fk_graph_frozen_plan_bytes(fk_runtime *rt, fk_graph *g, int n, size_t *bytes)
{
    *bytes = 0;
    FK_TRY(fk_graph_plan_check(g, n));
    struct fk_frozen z = {0};
    int *owner = fk_malloc((size_t)g->count * sizeof *owner), *slot_of = fk_malloc((size_t)g->count * sizeof *slot_of);
    fk_plan_keep k;
    fk_status st = owner && slot_of ? fk_plan_keep_begin(g, &k) : FK_ERR_NOMEM;
    if (!st) {
        st = layout(rt, g, n, &z, owner, slot_of);
        fk_plan_keep_end(g, &k);
    }
    if (!st)
        *bytes = frozen_bytes(&z);
    free(z.steps);
    free(z.slot_elems);
    free(owner);
    free(slot_of);
    return st;
}

fk_status fk_graph_freeze(fk_runtime *rt, fk_graph *g, int n)
{
    FK_TRY(fk_graph_plan(rt, g, 1, false)); /* frees the earlier plan; checks */
    fk_graph_fuse_relus(g, false);          /* the steps fuse by themselves; unfused nodes run as they are */
    fk_arena_free(&g->act);
    fk_arena_free(&g->grad);
    g->work_req = -1;
    g->planned = false;
    struct fk_frozen *z = fk_calloc(1, sizeof *z);
    int *owner = fk_malloc((size_t)g->count * sizeof *owner), *slot_of = fk_malloc((size_t)g->count * sizeof *slot_of);
    if (!z || !owner || !slot_of) {
        free(z), free(owner), free(slot_of);
        return FK_ERR_NOMEM;
    }
    g->frozen = z;
    fk_status st = layout(rt, g, n, z, owner, slot_of);
    if (!st)
        st = fold_weights(rt, g, z);
    if (!st)
        st = assign_buffers(rt, g, z, owner, slot_of, n);
    if (!st && z->work_elems)
        st = fk_buffer_create(rt, z->work_elems * sizeof(float), 0, &z->work);
    free(owner);
    free(slot_of);
    if (st) {
        fk_frozen_free(g);
        return st;
    }
    g->plan_n = n;
    g->plan_train = false;
    g->planned = true;
    return FK_OK;
}

fk_status fk_frozen_forward(const fk_exec *x0)
{
    fk_graph *g = x0->g;
    struct fk_frozen *z = g->frozen;
    fk_exec x = *x0;
    x.work = (fk_tensor){z->work, 0, 1, {(int)z->work_elems, 1, 1, 1}};
    for (int k = 0; k < z->nsteps; k++) {
        const fz_step *s = &z->steps[k];
        fk_node *nd = &g->nodes[s->node];
        double t0 = fk_profile_begin(x.rt);
        if (s->fused) {
            const fk_node *conv = nd;
            fk_tensor w = {z->weights, s->w_off, 1, {1, 1, 1, 1}}, b = {z->weights, s->b_off, 1, {conv->c, 1, 1, 1}};
            fk_tensor res = s->res >= 0 ? g->nodes[s->res].out : w;
            FK_TRY(fk_conv_node_fused(&x, conv, g->nodes[s->last].out, w, s->bias ? &b : NULL,
                                      s->res >= 0 ? &res : NULL, s->relu));
        } else if (nd->op->forward) {
            FK_TRY(nd->op->forward(&x, nd));
        }
        char label[48];
        snprintf(label, sizeof label, "%s%s fwd-frozen", nd->op->name, s->last != s->node ? "+" : "");
        fk_profile_end(x.rt, label, t0);
    }
    return FK_OK;
}
