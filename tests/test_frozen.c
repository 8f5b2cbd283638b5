/* The frozen plan (fk_graph_freeze: BatchNorm folded into the convs, ReLU
 * and residual add in the conv's output step, buffers reused by lifetime)
 * against the plain eval plan of the same model and weights: the logits
 * within the model_device test's eval tolerance, on models that fold every
 * BN (resnet8x4: shortcuts through 1x1 convs, resnet8: identity shortcuts,
 * vgg8: max pools, ShuffleV2: grouped convs, channel
 * splits and shuffles) and one whose BNs come before their convs
 * (wrn_16_2: pre-activation, unfolded BNs run as they are). Every
 * parameter and BN statistic is random (gamma, beta, running mean and a
 * positive running variance), so a wrong fold shows. Also: the frozen plan
 * takes fewer device bytes than the plain one (besides its copy of the
 * weights), the dry runs of both plans (fk_graph_plan_bytes,
 * fk_graph_frozen_plan_bytes, made while the plain plan is held, which
 * must run on unchanged) give the bytes the plans allocate, a train
 * forward on it is refused, and a plain plan after it works again. */
#include "common.h"

#include "figkd/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* model_device's "logits_eval" row: 1e-4 of the largest |ref|, rtol 1e-3 */
static const double ATOL_SCALE = 1e-4, RTOL = 1e-3;

static void check_model(fk_runtime *rt, const char *name, int batch, int size)
{
    fk_model_opts o = {10, size, 3};
    fk_model *m = NULL;
    cl_mem in_buf = NULL;
    float *p = NULL, *b = NULL, *x = NULL, *plain = NULL, *frozen = NULL;
    if (fk_model_build(name, &o, &m) != FK_OK || fk_model_to_device(rt, m, 7) != FK_OK) {
        CHECK(0, "%s: setup: %s", name, fk_last_error());
        goto done;
    }
    fk_param_store *ps = &m->graph.params;
    /* random weights; BN buffers: means in [-0.5, 0.5], variances in [0.2, 2] */
    p = fk_test_uniform(ps->param_count + 1, 21, -0.5f, 0.5f);
    b = fk_test_uniform(ps->buffer_count + 1, 22, 0.2f, 2.0f);
    for (int i = 0; i < ps->count; i++) {
        const fk_param *it = &ps->items[i];
        size_t len = strlen(it->name);
        fk_tensor t = fk_params_tensor(ps, i);
        if (it->is_buffer && len > 12 && !strcmp(it->name + len - 12, "running_mean"))
            for (size_t k = 0; k < it->count; k++)
                b[t.off + k] -= 1.1f;
        if (it->is_int64)
            memset(b + t.off, 0, it->count * sizeof(float));
    }
    size_t nx = (size_t)batch * 3 * size * size, nl = (size_t)batch * 10;
    x = fk_test_uniform(nx, 23, -1, 1);
    fk_status st = fk_buffer_write(rt, ps->params, 0, ps->param_count * 4, p);
    if (!st && ps->buffer_count)
        st = fk_buffer_write(rt, ps->buffers, 0, ps->buffer_count * 4, b);
    if (!st)
        st = fk_test_upload(rt, x, nx, &in_buf) ? FK_ERR_CL : FK_OK;
    fk_tensor in = {in_buf, 0, 4, {batch, 3, size, size}}, logits;
    if (!st)
        st = fk_model_plan(m, batch, false);
    /* the dry runs (after the plan: it stays as it is) ask what the plans allocate */
    size_t plain_bytes = 0, frozen_dry = 0;
    if (!st)
        st = fk_graph_plan_bytes(rt, &m->graph, batch, false, &plain_bytes);
    if (!st)
        st = fk_graph_frozen_plan_bytes(rt, &m->graph, batch, &frozen_dry);
    CHECK(st || plain_bytes == fk_graph_planned_bytes(&m->graph), "%s: plain plan %zu bytes, its dry run %zu", name,
          fk_graph_planned_bytes(&m->graph), plain_bytes);
    if (!st)
        st = fk_model_forward(m, in, false, &logits);
    if (!st)
        plain = fk_test_download(rt, logits, nl);
    CHECK(st == FK_OK && plain, "%s: plain forward: %s", name, fk_last_error());
    if (st || !plain)
        goto done;
    st = fk_graph_freeze(rt, &m->graph, batch);
    if (!st)
        st = fk_model_forward(m, in, false, &logits);
    if (!st)
        frozen = fk_test_download(rt, logits, nl);
    CHECK(st == FK_OK && frozen, "%s: frozen forward: %s", name, fk_last_error());
    if (st || !frozen)
        goto done;
    double mx = 0;
    for (size_t i = 0; i < nl; i++)
        mx = fmax(mx, fabs(plain[i]));
    char what[96];
    snprintf(what, sizeof what, "%s frozen logits", name);
    size_t bad = fk_test_close(what, frozen, plain, nl, ATOL_SCALE * mx, RTOL);
    size_t fbytes = fk_graph_frozen_bytes(&m->graph);
    CHECK(fbytes == frozen_dry, "%s: frozen plan %zu bytes, its dry run %zu", name, fbytes, frozen_dry);
    /* the frozen plan holds a folded copy of the conv weights (at most the
     * parameters, each padded to 16 floats) beside its activations */
    size_t copy = (ps->param_count + 16 * (size_t)ps->count) * sizeof(float);
    CHECK(fbytes > 0 && fbytes < plain_bytes + copy, "%s: frozen plan %zu bytes, plain %zu + weights %zu", name,
          fbytes, plain_bytes, copy);
    CHECK_ERR(fk_model_forward(m, in, true, &logits), FK_ERR_ARG, "train-mode", "eval plan", "");
    printf("%-10s batch %d, %dx%d: max |logit| %.3g, frozen plan %.2f MiB against %.2f MiB: %s\n", name, batch,
           size, size, mx, fbytes / 1048576.0, plain_bytes / 1048576.0, bad ? "FAIL" : "ok");
    /* a plain plan again replaces the frozen one */
    st = fk_model_plan(m, batch, false);
    if (!st)
        st = fk_model_forward(m, in, false, &logits);
    float *again = st ? NULL : fk_test_download(rt, logits, nl);
    CHECK(again && fk_graph_frozen_bytes(&m->graph) == 0, "%s: plain plan after the frozen one: %s", name,
          fk_last_error());
    if (again)
        fk_test_close("plain logits again", again, plain, nl, 0, 0);
    free(again);
done:
    if (in_buf)
        clReleaseMemObject(in_buf);
    free(p), free(b), free(x), free(plain), free(frozen);
    fk_model_free(m);
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    (void)f;
    check_model(rt, "resnet8x4", 3, 32);
    check_model(rt, "resnet8", 3, 32);
    check_model(rt, "vgg8", 2, 32);
    check_model(rt, "ShuffleV2", 2, 32);
    check_model(rt, "wrn_16_2", 3, 32);
}

int main(void) { return fk_test_main("test_frozen", NULL, run); }
