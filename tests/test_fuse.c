/* The ReLUs fused into BatchNorm and residual adds (fk_graph_plan unless
 * FIGKD_FUSE=0) against the same graph unfused, bit for bit: a train step
 * (forward; backward from a random logits gradient plus a random gradient
 * added into every feature tap, as a feature loss does, some of them
 * fused ReLUs) and an eval forward after it must give the same output,
 * every parameter gradient, the BN running statistics and the eval output.
 * Graphs: a ResNet basic block built here (stem BN + ReLU, BN + ReLU
 * inside, a downsample shortcut, add + ReLU), the same with sync_bn's
 * replica sums (one replica: the host path of src/ops/batchnorm_sync.c),
 * and whole models: resnet8x4 (1x1 conv shortcuts), resnet8 (identity
 * shortcuts) and wrn_16_2 (pre-activation: a BN + ReLU after each add).
 * Each fused run must really fuse (the count of fused ReLUs is checked),
 * and the unfused one must not. */
#include "common.h"

#include "figkd/model.h"
#include "figkd/ops.h"

#include <stdlib.h>
#include <string.h>

#define BATCH 4

/* What one run leaves, read back. */
typedef struct outcome {
    float *out, *eval, *grads, *bufs;
    size_t nout;
    int fused;
} outcome;

static void outcome_free(outcome *o)
{
    free(o->out), free(o->eval), free(o->grads), free(o->bufs);
    memset(o, 0, sizeof *o);
}

/* sync_bn's sums over one replica: nothing to add */
static fk_status one_replica(void *ctx, double *x, size_t n)
{
    (void)ctx, (void)x, (void)n;
    return FK_OK;
}

/* A random gradient into each feature tap (added: the graph zeroed them). */
static fk_status add_tap_grads(fk_runtime *rt, fk_graph *g)
{
    fk_feats f;
    fk_graph_feats(g, &f);
    for (int i = 0; i <= f.count; i++) {
        fk_tensor t = i < f.count ? f.dstage[i] : f.dembed;
        if (!t.buf)
            continue;
        size_t n = fk_tensor_numel(&t);
        float *h = fk_test_uniform(n, 90 + (unsigned)i, -0.1f, 0.1f);
        fk_status st = h ? fk_buffer_write(rt, t.buf, t.off * sizeof(float), n * sizeof(float), h) : FK_ERR_NOMEM;
        free(h);
        FK_TRY(st);
    }
    return FK_OK;
}

/* From parameters p and buffers b: plan (fused or not), a train forward,
 * backward, an eval forward. */
static int run(fk_runtime *rt, fk_graph *g, bool fuse, const fk_replicas *rep, const float *p, const float *b,
               cl_mem xbuf, cl_mem dybuf, outcome *o)
{
    memset(o, 0, sizeof *o);
    fk_param_store *ps = &g->params;
    const fk_node *in = &g->nodes[0], *last = &g->nodes[g->count - 1];
    rt->opts.fuse = fuse ? FK_SWITCH_ON : FK_SWITCH_OFF;
    g->bn_replicas = rep;
    fk_tensor x = {xbuf, 0, 4, {BATCH, in->c, in->h, in->w}}, y;
    o->nout = (size_t)BATCH * last->c;
    fk_tensor dy = {dybuf, 0, 2, {BATCH, last->c, 1, 1}};
    fk_status st = fk_buffer_write(rt, ps->params, 0, ps->param_count * sizeof(float), p);
    if (!st && ps->buffer_count)
        st = fk_buffer_write(rt, ps->buffers, 0, ps->buffer_count * sizeof(float), b);
    if (!st)
        st = fk_graph_plan(rt, g, BATCH, true);
    if (!st)
        st = fk_graph_forward(rt, g, x, true, &y);
    if (!st)
        o->out = fk_test_download(rt, y, o->nout);
    if (!st)
        st = fk_graph_zero_grad(rt, g);
    if (!st)
        st = add_tap_grads(rt, g);
    if (!st)
        st = fk_graph_backward_from(rt, g, dy);
    if (!st) {
        o->grads = fk_test_download(rt, (fk_tensor){ps->grads, 0, 1, {1, 1, 1, 1}}, ps->param_count);
        o->bufs = fk_test_download(rt, (fk_tensor){ps->buffers, 0, 1, {1, 1, 1, 1}}, ps->buffer_count);
        st = fk_graph_forward(rt, g, x, false, &y);
    }
    if (!st)
        o->eval = fk_test_download(rt, y, o->nout);
    for (int i = 0; i < g->count; i++)
        o->fused += g->nodes[i].fused;
    g->bn_replicas = NULL;
    rt->opts.fuse = FK_SWITCH_DEFAULT;
    CHECK(st == FK_OK, "%s: %s", fuse ? "fused" : "unfused", fk_last_error());
    return st == FK_OK && o->out && o->grads && o->bufs && o->eval ? 0 : 1;
}

/* got and ref the same floats (bit for bit; the report names the worst) */
static void same(const char *model, const char *what, const float *got, const float *ref, size_t n)
{
    char label[128];
    snprintf(label, sizeof label, "%s %s fused vs unfused", model, what);
    size_t bad = fk_test_close(label, got, ref, n, 0, 0);
    CHECK(bad == 0 && !memcmp(got, ref, n * sizeof *got), "%s: %zu of %zu elements differ", label, bad, n);
}

/* g finished with its parameters on the device; random weights, input and
 * logits gradient; fused against unfused. */
static void check_graph(fk_runtime *rt, fk_graph *g, const char *name, const fk_replicas *rep, int want_fused)
{
    fk_param_store *ps = &g->params;
    const fk_node *in = &g->nodes[0], *last = &g->nodes[g->count - 1];
    size_t nx = (size_t)BATCH * in->c * in->h * in->w, ny = (size_t)BATCH * last->c;
    /* weights and BN affine parameters in [-0.5, 0.5] (ReLU inputs on both
     * sides of 0); running means in [-1.6, 0.2], variances in [0.5, 2] */
    float *p = fk_test_uniform(ps->param_count + 1, 31, -0.5f, 0.5f);
    float *b = fk_test_uniform(ps->buffer_count + 1, 32, 0.5f, 2.0f);
    float *x = fk_test_uniform(nx, 33, -1, 1), *dy = fk_test_uniform(ny, 34, -1, 1);
    for (int i = 0; b && i < ps->count; i++) {
        const fk_param *it = &ps->items[i];
        size_t len = strlen(it->name);
        fk_tensor t = fk_params_tensor(ps, i);
        if (it->is_buffer && len > 12 && !strcmp(it->name + len - 12, "running_mean"))
            for (size_t k = 0; k < it->count; k++)
                b[t.off + k] -= 1.8f;
        if (it->is_int64)
            memset(b + t.off, 0, it->count * sizeof(float));
    }
    cl_mem xbuf = NULL, dybuf = NULL;
    outcome plain = {0}, fused = {0};
    if (!p || !b || !x || !dy || fk_test_upload(rt, x, nx, &xbuf) || fk_test_upload(rt, dy, ny, &dybuf)) {
        CHECK(0, "%s: setup", name);
        goto done;
    }
    if (run(rt, g, false, rep, p, b, xbuf, dybuf, &plain) || run(rt, g, true, rep, p, b, xbuf, dybuf, &fused))
        goto done;
    int before = fk_test_failures;
    CHECK(plain.fused == 0, "%s: FIGKD_FUSE=0 fused %d ReLUs", name, plain.fused);
    CHECK(fused.fused == want_fused, "%s: %d ReLUs fused, expected %d", name, fused.fused, want_fused);
    same(name, "train output", fused.out, plain.out, plain.nout);
    same(name, "parameter gradients", fused.grads, plain.grads, ps->param_count);
    same(name, "running statistics", fused.bufs, plain.bufs, ps->buffer_count);
    same(name, "eval output", fused.eval, plain.eval, plain.nout);
    if (fk_test_failures == before)
        printf("%s%s: %d ReLUs fused; output, %zu gradients, %zu buffer values and the eval output the same\n",
               name, rep ? " (sync_bn)" : "", fused.fused, ps->param_count, ps->buffer_count);
done:
    outcome_free(&plain);
    outcome_free(&fused);
    if (xbuf)
        clReleaseMemObject(xbuf);
    if (dybuf)
        clReleaseMemObject(dybuf);
    free(p), free(b), free(x), free(dy);
}

/* A ResNet stem and basic block with a downsample shortcut, its output
 * ReLU a feature tap: three ReLUs to fuse (stem BN, the block's first BN,
 * the add), two BNs without (the block's second and the shortcut's). */
static void check_block(fk_runtime *rt, bool sync)
{
    fk_graph g;
    fk_graph_init(&g);
    int x = fk_g_input(&g, 3, 8, 8);
    x = fk_g_relu(&g, fk_g_bn(&g, fk_g_conv(&g, x, 8, 3, 1, 1, 1, false, "conv1"), "bn1"), "relu");
    int o = fk_g_conv(&g, x, 16, 3, 2, 1, 1, false, "layer1.0.conv1");
    o = fk_g_relu(&g, fk_g_bn(&g, o, "layer1.0.bn1"), "layer1.0.relu");
    o = fk_g_bn(&g, fk_g_conv(&g, o, 16, 3, 1, 1, 1, false, "layer1.0.conv2"), "layer1.0.bn2");
    int r = fk_g_conv(&g, x, 16, 1, 2, 0, 1, false, "layer1.0.downsample.0");
    r = fk_g_bn(&g, r, "layer1.0.downsample.1");
    o = fk_g_relu(&g, fk_g_add(&g, o, r, "layer1.0.add"), "layer1.0.relu_out");
    fk_g_tap_stage(&g, o);
    fk_g_linear(&g, fk_g_gap(&g, o, "avgpool"), 5, true, "fc");
    fk_replicas rep = {one_replica, NULL};
    if (fk_graph_finish(&g) != FK_OK || fk_params_alloc(rt, &g.params) != FK_OK)
        CHECK(0, "block: build: %s", fk_last_error());
    else
        check_graph(rt, &g, "resnet block", sync ? &rep : NULL, 3);
    fk_graph_free(&g);
}

static void check_model(fk_runtime *rt, const char *name, int size, int want_fused)
{
    fk_model_opts o = {10, size, 3};
    fk_model *m = NULL;
    if (fk_model_build(name, &o, &m) != FK_OK || fk_model_to_device(rt, m, 5) != FK_OK)
        CHECK(0, "%s: setup: %s", name, fk_last_error());
    else
        check_graph(rt, &m->graph, name, NULL, want_fused);
    fk_model_free(m);
}

/* "blocks", "models" or both (no argument): the whole models are the
 * models suite's, out of the ops suite that also runs under Oclgrind */
static const char *part;

static void body(fk_runtime *rt, const fk_st_file *f)
{
    (void)f;
    if (!part || !strcmp(part, "blocks")) {
        check_block(rt, false);
        check_block(rt, true);
    }
    if (!part || !strcmp(part, "models")) {
        check_model(rt, "resnet8x4", 16, 7); /* stem, and per block the first BN and the add */
        check_model(rt, "resnet8", 16, 7);
        check_model(rt, "wrn_16_2", 16, 13); /* pre-activation: both BNs of each of 6 blocks, and the final one */
    }
}

int main(int argc, char **argv)
{
    part = argc > 1 ? argv[1] : NULL;
    if (part && strcmp(part, "blocks") && strcmp(part, "models")) {
        fprintf(stderr, "usage: test_fuse [blocks|models]\n");
        return 2;
    }
    return fk_test_main("fuse", NULL, body);
}
