/* The method table, row by row: names are unique and found; every key of
 * a row is taken with its default and with --set, and a key of another
 * method is refused naming the row's keys; the loss spec from a config
 * points at the row; and on the device the row's loss gives a finite term
 * whose gradient (weight 0.5) agrees with central finite differences of
 * its own value, through the same fk_method_io the training step builds.
 * A new row is covered here without a line of this file. */
#include "common.h"
#include "figkd/config.h"
#include "figkd/method.h"
#include "figkd/trainer.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = 4, C = 12 }; /* 12 classes: FiGKD's grid is 3x4 */

static char dir[] = "/tmp/figkd-methods-XXXXXX";

static fk_status load_method(const fk_method *m, const char *set, fk_config *cfg)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.ini", dir, m->name);
    FILE *f = fopen(path, "w");
    if (!f)
        return FK_ERR_IO;
    fprintf(f, "[data]\ndataset = mnist\n[teacher]\nmodel = resnet8\ncheckpoint = t.safetensors\n"
               "[student]\nmodel = resnet8\n[distill]\nmethod = %s\n", m->name);
    fclose(f);
    const char *sets[] = {set};
    return fk_config_load(cfg, path, sets, set ? 1 : 0);
}

/* Keys, defaults and refusals of row m (host only). */
static void check_row(const fk_method *m)
{
    CHECK(fk_method_find(m->name) == m, "%s: fk_method_find", m->name);
    CHECK(m->term && m->term[0] && strcmp(m->term, "ce"), "%s: a term name other than ce", m->name);
    CHECK(m->setup && m->loss && m->help, "%s: setup, loss and help", m->name);
    fk_config cfg;
    fk_loss_spec spec;
    CHECK(load_method(m, NULL, &cfg) == FK_OK && cfg.method == m, "%s: loads: %s", m->name, fk_last_error());
    CHECK(fk_loss_spec_from_config(&cfg, C, &spec) == FK_OK && spec.method == m, "%s: loss spec", m->name);
    fk_config_free(&cfg);
    for (int i = 0; i < m->n_keys; i++) {
        char set[256];
        snprintf(set, sizeof set, "distill.%s=%s", m->keys[i].name, m->keys[i].def);
        CHECK(load_method(m, set, &cfg) == FK_OK, "%s: --set %s: %s", m->name, set, fk_last_error());
        fk_config_free(&cfg);
    }
    /* a key of another row that this row does not take */
    for (int r = 0; fk_methods[r]; r++)
        for (int i = 0; i < fk_methods[r]->n_keys; i++) {
            const fk_method_key *k = &fk_methods[r]->keys[i];
            bool mine = false;
            for (int j = 0; j < m->n_keys; j++)
                mine |= !strcmp(m->keys[j].name, k->name);
            if (mine)
                continue;
            char set[256];
            snprintf(set, sizeof set, "distill.%s=%s", k->name, k->def);
            fk_status st = load_method(m, set, &cfg);
            CHECK(st == FK_ERR_ARG && strstr(fk_last_error(), "does not apply to method"), "%s: --set %s taken",
                  m->name, set);
            if (st == FK_OK)
                fk_config_free(&cfg);
        }
}

/* Scratch for the row that needs the most. */
static size_t work_floats(void)
{
    size_t w = 0;
    for (int i = 0; fk_methods[i]; i++)
        if (fk_method_work(fk_methods[i], N, C) > w)
            w = fk_method_work(fk_methods[i], N, C);
    return w;
}

typedef struct dev {
    fk_runtime *rt;
    cl_mem student, teacher, labels, value, dlogits, work;
} dev;

static float term(dev *D, const fk_loss_spec *spec, bool grad, int view)
{
    fk_tensor value = {D->value, 0, 1, {1, 1, 1, 1}}, dl = {D->dlogits, 0, 2, {N, C, 1, 1}};
    fk_method_io io = {D->rt, spec, value, grad ? &dl : NULL, {D->student, 0, 2, {N, C, 1, 1}},
                       {D->teacher, 0, 2, {N, C, 1, 1}}, D->labels, N, C, 0.5f,
                       {D->work, 0, 1, {(int)fk_method_work(spec->method, N, C), 1, 1, 1}}, {0}, {0}, view, NULL};
    float v = NAN;
    if (spec->method->loss(&io) != FK_OK || fk_buffer_read(D->rt, D->value, 0, sizeof v, &v) != FK_OK)
        CHECK(0, "%s: loss: %s", spec->method->name, fk_last_error());
    return v;
}

/* The row's term of one view and its gradient against finite differences. */
static void check_loss(dev *D, const fk_method *m, float *s, int view)
{
    fk_config cfg;
    fk_loss_spec spec;
    if (load_method(m, NULL, &cfg) != FK_OK || fk_loss_spec_from_config(&cfg, C, &spec) != FK_OK) {
        CHECK(0, "%s: config: %s", m->name, fk_last_error());
        return;
    }
    fk_config_free(&cfg);
    float g[N * C], zero[N * C] = {0};
    fk_buffer_write(D->rt, D->dlogits, 0, sizeof zero, zero);
    float v = term(D, &spec, true, view);
    fk_buffer_read(D->rt, D->dlogits, 0, sizeof g, g);
    CHECK(isfinite(v), "%s: term %g", m->name, (double)v);
    double worst = 0;
    const float eps = 1e-2f;
    /* the finite difference's own resolution: each term is float32, so
     * up - down is off by up to one unit in the last place of the term
     * (a term of 68 resolves steps of 1e-4 in fd); four of those allowed */
    const double resolution = 4 * fabs((double)v) * FLT_EPSILON * 0.5 / (2 * eps);
    for (int i = 0; i < N * C; i++) {
        float x = s[i];
        s[i] = x + eps;
        fk_buffer_write(D->rt, D->student, 0, N * C * sizeof(float), s);
        double up = term(D, &spec, false, view);
        s[i] = x - eps;
        fk_buffer_write(D->rt, D->student, 0, N * C * sizeof(float), s);
        double down = term(D, &spec, false, view);
        s[i] = x;
        double fd = 0.5 * (up - down) / (2 * eps), err = fabs(fd - g[i]);
        worst = fmax(worst, err / (1e-4 + resolution + 2e-2 * fabs(fd)));
    }
    fk_buffer_write(D->rt, D->student, 0, N * C * sizeof(float), s);
    printf("%s (view %d): term %.6f, gradient within %.2f of the finite-difference limit\n", m->name, view,
           (double)v, worst);
    CHECK(worst <= 1, "%s (view %d): gradient off the finite differences (%.3g x the limit)", m->name, view, worst);
}

static int on_device(void)
{
    dev D;
    memset(&D, 0, sizeof D);
    int r = fk_test_runtime(&D.rt);
    if (r)
        return r;
    float s[N * C], t[N * C];
    int32_t y[N];
    fk_test_fill_uniform(s, N * C, 1, -2, 2);
    fk_test_fill_uniform(t, N * C, 2, -2, 2);
    for (int i = 0; i < N; i++)
        y[i] = (i * 5) % C;
    if (fk_test_upload(D.rt, s, N * C, &D.student) || fk_test_upload(D.rt, t, N * C, &D.teacher) ||
        fk_buffer_create(D.rt, sizeof y, 0, &D.labels) || fk_buffer_write(D.rt, D.labels, 0, sizeof y, y) ||
        fk_buffer_create(D.rt, sizeof(float), 0, &D.value) ||
        fk_buffer_create(D.rt, N * C * sizeof(float), 0, &D.dlogits) ||
        fk_buffer_create(D.rt, work_floats() * sizeof(float), 0, &D.work)) {
        CHECK(0, "setup: %s", fk_last_error());
        return 1;
    }
    /* rows that read features have their gradient checked by their own
     * tests (test_feat_losses, test_train_step) */
    for (int i = 0; fk_methods[i]; i++)
        if (!FK_METHOD_TAPS(fk_methods[i]))
            for (int v = 0; v < fk_method_views(fk_methods[i]); v++)
                check_loss(&D, fk_methods[i], s, v);
    cl_mem m[] = {D.student, D.teacher, D.labels, D.value, D.dlogits, D.work};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        clReleaseMemObject(m[i]);
    fk_runtime_free(D.rt);
    return 0;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    fk_error_quiet(1);
    int rows = 0;
    for (int i = 0; fk_methods[i]; i++, rows++) {
        for (int j = 0; j < i; j++)
            CHECK(strcmp(fk_methods[i]->name, fk_methods[j]->name), "two rows named %s", fk_methods[i]->name);
        check_row(fk_methods[i]);
    }
    CHECK(rows >= 4 && fk_method_find("FiGKD") == FK_METHOD_FIGKD && !fk_method_find("fig"), "table lookups");
    int r = on_device();
    if (r == FK_TEST_SKIP)
        return r;
    printf("%d methods checked\n", rows);
    return fk_test_result("test_methods");
}
