/* Whole models on the device against PyTorch (float64 references written
 * by tests/ref/gen_model_cases.py into a folder given as argv[1]):
 * eval-mode logits for every family; train-mode logits, the gradient of
 * every parameter and the BN running statistics after one step for the
 * train cases. Also: weights saved and loaded back bit for bit, and a load
 * of the wrong model's weights named by tensor.
 *
 * usage: test_model_device CASE_DIR [case ...] */
#include "common.h"

#include "figkd/io.h"
#include "figkd/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerances, each relative to the largest |ref| of the tensor compared
 * (atol = scale * max|ref|) plus rtol:
 * - logits: float32 sums over up to ~50 layers against a float64
 *   reference; im2col GEMM reorders sums: 1e-4 of the scale, rtol 1e-3;
 * - train logits and gradients: BatchNorm on batch statistics divides by
 *   small standard deviations (3 samples, 1x1 maps at the end of
 *   MobileNetV2; the generator keeps ReLU inputs 2e-5 away from zero) and backward goes through every layer twice: 2e-3 of the
 *   tensor's scale, rtol 1e-2;
 * - running statistics: one momentum step of batch statistics, 1e-4. */
static const fk_test_tol tol[] = { /* atol: a share of the largest |ref| */
    {"logits_eval", 1e-4, 1e-3},
    {"logits_train", 5e-4, 1e-3},
    {"grad", 2e-3, 1e-2},
    {"after", 1e-4, 1e-4},
};

/* Element i passes when |got - ref| <= scale * max|ref| + floor + rtol * |ref|
 * + 4 * |f32 - ref|, where f32 is PyTorch's own float32 result (when the
 * reference has one): figkd-cl may be off by what float32 itself is off,
 * four times over, on top of the fixed tolerance. floor covers gradients
 * that are zero in exact arithmetic (a bias before a BatchNorm): 1e-5 of
 * the model's largest gradient. */
static size_t compare(const char *model, const char *what, const float *got, const fk_st_tensor *ref,
                      const fk_st_tensor *f32, double floor)
{
    size_t n = ref->nbytes / 4, bad = 0, worst = 0;
    const float *r = ref->data, *t = f32 && f32->nbytes == ref->nbytes ? f32->data : NULL;
    double mx = 0, worst_excess = -1;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(r[i]));
    const fk_test_tol *row = fk_test_tol_find(tol, sizeof tol / sizeof tol[0], what, true);
    double rtol = row ? row->rtol : 0, atol = (row ? row->atol : 0) * mx + floor;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - r[i]);
        double lim = atol + rtol * fabs(r[i]) + (t ? 4.0 * fabs((double)t[i] - r[i]) : 0.0);
        if (!(err <= lim)) {
            bad++;
            double excess = isfinite(err) ? err - lim : INFINITY;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = i;
            }
        }
    }
    if (bad) {
        fprintf(stderr, "%s %s: %zu of %zu elements out of tolerance (atol %g, rtol %g%s); worst at [%zu]: got %.9g, ref %.9g",
                model, what, bad, n, atol, rtol, t ? ", + 4 x float32 error" : "", worst, (double)got[worst],
                (double)r[worst]);
        if (t)
            fprintf(stderr, ", PyTorch float32 %.9g", (double)t[worst]);
        fprintf(stderr, "\n");
    }
    CHECK(bad == 0, "%s %s", model, what);
    return bad;
}

static const fk_st_tensor *need(const fk_st_file *f, const char *name)
{
    const fk_st_tensor *t = fk_st_find(f, name);
    CHECK(t != NULL, "reference has no %s", name);
    return t;
}

static int meta_int(const fk_st_file *f, const char *key)
{
    const char *v = fk_st_meta(f, key);
    long x = 0;
    return v && fk_parse_long(v, &x) == 0 ? (int)x : -1;
}

static void run_case(fk_runtime *rt, const char *dir, const char *name)
{
    char path[1024], wpath[1024];
    snprintf(path, sizeof path, "%s/%s.ref.safetensors", dir, name);
    snprintf(wpath, sizeof wpath, "%s/%s.weights.safetensors", dir, name);
    fk_st_file ref;
    if (fk_st_read(path, &ref) != FK_OK) {
        CHECK(0, "%s: %s", path, fk_last_error());
        return;
    }
    int classes = meta_int(&ref, "classes"), size = meta_int(&ref, "input"), batch = meta_int(&ref, "batch");
    bool train = meta_int(&ref, "train") == 1;
    fk_model_opts o = {classes, size, 3};
    fk_model *m = NULL;
    cl_mem in_buf = NULL, dl_buf = NULL;
    const fk_st_tensor *input = need(&ref, "input"), *le = need(&ref, "logits_eval");
    if (!input || !le || fk_model_build(name, &o, &m) != FK_OK || fk_model_to_device(rt, m, 1) != FK_OK ||
        fk_model_load(m, wpath) != FK_OK) {
        CHECK(0, "%s: setup: %s", name, fk_last_error());
        goto done;
    }
    size_t n_in = input->nbytes / 4, n_out = (size_t)batch * classes;
    if (fk_buffer_create(rt, n_in * 4, 0, &in_buf) != FK_OK ||
        fk_buffer_write(rt, in_buf, 0, n_in * 4, input->data) != FK_OK) {
        CHECK(0, "%s: input buffer", name);
        goto done;
    }
    fk_tensor x = {in_buf, 0, 4, {batch, 3, size, size}}, logits;
    /* eval */
    if (fk_model_plan(m, batch, false) != FK_OK || fk_model_forward(m, x, false, &logits) != FK_OK) {
        CHECK(0, "%s: eval forward: %s", name, fk_last_error());
        goto done;
    }
    float *got = fk_test_download(rt, logits, n_out);
    if (got)
        compare(name, "logits_eval", got, le, NULL, 0);
    free(got);
    if (!train)
        goto done;
    /* train: forward, backward, gradients, running statistics */
    const fk_st_tensor *lt = need(&ref, "logits_train"), *dl = need(&ref, "dlogits");
    if (!lt || !dl || fk_model_plan(m, batch, true) != FK_OK ||
        fk_model_forward(m, x, true, &logits) != FK_OK) {
        CHECK(0, "%s: train forward: %s", name, fk_last_error());
        goto done;
    }
    got = fk_test_download(rt, logits, n_out);
    if (got)
        compare(name, "logits_train", got, lt, fk_st_find(&ref, "f32.logits_train"), 0);
    free(got);
    if (fk_buffer_create(rt, n_out * 4, 0, &dl_buf) != FK_OK ||
        fk_buffer_write(rt, dl_buf, 0, n_out * 4, dl->data) != FK_OK) {
        CHECK(0, "%s: dlogits buffer", name);
        goto done;
    }
    fk_tensor dlt = {dl_buf, 0, 2, {batch, classes, 1, 1}};
    if (fk_model_backward(m, dlt) != FK_OK) {
        CHECK(0, "%s: backward: %s", name, fk_last_error());
        goto done;
    }
    const fk_param_store *ps = &m->graph.params;
    float *grads = fk_test_download(rt, (fk_tensor){ps->grads, 0, 1, {1, 1, 1, 1}}, ps->param_count);
    float *bufs = fk_test_download(rt, (fk_tensor){ps->buffers, 0, 1, {1, 1, 1, 1}}, ps->buffer_count);
    int ngrad = 0, nstat = 0;
    size_t bad = 0;
    double gmax = 0;
    for (size_t i = 0; i < ref.count; i++)
        if (!strncmp(ref.tensors[i].name, "grad.", 5))
            for (size_t j = 0; j < ref.tensors[i].nbytes / 4; j++)
                gmax = fmax(gmax, fabs(((const float *)ref.tensors[i].data)[j]));
    for (int i = 0; grads && bufs && i < ps->count; i++) {
        const fk_param *p = &ps->items[i];
        char key[200];
        if (!p->is_buffer) {
            snprintf(key, sizeof key, "grad.%s", p->name);
            const fk_st_tensor *t = need(&ref, key);
            if (t && t->nbytes == p->count * 4) {
                char k32[220];
                snprintf(k32, sizeof k32, "f32.%s", key);
                bad += compare(name, key, grads + p->off, t, fk_st_find(&ref, k32), 1e-5 * gmax) ? 1 : 0;
                ngrad++;
            }
        } else if (p->is_int64) {
            CHECK(bufs[p->off] == 1.0f, "%s %s = %g after one step", name, p->name, bufs[p->off]);
        } else {
            snprintf(key, sizeof key, "after.%s", p->name);
            const fk_st_tensor *t = need(&ref, key);
            if (t && t->nbytes == p->count * 4) {
                bad += compare(name, key, bufs + p->off, t, NULL, 0) ? 1 : 0;
                nstat++;
            }
        }
    }
    printf("%s: train logits, %d parameter gradients, %d running statistics compared (%zu tensors off)\n", name,
           ngrad, nstat, bad);
    free(grads);
    free(bufs);
done:
    if (in_buf)
        clReleaseMemObject(in_buf);
    if (dl_buf)
        clReleaseMemObject(dl_buf);
    fk_model_free(m);
    fk_st_free(&ref);
}

/* Save, load into a second model, compare bitwise; load the wrong file. */
static void check_save_load(fk_runtime *rt, const char *dir)
{
    char path[1024], other[1024];
    snprintf(path, sizeof path, "%s/saved_resnet8.safetensors", dir);
    snprintf(other, sizeof other, "%s/resnet8x4.weights.safetensors", dir);
    fk_model_opts o = {5, 32, 3};
    fk_model *a = NULL, *b = NULL;
    if (fk_model_build("resnet8", &o, &a) != FK_OK || fk_model_build("resnet8", &o, &b) != FK_OK ||
        fk_model_to_device(rt, a, 11) != FK_OK || fk_model_to_device(rt, b, 12) != FK_OK) {
        CHECK(0, "save/load setup: %s", fk_last_error());
        goto done;
    }
    const char *keys[] = {"note"}, *values[] = {"test"};
    CHECK(fk_model_save(a, path, keys, values, 1) == FK_OK, "save: %s", fk_last_error());
    CHECK(fk_model_load(b, path) == FK_OK, "load: %s", fk_last_error());
    const fk_param_store *pa = &a->graph.params, *pb = &b->graph.params;
    float *x = fk_test_download(rt, (fk_tensor){pa->params, 0, 1, {1, 1, 1, 1}}, pa->param_count);
    float *y = fk_test_download(rt, (fk_tensor){pb->params, 0, 1, {1, 1, 1, 1}}, pb->param_count);
    CHECK(x && y && !memcmp(x, y, pa->param_count * 4), "parameters differ after save and load");
    free(x);
    free(y);
    fk_st_file f;
    if (fk_st_read(path, &f) == FK_OK) {
        const fk_st_tensor *t = fk_st_find(&f, "layer1.0.bn1.num_batches_tracked");
        CHECK(t && t->dtype == FK_DT_I64 && t->ndim == 0, "num_batches_tracked saved as I64 scalar");
        CHECK(fk_st_meta(&f, "note") && !strcmp(fk_st_meta(&f, "note"), "test"), "metadata kept");
        fk_st_free(&f);
    }
    int q = fk_error_quiet(1);
    fk_status st = fk_model_load(b, other);
    fk_error_quiet(q);
    CHECK(st == FK_ERR_FORMAT && strstr(fk_last_error(), "conv1.weight"),
          "loading resnet8x4 weights into resnet8: %s", fk_last_error());
done:
    fk_model_free(a);
    fk_model_free(b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CASE_DIR [case ...]\n", argv[0]);
        return 2;
    }
    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    static const char *all[] = {"resnet8",   "resnet8x4", "wrn_16_2", "vgg8",     "MobileNetV2",
                                "ShuffleV1", "ShuffleV2", "ResNet50", "ResNet18", "MobileNetV1"};
    if (argc > 2)
        for (int i = 2; i < argc; i++)
            run_case(rt, argv[1], argv[i]);
    else
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            run_case(rt, argv[1], all[i]);
    check_save_load(rt, argv[1]);
    fk_runtime_free(rt);
    return fk_test_result("model_device");
}
