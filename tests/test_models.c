/* Host-only checks of the model zoo: every model's parameter and buffer
 * names, dtypes and shapes equal a PyTorch state_dict (in order; fixture
 * tests/ref/fixtures/model_names.txt written by tests/ref/gen_models.py),
 * parameter counts equal PyTorch's and the paper's Table VII, graph
 * shapes and the init rules. No device needed. */
#include "common.h"

#include "figkd/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CLASSES 200

/* Paper Table VII: parameters (M, 2 decimals) at 200 classes and MACs
 * (M, 2 decimals) at 64x64. */
static const struct {
    const char *name;
    double params_m, macs_m;
} table7[] = {
    {"resnet110", 1.74, 1029.58}, {"resnet32", 0.48, 281.56},   {"resnet32x4", 7.46, 4352.82},
    {"resnet8x4", 1.26, 714.26},  {"wrn_40_2", 2.27, 1322.61},  {"wrn_16_2", 0.72, 409.30},
    {"wrn_40_1", 0.58, 339.36},   {"vgg13", 9.51, 917.16},      {"vgg8", 4.02, 273.43},
    {"ShuffleV1", 1.05, 42.88},   {"MobileNetV2", 0.94, 29.23}, {"ResNet50", 23.91, 5246.70},
    {"ShuffleV2", 1.46, 186.82},
};

static void shape_text(const fk_param *p, char *buf, size_t size)
{
    if (p->ndim == 0) {
        snprintf(buf, size, "-");
        return;
    }
    size_t len = 0;
    for (int d = 0; d < p->ndim; d++)
        len += (size_t)snprintf(buf + len, size - len, "%s%d", d ? "x" : "", p->shape[d]);
}

/* Compare one model against its fixture block; *cursor advances past it. */
static void check_model(const char *name, char **cursor, int *seen)
{
    char *line = strtok_r(NULL, "\n", cursor);
    char fname[64];
    long params = 0;
    int ntensors = 0;
    if (!line || sscanf(line, "model %63s params %ld tensors %d", fname, &params, &ntensors) != 3) {
        CHECK(0, "fixture: no model header (expected %s)", name);
        return;
    }
    (*seen)++;
    fk_model *m;
    fk_model_opts o = {CLASSES, 0, 0};
    CHECK(!strcmp(fname, name), "fixture model %s, registry %s", fname, name);
    if (fk_model_build(fname, &o, &m) != FK_OK) {
        CHECK(0, "%s: build failed: %s", fname, fk_last_error());
        return;
    }
    const fk_param_store *ps = &m->graph.params;
    CHECK(ps->count == ntensors, "%s: %d tensors, PyTorch %d", fname, ps->count, ntensors);
    CHECK((long)fk_model_param_count(m) == params, "%s: %zu parameters, PyTorch %ld", fname,
          fk_model_param_count(m), params);
    int bad = 0;
    for (int i = 0; i < ntensors; i++) {
        char tname[160], dt[8], shape[64], mine[64];
        line = strtok_r(NULL, "\n", cursor);
        if (!line || sscanf(line, "%159s %7s %63s", tname, dt, shape) != 3) {
            CHECK(0, "%s: fixture truncated", fname);
            break;
        }
        if (i >= ps->count)
            continue;
        const fk_param *p = &ps->items[i];
        shape_text(p, mine, sizeof mine);
        const char *mydt = p->is_int64 ? "I64" : "F32";
        if (bad < 3 && (strcmp(p->name, tname) || strcmp(mine, shape) || strcmp(mydt, dt))) {
            CHECK(0, "%s: tensor %d is %s %s %s, PyTorch %s %s %s", fname, i, p->name, mydt, mine, tname, dt,
                  shape);
            bad++;
        }
    }
    /* last node: logits (N, classes) */
    const fk_node *last = &m->graph.nodes[m->graph.count - 1];
    CHECK(last->ndim == 2 && last->c == CLASSES, "%s: output (%d, %d)", fname, last->ndim, last->c);
    fk_model_free(m);
}

static void check_table7(void)
{
    for (size_t i = 0; i < sizeof table7 / sizeof table7[0]; i++) {
        fk_model *m;
        fk_model_opts o = {CLASSES, 64, 0};
        if (fk_model_build(table7[i].name, &o, &m) != FK_OK) {
            CHECK(0, "%s: build failed", table7[i].name);
            continue;
        }
        double pm = fk_model_param_count(m) / 1e6, mm = fk_model_macs(m) / 1e6;
        CHECK(fabs(pm - table7[i].params_m) < 0.005 + 1e-9, "%s: %.4fM parameters, Table VII %.2fM",
              table7[i].name, pm, table7[i].params_m);
        printf("%-12s params %.2fM (Table VII %.2fM)  MACs@64 %.2fM (Table VII %.2fM)\n", table7[i].name, pm,
               table7[i].params_m, mm, table7[i].macs_m);
        fk_model_free(m);
    }
}

static void check_init(void)
{
    fk_model *m;
    fk_model_opts o = {10, 0, 0};
    if (fk_model_build("resnet8", &o, &m) != FK_OK) {
        CHECK(0, "resnet8: build failed");
        return;
    }
    const fk_param_store *ps = &m->graph.params;
    float *p1 = calloc(ps->param_count, 4), *p2 = calloc(ps->param_count, 4);
    float *b1 = calloc(ps->buffer_count, 4), *b2 = calloc(ps->buffer_count, 4);
    fk_model_init_host(m, 7, p1, b1);
    fk_model_init_host(m, 7, p2, b2);
    CHECK(!memcmp(p1, p2, ps->param_count * 4), "same seed, different parameters");
    fk_model_init_host(m, 8, p2, b2);
    CHECK(memcmp(p1, p2, ps->param_count * 4), "different seeds, same parameters");
    /* conv1.weight (16, 3, 3, 3): kaiming_normal fan_out: std sqrt(2 / (9 * 16)) */
    int i = fk_params_find(ps, "conv1.weight");
    const fk_param *w = &ps->items[i];
    double s2 = 0;
    for (size_t j = 0; j < w->count; j++)
        s2 += (double)p1[w->off + j] * p1[w->off + j];
    double std = sqrt(s2 / (double)w->count), want = sqrt(2.0 / (9 * 16));
    CHECK(fabs(std - want) < 0.25 * want, "conv1.weight std %g, expected about %g", std, want);
    const fk_param *g = &ps->items[fk_params_find(ps, "bn1.weight")];
    const fk_param *rv = &ps->items[fk_params_find(ps, "bn1.running_var")];
    CHECK(p1[g->off] == 1.0f && b1[rv->off] == 1.0f, "BN weight %g running_var %g", p1[g->off], b1[rv->off]);
    /* fc: U(-1/sqrt(64), 1/sqrt(64)) */
    const fk_param *fc = &ps->items[fk_params_find(ps, "fc.weight")];
    float mx = 0;
    for (size_t j = 0; j < fc->count; j++)
        mx = fmaxf(mx, fabsf(p1[fc->off + j]));
    CHECK(mx <= 0.125f && mx > 0.1f, "fc.weight max |w| %g, bound 0.125", mx);
    free(p1);
    free(p2);
    free(b1);
    free(b2);
    fk_model_free(m);
}

static void check_errors(void)
{
    fk_model *m;
    fk_model_opts o = {10, 0, 0};
    int q = fk_error_quiet(1);
    CHECK(fk_model_build("resnet9", &o, &m) == FK_ERR_ARG && strstr(fk_last_error(), "resnet8x4"),
          "unknown model: %s", fk_last_error());
    fk_model_opts tiny = {10, 4, 0};
    CHECK(fk_model_build("vgg8", &tiny, &m) == FK_ERR_ARG, "vgg8 at 4x4 must fail: %s", fk_last_error());
    fk_error_quiet(q);
    /* in-place ReLU and views */
    fk_model_opts o2 = {10, 32, 0};
    if (fk_model_build("ShuffleV2", &o2, &m) == FK_OK) {
        int inplace = 0, views = 0;
        for (int i = 0; i < m->graph.count; i++) {
            const fk_node *nd = &m->graph.nodes[i];
            if (nd->op->kind == FK_OP_RELU && nd->alias >= 0)
                inplace++;
            if (nd->op->kind == FK_OP_VIEW)
                views++;
        }
        CHECK(inplace > 0 && views == 26, "ShuffleV2: %d in-place ReLUs, %d split views", inplace, views);
        fk_model_free(m);
    }
}

int main(void)
{
    char path[2048];
    fk_test_source_path("tests/ref/fixtures/model_names.txt", path, sizeof path);
    char *text = (char *)fk_test_read(path, NULL);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    int count, seen = 0;
    const fk_model_entry *list = fk_model_registry(&count);
    char *cursor = text; /* strtok_r(NULL, ...) continues from here */
    for (int i = 0; i < count; i++)
        check_model(list[i].name, &cursor, &seen);
    CHECK(seen == count, "fixture has %d of %d models", seen, count);
    free(text);
    check_table7();
    check_init();
    check_errors();
    return fk_test_result("models");
}
