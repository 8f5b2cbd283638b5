/* The layer graph: node list, finishing (views, in-place ReLU, gradient
 * flags), the memory plan and the forward/backward walks. The layers
 * themselves are in layer_*.c behind struct fk_op. */
#include "figkd/graph.h"
#include "frozen.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fk_graph_init(fk_graph *g)
{
    memset(g, 0, sizeof *g);
    fk_params_init(&g->params);
    fk_arena_init(&g->act);
    fk_arena_init(&g->grad);
    g->work_req = -1;
    g->embed = -1;
}

static void plan_free(fk_graph *g)
{
    fk_frozen_free(g);
    fk_arena_free(&g->act);
    fk_arena_free(&g->grad);
    g->planned = false;
    g->work_req = -1;
    g->work_elems = 0;
}

void fk_graph_free(fk_graph *g)
{
    plan_free(g);
    for (int i = 0; i < g->count; i++)
        free(g->nodes[i].state);
    free(g->nodes);
    free(g->init);
    fk_params_free(&g->params);
    memset(g, 0, sizeof *g);
}

int fk_graph_add(fk_graph *g, const fk_op *op, const int *in, int nin, void *state, const char *name)
{
    if (g->status != FK_OK) {
        free(state);
        return -1;
    }
    if (g->finished || nin > FK_NODE_MAX_IN) {
        free(state);
        g->status = fk_error(FK_ERR_ARG, "graph: cannot add %s '%s' (finished or too many inputs)",
                             op->name, name);
        return -1;
    }
    for (int i = 0; i < nin; i++)
        if (in[i] < 0 || in[i] >= g->count) {
            free(state);
            g->status = fk_error(FK_ERR_ARG, "graph: %s '%s': bad input node %d", op->name, name, in[i]);
            return -1;
        }
    if (g->count == g->capacity) {
        int cap = g->capacity ? g->capacity * 2 : 64;
        fk_node *grown = realloc(g->nodes, (size_t)cap * sizeof *grown);
        if (!grown) {
            free(state);
            g->status = fk_error(FK_ERR_NOMEM, "graph: out of host memory");
            return -1;
        }
        g->nodes = grown;
        g->capacity = cap;
    }
    int id = g->count++;
    fk_node *nd = &g->nodes[id];
    memset(nd, 0, sizeof *nd);
    snprintf(nd->name, sizeof nd->name, "%s", name);
    nd->op = op;
    nd->nin = nin;
    for (int i = 0; i < FK_NODE_MAX_IN; i++)
        nd->in[i] = i < nin ? in[i] : -1;
    for (int i = 0; i < FK_NODE_MAX_PARAM; i++)
        nd->param[i] = -1;
    nd->alias = -1;
    nd->act_req = nd->grad_req = -1;
    for (int i = 0; i < FK_NODE_MAX_SAVED; i++)
        nd->saved_req[i] = -1;
    nd->state = state;
    nd->ndim = 4;
    nd->h = nd->w = 1;
    fk_status st = op->shape(g, nd);
    if (st != FK_OK) {
        if (g->status == FK_OK)
            g->status = st;
        return -1;
    }
    return id;
}

int fk_graph_param(fk_graph *g, fk_node *node, const char *suffix, int ndim, const int *shape,
                   bool is_buffer, fk_init_rule rule)
{
    char name[160];
    if (node->nparam >= FK_NODE_MAX_PARAM) {
        g->status = fk_error(FK_ERR_ARG, "graph: %s: too many parameters", node->name);
        return -1;
    }
    snprintf(name, sizeof name, "%s.%s", node->name, suffix);
    int idx = fk_params_add(&g->params, name, ndim, shape, is_buffer);
    if (idx < 0) {
        g->status = FK_ERR_ARG;
        return -1;
    }
    if (idx >= g->init_capacity) {
        int cap = g->init_capacity ? g->init_capacity * 2 : 64;
        fk_init_rule *grown = realloc(g->init, (size_t)cap * sizeof *grown);
        if (!grown) {
            g->status = fk_error(FK_ERR_NOMEM, "graph: out of host memory");
            return -1;
        }
        g->init = grown;
        g->init_capacity = cap;
    }
    g->init[idx] = rule;
    node->param[node->nparam++] = idx;
    return idx;
}

static bool is_tap(const fk_graph *g, int id)
{
    for (int i = 0; i < g->nfeat; i++)
        if (g->feat[i] == id)
            return true;
    return g->embed == id;
}

static int tap(fk_graph *g, int x, int *slot)
{
    if (g->status != FK_OK || x < 0)
        return -1;
    if (x >= g->count || g->finished) {
        g->status = fk_error(FK_ERR_ARG, "graph: cannot tap node %d", x);
        return -1;
    }
    *slot = x;
    return x;
}

int fk_g_tap_stage(fk_graph *g, int x)
{
    if (g->status == FK_OK && g->nfeat == FK_FEAT_MAX) {
        g->status = fk_error(FK_ERR_ARG, "graph: more than %d stage outputs", FK_FEAT_MAX);
        return -1;
    }
    int id = tap(g, x, &g->feat[g->nfeat]);
    if (id >= 0)
        g->nfeat++;
    return id;
}

int fk_g_tap_embed(fk_graph *g, int x) { return tap(g, x, &g->embed); }

fk_status fk_graph_finish(fk_graph *g)
{
    if (g->status != FK_OK)
        return g->status;
    if (g->count < 2 || g->nodes[0].op->kind != FK_OP_INPUT)
        return g->status = fk_error(FK_ERR_ARG, "graph: needs an input node and at least one layer");
    for (int i = 0; i < g->count; i++) {
        fk_node *nd = &g->nodes[i];
        for (int j = 0; j < nd->nin; j++)
            g->nodes[nd->in[j]].consumers++;
    }
    for (int i = 0; i < g->count; i++) {
        fk_node *nd = &g->nodes[i];
        fk_op_kind kind = nd->op->kind;
        /* gradient wanted when a parameter or an input that wants one feeds it */
        nd->has_grad = kind == FK_OP_INPUT ? g->input_grad : nd->nparam > 0;
        for (int j = 0; j < nd->nin; j++)
            if (g->nodes[nd->in[j]].has_grad)
                nd->has_grad = true;
        if (kind == FK_OP_FLATTEN || kind == FK_OP_VIEW) {
            /* alias_sample_off was set by the builder */
            nd->alias = nd->in[0];
            nd->grad_alias = true;
        }
        if (kind == FK_OP_RELU) {
            const fk_node *src = &g->nodes[nd->in[0]];
            /* In place when nothing else reads the input and it is plain
             * memory of its own: every backward reads its own input, never
             * its output (but ReLU, which reads the same values in place). */
            if (src->op->kind != FK_OP_INPUT && src->alias < 0 && src->consumers == 1 && !is_tap(g, nd->in[0]) &&
                i != g->count - 1) {
                nd->alias = nd->in[0];
                nd->alias_sample_off = 0;
                nd->grad_alias = false;
            }
        }
    }
    fk_node *last = &g->nodes[g->count - 1];
    if (last->alias >= 0)
        return g->status = fk_error(FK_ERR_ARG, "graph: the output node %s must not be a view", last->name);
    g->finished = true;
    return FK_OK;
}

const fk_tensor *fk_node_din(fk_graph *g, const fk_node *node, int i)
{
    fk_node *src = &g->nodes[node->in[i]];
    return src->has_grad ? &src->dout : NULL;
}

fk_tensor fk_graph_view(fk_tensor base, const fk_node *nd, int n, size_t off)
{
    fk_tensor t = base;
    t.off += off;
    t.ndim = nd->ndim;
    t.shape[0] = n;
    t.shape[1] = nd->c;
    t.shape[2] = nd->ndim == 4 ? nd->h : 1;
    t.shape[3] = nd->ndim == 4 ? nd->w : 1;
    return t;
}

static size_t node_elems(const fk_node *nd, int n)
{
    return (size_t)n * (size_t)nd->c * (size_t)nd->h * (size_t)nd->w;
}

/* The node whose gradient buffer node i's gradient is (following
 * gradient views: flatten, split parts). */
static int grad_root(const fk_graph *g, int i)
{
    while (g->nodes[i].grad_alias && g->nodes[i].alias >= 0)
        i = g->nodes[i].alias;
    return i;
}

void fk_graph_fuse_relus(fk_graph *g, bool on)
{
    for (int i = 0; i < g->count; i++) {
        g->nodes[i].fused_relu = -1;
        g->nodes[i].fused = false;
    }
    for (int i = 1; on && i < g->count; i++) {
        fk_node *nd = &g->nodes[i];
        if (nd->op->kind != FK_OP_RELU || nd->alias != nd->in[0])
            continue; /* only a ReLU in place: its input has no other reader and is no tap */
        fk_node *src = &g->nodes[nd->in[0]];
        if (src->op->kind == FK_OP_BN || src->op->kind == FK_OP_ADD) {
            src->fused_relu = i;
            nd->fused = true;
        }
    }
}

/* Activation gradients by lifetime. In the backward walk (node ids going
 * down) the gradient of node r is written (added into) by the backward of
 * the nodes that read r or a view of it, and read by r's own backward: it
 * lives from its last writer w (the largest id; it is zeroed just before
 * w's backward) down to r. Gradients whose id ranges [r, w] do not meet
 * share a buffer; the output's gradient lives from the start (the copy of
 * dout). Greedy in the order of the walk: a gradient takes the smallest
 * free buffer that holds it, else the largest free one grows, else a new
 * one. A node with a fused ReLU has no gradient of its own, and the ReLU's
 * gradient lives on down to that node, whose backward reads it. */
static fk_status plan_grads(fk_graph *g, int n)
{
    const int count = g->count;
    int *slot_of = fk_malloc((size_t)count * sizeof *slot_of), *busy_to = fk_calloc((size_t)count + 1, sizeof *busy_to);
    size_t *elems = fk_calloc((size_t)count + 1, sizeof *elems);
    int *req = fk_malloc(((size_t)count + 1) * sizeof *req);
    fk_status st = slot_of && busy_to && elems && req ? FK_OK : FK_ERR_NOMEM;
    for (int i = 0; !st && i < count; i++) {
        g->nodes[i].grad_zero_at = i;
        slot_of[i] = -1;
    }
    for (int i = 1; !st && i < count; i++) {
        const fk_node *nd = &g->nodes[i];
        for (int t = 0; t < nd->nin; t++) {
            fk_node *r = &g->nodes[grad_root(g, nd->in[t])];
            if (r->grad_zero_at < i)
                r->grad_zero_at = i;
        }
    }
    if (!st)
        g->nodes[count - 1].grad_zero_at = count;
    /* a feature tap's gradient is added by the loss before the backward
     * starts (fk_graph_zero_grad zeroed it): live from the start */
    for (int k = 0; !st && k <= g->nfeat; k++) {
        int id = k < g->nfeat ? g->feat[k] : g->embed;
        if (id > 0)
            g->nodes[grad_root(g, id)].grad_zero_at = count;
    }
    int nslots = 0;
    /* in the order the lifetimes start: by zero point, going down */
    for (int at = count; !st && at >= 1; at--)
        for (int i = count - 1; i >= 0; i--) { /* the input too when its gradient is wanted (input_grad) */
            fk_node *nd = &g->nodes[i];
            if (!nd->has_grad || nd->grad_alias || nd->fused_relu >= 0 || nd->grad_zero_at != at)
                continue;
            const size_t need = node_elems(nd, n);
            int best = -1;
            for (int q = 0; q < nslots; q++) {
                if (busy_to[q] <= at)
                    continue; /* its gradient is still live at `at` */
                if (best < 0 || (elems[q] >= need && (elems[best] < need || elems[q] < elems[best])) ||
                    (elems[best] < need && elems[q] > elems[best]))
                    best = q;
            }
            if (best < 0)
                best = nslots++;
            if (elems[best] < need)
                elems[best] = need;
            busy_to[best] = nd->fused ? nd->in[0] : i; /* free for lifetimes that start below */
            slot_of[i] = best;
        }
    for (int q = 0; !st && q < nslots; q++)
        if ((req[q] = fk_arena_request(&g->grad, elems[q])) < 0)
            st = FK_ERR_NOMEM;
    for (int i = 0; !st && i < count; i++)
        g->nodes[i].grad_req = slot_of[i] >= 0 ? req[slot_of[i]] : -1;
    free(slot_of);
    free(busy_to);
    free(elems);
    free(req);
    return st;
}

size_t fk_graph_planned_bytes(const fk_graph *g)
{
    if (g->frozen)
        return fk_graph_frozen_bytes(g);
    size_t elems = 0;
    const fk_arena *arenas[] = {&g->act, &g->grad};
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < arenas[a]->nchunks; c++)
            elems += arenas[a]->chunk_elems[c];
    return elems * sizeof(float);
}

/* The requests of the plan for batch n in g->act and g->grad, not yet
 * allocated: every node's activation (train: its saved tensors too), the
 * gradients by lifetime (train) and the largest work space the device's
 * choices ask for. Sets the fusions, the nodes' requests and the ops'
 * states for batch n. */
static fk_status plan_requests(fk_runtime *rt, fk_graph *g, int n, bool train)
{
    fk_graph_fuse_relus(g, !rt || rt->opts.fuse != FK_SWITCH_OFF);
    size_t work = 0;
    fk_status st = FK_OK;
    g->plan_rt = rt;
    g->plan_train = train;
    for (int i = 0; !st && i < g->count; i++) {
        fk_node *nd = &g->nodes[i];
        nd->act_req = nd->grad_req = -1;
        for (int s = 0; s < FK_NODE_MAX_SAVED; s++)
            nd->saved_req[s] = -1;
        if (nd->op->plan) {
            size_t w = nd->op->plan(g, nd, n);
            if (w > work)
                work = w;
        }
        if (nd->op->kind != FK_OP_INPUT && nd->alias < 0 &&
            (nd->act_req = fk_arena_request(&g->act, node_elems(nd, n))) < 0)
            st = FK_ERR_NOMEM;
        for (int s = 0; !st && train && s < nd->nsaved; s++)
            if ((nd->saved_req[s] = fk_arena_request(&g->act, nd->saved_elems[s])) < 0)
                st = FK_ERR_NOMEM;
    }
    g->plan_rt = NULL;
    if (!st && train)
        st = plan_grads(g, n);
    if (!st && work > 0 && (g->work_req = fk_arena_request(&g->act, work)) < 0)
        st = FK_ERR_NOMEM;
    g->work_elems = work;
    return st;
}

fk_status fk_plan_keep_begin(fk_graph *g, fk_plan_keep *k)
{
    k->g = *g;
    k->nodes = fk_malloc(((size_t)g->count + 1) * sizeof *k->nodes);
    if (!k->nodes)
        return FK_ERR_NOMEM;
    memcpy(k->nodes, g->nodes, (size_t)g->count * sizeof *k->nodes);
    fk_arena_init(&g->act);
    fk_arena_init(&g->grad);
    g->work_req = -1;
    g->work_elems = 0;
    return FK_OK;
}

void fk_plan_keep_end(fk_graph *g, fk_plan_keep *k)
{
    fk_arena_free(&g->act);
    fk_arena_free(&g->grad);
    *g = k->g;
    memcpy(g->nodes, k->nodes, (size_t)g->count * sizeof *k->nodes);
    free(k->nodes);
    k->nodes = NULL;
    /* the ops' states (sizes for the batch) as the plan made them */
    for (int i = 0; g->planned && i < g->count; i++)
        if (g->nodes[i].op->plan)
            (void)g->nodes[i].op->plan(g, &g->nodes[i], g->plan_n);
}

fk_status fk_graph_plan_check(const fk_graph *g, int n)
{
    if (!g->finished)
        return fk_error(FK_ERR_ARG, "graph: plan before fk_graph_finish");
    if (n <= 0)
        return fk_error(FK_ERR_ARG, "graph: batch size %d", n);
    return FK_OK;
}

fk_status fk_graph_plan_bytes(fk_runtime *rt, fk_graph *g, int n, bool train, size_t *bytes)
{
    *bytes = 0;
    FK_TRY(fk_graph_plan_check(g, n));
    fk_plan_keep k;
    FK_TRY(fk_plan_keep_begin(g, &k));
    fk_status st = plan_requests(rt, g, n, train);
    if (!st)
        *bytes = fk_arena_bytes(&g->act) + (train ? fk_arena_bytes(&g->grad) : 0);
    fk_plan_keep_end(g, &k);
    return st;
}

fk_status fk_graph_plan(fk_runtime *rt, fk_graph *g, int n, bool train)
{
    FK_TRY(fk_graph_plan_check(g, n));
    plan_free(g);
    FK_TRY(plan_requests(rt, g, n, train));
    FK_TRY(fk_arena_alloc(rt, &g->act));
    if (train)
        FK_TRY(fk_arena_alloc(rt, &g->grad));
    for (int i = 0; i < g->count; i++) {
        fk_node *nd = &g->nodes[i];
        memset(&nd->out, 0, sizeof nd->out);
        memset(&nd->dout, 0, sizeof nd->dout);
        if (nd->act_req >= 0)
            nd->out = fk_graph_view(fk_arena_tensor(&g->act, nd->act_req, 1, (int[]){1}), nd, n, 0);
        else if (nd->alias >= 0)
            nd->out = fk_graph_view(g->nodes[nd->alias].out, nd, n, (size_t)n * nd->alias_sample_off);
        if (train) {
            if (nd->grad_req >= 0)
                nd->dout = fk_graph_view(fk_arena_tensor(&g->grad, nd->grad_req, 1, (int[]){1}), nd, n, 0);
            else if (nd->grad_alias && nd->has_grad)
                nd->dout = fk_graph_view(g->nodes[nd->alias].dout, nd, n, (size_t)n * nd->alias_sample_off);
            for (int s = 0; s < nd->nsaved; s++) {
                int len = (int)nd->saved_elems[s];
                nd->saved[s] = fk_arena_tensor(&g->act, nd->saved_req[s], 1, &len);
            }
        }
    }
    g->plan_n = n;
    g->plan_train = train;
    g->planned = true;
    return FK_OK;
}

static fk_exec exec_of(fk_runtime *rt, fk_graph *g, bool train)
{
    fk_exec x = {rt, g, g->plan_n, train, {0}};
    if (g->work_req >= 0) {
        int len = (int)g->work_elems;
        x.work = fk_arena_tensor(&g->act, g->work_req, 1, &len);
    }
    return x;
}

fk_status fk_graph_forward(fk_runtime *rt, fk_graph *g, fk_tensor input, bool train, fk_tensor *out)
{
    if (!g->planned)
        return fk_error(FK_ERR_ARG, "graph: forward before fk_graph_plan");
    if (train && !g->plan_train)
        return fk_error(FK_ERR_ARG, "graph: train-mode forward on an eval plan");
    fk_node *in = &g->nodes[0];
    if (input.ndim != 4 || input.shape[0] != g->plan_n || input.shape[1] != in->c ||
        input.shape[2] != in->h || input.shape[3] != in->w)
        return fk_error(FK_ERR_ARG, "graph: input (%d, %d, %d, %d), planned (%d, %d, %d, %d)",
                        input.shape[0], input.shape[1], input.shape[2], input.shape[3], g->plan_n,
                        in->c, in->h, in->w);
    in->out = input;
    if (g->frozen) {
        FK_TRY(fk_frozen_forward(&(fk_exec){rt, g, g->plan_n, false, {0}}));
        if (out)
            *out = g->nodes[g->count - 1].out;
        return FK_OK;
    }
    fk_exec x = exec_of(rt, g, train);
    for (int i = 1; i < g->count; i++) {
        fk_node *nd = &g->nodes[i];
        if (nd->fused) { /* nothing to run (layer_relu.c), nothing to time */
            FK_TRY(nd->op->forward(&x, nd));
        } else if (nd->op->forward) {
            double t0 = fk_profile_begin(rt);
            FK_TRY(nd->op->forward(&x, nd));
            char label[48];
            snprintf(label, sizeof label, "%s%s %s", nd->op->name, nd->fused_relu >= 0 ? "+relu" : "",
                     train ? "fwd-train" : "fwd-eval");
            fk_profile_end(rt, label, t0);
        }
    }
    if (out)
        *out = g->nodes[g->count - 1].out;
    return FK_OK;
}

fk_status fk_graph_backward(fk_runtime *rt, fk_graph *g, fk_tensor dout)
{
    FK_TRY(fk_graph_zero_grad(rt, g));
    return fk_graph_backward_from(rt, g, dout);
}

fk_status fk_graph_zero_grad(fk_runtime *rt, fk_graph *g)
{
    if (!g->planned || !g->plan_train)
        return fk_error(FK_ERR_ARG, "graph: backward needs a train plan");
    for (int c = 0; c < g->grad.nchunks; c++)
        FK_TRY(fk_buffer_fill(rt, g->grad.chunks[c], 0, g->grad.chunk_elems[c], 0.0f));
    return fk_params_zero_grad(rt, &g->params);
}

fk_status fk_graph_backward_from(fk_runtime *rt, fk_graph *g, fk_tensor dout)
{
    if (!g->planned || !g->plan_train)
        return fk_error(FK_ERR_ARG, "graph: backward needs a train plan");
    fk_node *last = &g->nodes[g->count - 1];
    size_t count = fk_tensor_numel(&last->dout);
    if (fk_tensor_numel(&dout) != count)
        return fk_error(FK_ERR_ARG, "graph: output gradient has %zu elements, the output %zu",
                        fk_tensor_numel(&dout), count);
    FK_CL_CHECK(clEnqueueCopyBuffer(rt->queue, dout.buf, last->dout.buf, dout.off * sizeof(float),
                                    last->dout.off * sizeof(float), count * sizeof(float), 0, NULL,
                                    NULL));
    fk_exec x = exec_of(rt, g, true);
    for (int i = g->count - 1; i >= 1; i--) {
        fk_node *nd = &g->nodes[i];
        /* gradients share buffers by lifetime (plan_grads): each is zeroed
         * just before its first writer adds into it */
        for (int j = 0; j <= i; j++) {
            fk_node *r = &g->nodes[j];
            if (r->grad_zero_at == i && r->grad_req >= 0)
                FK_TRY(fk_buffer_fill(rt, r->dout.buf, r->dout.off, fk_tensor_numel(&r->dout), 0.0f));
        }
        if (nd->has_grad && nd->op->backward && nd->fused) {
            FK_TRY(nd->op->backward(&x, nd));
        } else if (nd->has_grad && nd->op->backward) {
            double t0 = fk_profile_begin(rt);
            FK_TRY(nd->op->backward(&x, nd));
            char label[48];
            snprintf(label, sizeof label, "%s%s bwd", nd->op->name, nd->fused_relu >= 0 ? "+relu" : "");
            fk_profile_end(rt, label, t0);
        }
        size_t from = SIZE_MAX;
        for (int j = 0; g->after_backward && j < nd->nparam; j++) {
            const fk_param *p = &g->params.items[nd->param[j]];
            if (!p->is_buffer && p->off < from)
                from = p->off;
        }
        if (from != SIZE_MAX) /* the gradients of this node and the later ones (higher offsets) are complete */
            FK_TRY(g->after_backward(g->after_backward_ctx, from));
    }
    return FK_OK;
}

static void feat_view(const fk_graph *g, int id, fk_tensor *out, fk_tensor *dout)
{
    const fk_node *nd = &g->nodes[id];
    int n = g->planned ? g->plan_n : 0;
    memset(out, 0, sizeof *out);
    memset(dout, 0, sizeof *dout);
    if (g->planned) {
        *out = nd->out;
        if (g->plan_train && nd->has_grad)
            *dout = nd->dout;
    }
    out->ndim = dout->ndim = nd->ndim;
    int shape[4] = {n, nd->c, nd->ndim == 4 ? nd->h : 1, nd->ndim == 4 ? nd->w : 1};
    memcpy(out->shape, shape, sizeof shape);
    memcpy(dout->shape, shape, sizeof shape);
}

void fk_graph_feats(const fk_graph *g, fk_feats *out)
{
    memset(out, 0, sizeof *out);
    out->count = g->nfeat;
    for (int i = 0; i < g->nfeat; i++)
        feat_view(g, g->feat[i], &out->stage[i], &out->dstage[i]);
    if (g->embed >= 0)
        feat_view(g, g->embed, &out->embed, &out->dembed);
}

size_t fk_graph_param_elems(const fk_graph *g)
{
    size_t total = 0;
    for (int i = 0; i < g->params.count; i++)
        if (!g->params.items[i].is_buffer)
            total += g->params.items[i].count;
    return total;
}

double fk_graph_macs(const fk_graph *g)
{
    double total = 0;
    for (int i = 0; i < g->count; i++)
        total += g->nodes[i].macs;
    return total;
}
