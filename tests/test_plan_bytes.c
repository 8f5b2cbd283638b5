/* The memory check's figures against what the plans allocate on this
 * device: the dry runs (fk_model_bytes, fk_model_teacher_bytes) give the
 * bytes of the student's train and eval plans and of the teacher's frozen
 * and eval plans at two batch sizes, to the byte (fk_model_planned_bytes
 * after the plan); a dry run leaves a plan the model holds as it is (the
 * same buffers, the same logits); and fk_session_check_memory takes a
 * batch whose plans fit the device's memory, refuses one that does not
 * with the message that names the sizes, and the batch it suggests passes. */
#include "common.h"

#include "figkd/model.h"
#include "train/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fk_model *model(fk_runtime *rt, const char *name)
{
    fk_model_opts o = {10, 32, 3};
    fk_model *m = NULL;
    if (fk_model_build(name, &o, &m) != FK_OK || fk_model_to_device(rt, m, 7) != FK_OK) {
        CHECK(0, "%s: setup: %s", name, fk_last_error());
        fk_model_free(m);
        return NULL;
    }
    return m;
}

static const int BATCHES[] = {2, 5};

/* A student's plans (train, eval) or a teacher's (eval: a method reads its
 * feature taps; then frozen unless FIGKD_FOLD_TEACHER=0), each at both
 * batch sizes. */
static void check_plans(fk_runtime *rt, const char *name, bool teacher)
{
    fk_model *m = model(rt, name);
    for (int k = 0; m && k < 4; k++) {
        const int n = BATCHES[k % 2];
        const bool first = k < 2; /* student: train; teacher: feats */
        const char *what = teacher ? (first ? "eval" : "frozen") : (first ? "train" : "eval");
        size_t dry = 0;
        fk_status st = teacher ? fk_model_teacher_bytes(m, n, first, &dry) : fk_model_bytes(m, n, first, &dry);
        if (!st)
            st = teacher ? fk_model_plan_teacher(m, n, first) : fk_model_plan(m, n, first);
        size_t real = fk_model_planned_bytes(m);
        CHECK(!st && dry == real, "%s %s batch %d: dry run %zu bytes, plan %zu: %s", name, what, n, dry, real,
              fk_last_error());
        CHECK(st || !teacher || rt->opts.fold_teacher == FK_SWITCH_OFF || first == (m->graph.frozen == NULL),
              "%s: the teacher's plan frozen unless feats", name);
        printf("%-10s %-6s batch %d: %.2f MiB\n", name, what, n, real / 1048576.0);
    }
    fk_model_free(m);
}

/* dry runs of other plans between a plan and its forward change nothing */
static void check_plan_kept(fk_runtime *rt)
{
    const int n = 3;
    fk_model *m = model(rt, "resnet8x4");
    if (!m)
        return;
    size_t nx = (size_t)n * 3 * 32 * 32, nl = (size_t)n * 10, bytes = 0;
    float *x = fk_test_uniform(nx, 5, -1, 1), *before = NULL, *after = NULL;
    cl_mem in_buf = NULL;
    fk_tensor logits;
    fk_status st = fk_test_upload(rt, x, nx, &in_buf) ? FK_ERR_CL : FK_OK;
    fk_tensor in = {in_buf, 0, 4, {n, 3, 32, 32}};
    if (!st)
        st = fk_model_plan(m, n, true);
    if (!st)
        st = fk_model_forward(m, in, true, &logits);
    if (!st)
        before = fk_test_download(rt, logits, nl);
    const size_t planned = fk_model_planned_bytes(m);
    fk_tensor out5 = m->graph.nodes[5].out;
    if (!st)
        st = fk_model_bytes(m, 7, false, &bytes);
    if (!st)
        st = fk_model_teacher_bytes(m, 6, false, &bytes);
    const fk_tensor o5 = m->graph.nodes[5].out;
    CHECK(o5.buf == out5.buf && o5.off == out5.off && o5.shape[0] == n && fk_model_planned_bytes(m) == planned &&
              m->graph.planned && m->graph.plan_train && m->graph.plan_n == n && !m->graph.frozen,
          "the plan held before the dry runs is kept");
    if (!st)
        st = fk_model_forward(m, in, true, &logits);
    if (!st)
        after = fk_test_download(rt, logits, nl);
    CHECK(!st && before && after, "forwards around the dry runs: %s", fk_last_error());
    CHECK(before && after && fk_test_close("logits after the dry runs", after, before, nl, 0, 0) == 0,
          "train-mode logits (batch statistics of the plan's batch) as before the dry runs");
    if (in_buf)
        clReleaseMemObject(in_buf);
    free(x), free(before), free(after);
    fk_model_free(m);
}

/* fk_session_check_memory for resnet32x4 (frozen) -> resnet8x4 (train)
 * against device memories just above and just below what the plans take */
static void check_refusal(fk_runtime *rt)
{
    const int n = 64;
    fk_model *s = model(rt, "resnet8x4"), *t = model(rt, "resnet32x4");
    const uint64_t have = rt->dev.global_mem;
    const size_t per_image = 3 * 32 * 32 * sizeof(float) + 4 * 10 * sizeof(float);
    fk_status st = s && t ? fk_model_plan(s, n, true) : FK_ERR_ARG;
    if (!st)
        st = fk_model_plan_teacher(t, n, false);
    CHECK(!st, "plans at batch %d: %s", n, fk_last_error());
    if (st) {
        fk_model_free(s), fk_model_free(t);
        return;
    }
    const uint64_t real = fk_model_planned_bytes(s) + fk_model_planned_bytes(t) + (uint64_t)n * per_image;
    rt->dev.global_mem = real + (1 << 20);
    CHECK(fk_session_check_memory(rt, s, true, t, false, n, per_image) == FK_OK,
          "batch %d fits in its plans' %.1f MiB and 1 MiB more: %s", n, real / 1048576.0, fk_last_error());
    rt->dev.global_mem = real - (1 << 20);
    fk_error_quiet(1);
    CHECK_ERR(fk_session_check_memory(rt, s, true, t, false, n, per_image), FK_ERR_NOMEM, "batch size 64 needs about",
              "MiB per image), the device", "fits");
    const char *hint = strstr(fk_last_error(), "batch_size = ");
    int fits = 0;
    CHECK(hint && sscanf(hint, "batch_size = %d fits", &fits) == 1 && fits >= 8 && fits < n,
          "a smaller batch suggested: %s", fk_last_error());
    printf("check at %.1f MiB: %s\n", rt->dev.global_mem / 1048576.0, fk_last_error());
    if (fits > 0)
        CHECK(fk_session_check_memory(rt, s, true, t, false, fits, per_image) == FK_OK,
              "the suggested batch %d passes: %s", fits, fk_last_error());
    /* the teacher's eval plan (a method reads its taps) takes more */
    rt->dev.global_mem = real + (1 << 20);
    if (rt->opts.fold_teacher != FK_SWITCH_OFF)
        CHECK_ERR(fk_session_check_memory(rt, s, true, t, true, n, per_image), FK_ERR_NOMEM, "batch size 64 needs about",
              NULL, NULL);
    fk_error_quiet(0);
    rt->dev.global_mem = have;
    fk_model_free(s);
    fk_model_free(t);
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    (void)f;
    check_plans(rt, "resnet8x4", false);
    check_plans(rt, "resnet32x4", true);
    check_plan_kept(rt);
    check_refusal(rt);
}

int main(void) { return fk_test_main("test_plan_bytes", NULL, run); }
