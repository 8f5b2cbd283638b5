/* The tune cache (src/runtime/tune.c) and the per-shape choice of
 * src/ops/conv.c: a round trip, a changed device, driver or kernel-source
 * hash ignores the file, malformed files are errors naming FILE:LINE, an
 * environment switch beats an entry, a plan's work is the choice's, and
 * every tuned choice computes what the default does. */
#include "common.h"
#include "figkd/ops.h"

#include <math.h>
#include <stdlib.h>

/* a runtime without a device: the cache's functions read dev and opts only */
static fk_runtime *fake_runtime(const char *name, const char *driver)
{
    fk_runtime *rt = calloc(1, sizeof *rt);
    snprintf(rt->dev.name, sizeof rt->dev.name, "%s", name);
    snprintf(rt->dev.driver, sizeof rt->dev.driver, "%s", driver);
    return rt;
}

static void fake_free(fk_runtime *rt)
{
    free(rt->tune);
    free(rt);
}

static const fk_tune_entry entries[] = {
    {true, 64, 64, 32, 32, 64, 3, 1, 1, 1, FK_CONV_GEMM_OWN, FK_TUNE_WINOGRAD, FK_TUNE_DEFAULT, 1.5, 2.0, 0},
    {false, 64, 64, 32, 32, 64, 3, 1, 1, 1, FK_CONV_GEMM_CLBLAST, FK_TUNE_BATCH, FK_TUNE_COLUMNS, 3.25, 4.0, 0},
    {false, 64, 3, 32, 32, 16, 3, 1, 1, 1, FK_CONV_GEMM_DEFAULT, FK_TUNE_DEFAULT, FK_TUNE_DEFAULT, 0, 0, 0},
    {false, 8, 32, 16, 16, 64, 1, 2, 0, 1, FK_CONV_GEMM_WI, FK_TUNE_COLUMNS, FK_TUNE_BATCH, 0.5, 0.75, 0},
};
#define NENTRIES ((int)(sizeof entries / sizeof entries[0]))

static void test_round_trip(void)
{
    fk_runtime *a = fake_runtime("Test Device/1 (x)", "1.2.3");
    for (int i = 0; i < NENTRIES; i++)
        CHECK(fk_tune_set(a, &entries[i]) == FK_OK, "set %d", i);
    CHECK(fk_tune_set(a, &entries[1]) == FK_OK && a->ntune == NENTRIES, "setting a shape again replaces it");
    const char *file = fk_test_path("sub/dir/tune.ini");
    CHECK(fk_tune_save(a, file) == FK_OK, "save: %s", fk_last_error());

    fk_runtime *b = fake_runtime("Test Device/1 (x)", "1.2.3");
    int count = -1;
    bool stale = true;
    CHECK(fk_tune_load(b, file, &count, &stale) == FK_OK, "load: %s", fk_last_error());
    CHECK(count == NENTRIES && !stale && b->ntune == NENTRIES, "count %d stale %d", count, stale);
    for (int i = 0; i < NENTRIES; i++) {
        const fk_tune_entry *w = &entries[i];
        fk_tune_entry *e = fk_tune_find(b, w->frozen, w->n, w->c_in, w->h, w->w, w->c_out, w->k, w->stride, w->pad,
                                        w->groups);
        CHECK(e && e->gemm == w->gemm && e->forward == w->forward && e->backward == w->backward &&
                  e->ms == w->ms && e->default_ms == w->default_ms,
              "entry %d read back as written", i);
    }
    CHECK(fk_tune_used(b) == NENTRIES, "four entries looked up: %d", fk_tune_used(b));
    CHECK(!fk_tune_find(b, true, 64, 3, 32, 32, 16, 3, 1, 1, 1), "the frozen role is part of the key");

    /* another driver, another device: the file is stale, the table empty */
    fk_runtime *c = fake_runtime("Test Device/1 (x)", "1.2.4");
    CHECK(fk_tune_set(c, &entries[0]) == FK_OK, "set");
    CHECK(fk_tune_load(c, file, &count, &stale) == FK_OK && stale && count == 0 && c->ntune == 0,
          "another driver: stale %d count %d ntune %d", stale, count, c->ntune);
    fk_runtime *d = fake_runtime("Other Device", "1.2.3");
    CHECK(fk_tune_load(d, file, &count, &stale) == FK_OK && stale && count == 0, "another device: stale %d", stale);

    /* another kernel-source hash */
    size_t n;
    char *text = (char *)fk_test_read(file, &n);
    char *src = text ? strstr(text, "sources = ") : NULL;
    CHECK(src != NULL, "the file names its kernel sources");
    if (src) {
        src[10] = src[10] == '0' ? '1' : '0';
        fk_test_write(file, text, n);
        CHECK(fk_tune_load(b, file, &count, &stale) == FK_OK && stale && count == 0 && b->ntune == 0,
              "other kernel sources: stale %d count %d", stale, count);
    }
    free(text);

    /* no file: nothing tuned, no error */
    CHECK(fk_tune_load(b, fk_test_path("none.ini"), &count, &stale) == FK_OK && count == 0 && !stale, "missing file");

    /* the default file's name keeps to [A-Za-z0-9._-] */
    char path[1100];
    snprintf(a->opts.tune_dir, sizeof a->opts.tune_dir, "/x/figkd-cl");
    CHECK(fk_tune_path(a, path, sizeof path) == FK_OK && !strcmp(path, "/x/figkd-cl/tune-Test_Device_1__x_.ini"),
          "path %s", path);
    snprintf(a->opts.tune_file, sizeof a->opts.tune_file, "/y/mine.ini");
    CHECK(fk_tune_path(a, path, sizeof path) == FK_OK && !strcmp(path, "/y/mine.ini"), "FIGKD_TUNE=FILE: %s", path);
    fake_free(a), fake_free(b), fake_free(c), fake_free(d);
}

/* malformed files: FK_ERR_FORMAT naming FILE:LINE and the reason */
static void test_bad_files(void)
{
    fk_runtime *rt = fake_runtime("Dev", "1");
    char head[256];
    snprintf(head, sizeof head, "[device]\nformat = 1\nname = Dev\ndriver = 1\nsources = %016llx\n",
             (unsigned long long)fk_kernel_sources_hash());
    static const struct {
        const char *body, *line, *why;
    } cases[] = {
        {"[train 8 16 8 8 16 3 1 1 1]\ngemm = fast\n", ":7:", "gemm = fast"},
        {"[train 8 16 8 8 16 1 1 0 1]\nforward = winograd\n", ":6:", "winograd is for 3x3"},
        {"[train 8 16 8 8 16 3 1 1 1]\nspeed = 3\n", ":7:", "unknown key 'speed'"},
        {"[frozen 8 16 8 8 16 3 1 1 1]\nbackward = columns\n", ":7:", "no backward"},
        {"[train 8 16 8 8]\n", ":6:", "expected [train|frozen"},
        {"[train 8 16 8 8 16 3 1 1 1]\n[train 8 16 8 8 16 3 1 1 1]\n", ":7:", "given twice"},
        {"[train 8 16 8 8 16 3 1 1 1]\nms = -1\n", ":7:", "ms = -1"},
        {"[train 8 16 8 8 16 3 1 1 1]\nthis is no ini line\n", ":7:", "tune cache"},
        {"[train 8 16 8 8 16 3 1 1 4]\nforward = columns\n", ":6:", "grouped"},
        {"[clblast Sgemm]\nMWG = 64\n", ":6:", "expected [clblast Xgemm] or [clblast XgemmDirect]"},
        {"[clblast Xgemm]\nmwg = 64\n", ":7:", "unknown key 'mwg' in [clblast Xgemm]"},
        {"[clblast Xgemm]\nMWG = -1\n", ":7:", "MWG = -1: expected a whole number"},
        {"[clblast Xgemm]\nMWG = 64\nMWG = 32\n", ":8:", "MWG is given twice"},
        {"[clblast XgemmDirect]\nms = 1\n", ":6:", "[clblast XgemmDirect] has no parameters"},
        {"[clblast Xgemm]\nMWG = 64\n[clblast Xgemm]\n", ":8:", "[clblast Xgemm] given twice"},
    };
    const char *file = fk_test_path("bad.ini");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "%s%s", head, cases[i].body);
        fk_test_write(file, text, strlen(text));
        int count;
        bool stale;
        fk_error_quiet(1);
        CHECK_ERR(fk_tune_load(rt, file, &count, &stale), FK_ERR_FORMAT, file, cases[i].line, cases[i].why);
        fk_error_quiet(0);
        CHECK(rt->ntune == 0 && rt->nblas == 0, "case %zu: nothing kept", i);
    }
    /* no [device] first */
    const char *nokey = "[train 8 16 8 8 16 3 1 1 1]\ngemm = own\n";
    fk_test_write(file, nokey, strlen(nokey));
    int count;
    bool stale;
    fk_error_quiet(1);
    CHECK_ERR(fk_tune_load(rt, file, &count, &stale), FK_ERR_FORMAT, file, ":1:", "[device] section");
    fk_error_quiet(0);
    fake_free(rt);
}

static void test_env(void)
{
    fk_runtime_options o;
    setenv("FIGKD_TUNE", "0", 1);
    CHECK(fk_runtime_options_from_env(&o) == FK_OK && !o.tune, "FIGKD_TUNE=0 turns the cache off");
    setenv("FIGKD_TUNE", "/some/file.ini", 1);
    CHECK(fk_runtime_options_from_env(&o) == FK_OK && o.tune && !strcmp(o.tune_file, "/some/file.ini"),
          "FIGKD_TUNE=FILE");
    unsetenv("FIGKD_TUNE");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    CHECK(fk_runtime_options_from_env(&o) == FK_OK && o.tune && !o.tune_file[0] && !strcmp(o.tune_dir, "/xdg/figkd-cl"),
          "default folder %s", o.tune_dir);
}

/* ---- on the device ------------------------------------------------------ */

static bool same_values(const fk_blas_params *a, const fk_blas_params *b)
{
    if (a->count != b->count)
        return false;
    for (int i = 0; i < a->count; i++)
        if (strcmp(a->names[i], b->names[i]) || a->values[i] != b->values[i])
            return false;
    return true;
}

/* CLBlast's values: its tuner, a tune cache's [clblast Xgemm] in force
 * after loading it (and the GEMM still right), a round trip, and a
 * section CLBlast refuses as an error naming the file and line. */
static void test_blas(fk_runtime *rt)
{
    if (!fk_blas_tuner_available()) {
        printf("this build has no CLBlast tuner: its part is skipped\n");
        return;
    }
    const cl_device_id dev = rt->dev.device_id;
    fk_blas_params def = {.kernel = "Xgemm"};
    CHECK(fk_blas_retrieve(dev, &def) == 0 && def.count == 16, "CLBlast's Xgemm values: %d", def.count);

    /* the tuner, on a few of its configurations */
    fk_blas_params tuned = {.kernel = "Xgemm"};
    int s = fk_blas_tune(rt->queue, 128, 128, 32, 3.0 / 16566, &tuned);
    CHECK(s == 0 && tuned.count == def.count, "tuner: %s, %d values", fk_blas_errname(s), tuned.count);
    for (int i = 0; i < tuned.count && i < def.count; i++)
        CHECK(!strcmp(tuned.names[i], def.names[i]), "tuned name %d: %s, CLBlast's %s", i, tuned.names[i],
              def.names[i]);

    /* a valid set of values other than CLBlast's, from a cache file */
    static const char *const names[] = {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
                                        "NDIMC", "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"};
    static const size_t values[] = {0, 1, 16, 2, 8, 8, 32, 8, 8, 32, 0, 0, 0, 0, 1, 1};
    char text[2048];
    int len = snprintf(text, sizeof text, "[device]\nformat = 1\nname = %s\ndriver = %s\nsources = %016llx\n"
                                          "\n[clblast Xgemm]\n", rt->dev.name, rt->dev.driver,
                       (unsigned long long)fk_kernel_sources_hash());
    fk_blas_params want = {.kernel = "Xgemm", .count = 16};
    for (int i = 0; i < 16; i++) {
        len += snprintf(text + len, sizeof text - (size_t)len, "%s = %zu\n", names[i], values[i]);
        snprintf(want.names[i], sizeof want.names[i], "%s", names[i]);
        want.values[i] = values[i];
    }
    CHECK(!same_values(&want, &def), "the test's values must differ from CLBlast's own");
    const char *file = fk_test_path("blas.ini");
    fk_test_write(file, text, strlen(text));
    int count;
    bool stale;
    CHECK(fk_tune_load(rt, file, &count, &stale) == FK_OK && !stale && rt->nblas == 1, "load: %s",
          fk_last_error());
    fk_blas_params now = {.kernel = "Xgemm"};
    CHECK(fk_blas_retrieve(dev, &now) == 0 && same_values(&now, &want), "the file's values are in force");

    /* a GEMM on the indirect kernel (past CLBlast's size limit on CPUs and GPUs) with them */
    const size_t m = 1040, n = 1056, k = 1024;
    float *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b), *c = malloc(m * n * sizeof *c);
    for (size_t i = 0; i < m * k; i++)
        a[i] = (float)((int)(i % 13) - 6) / 8.0f;
    for (size_t i = 0; i < k * n; i++)
        b[i] = (float)((int)(i % 7) - 3) / 4.0f;
    cl_mem da, db, dc;
    CHECK(fk_buffer_create(rt, m * k * 4, 0, &da) == FK_OK && fk_buffer_create(rt, k * n * 4, 0, &db) == FK_OK &&
              fk_buffer_create(rt, m * n * 4, 0, &dc) == FK_OK,
          "buffers");
    CHECK(fk_buffer_write(rt, da, 0, m * k * 4, a) == FK_OK && fk_buffer_write(rt, db, 0, k * n * 4, b) == FK_OK,
          "write");
    CHECK(fk_gemm(rt, false, false, m, n, k, 1.0f, da, 0, k, db, 0, n, 0.0f, dc, 0, n) == FK_OK &&
              fk_buffer_read(rt, dc, 0, m * n * 4, c) == FK_OK,
          "gemm with the file's values: %s", fk_last_error());
    int bad = 0;
    for (size_t i = 0; i < m * n; i += 97) {
        const size_t r = i / n, col = i % n;
        double ref = 0;
        for (size_t j = 0; j < k; j++)
            ref += (double)a[r * k + j] * b[j * n + col];
        bad += fabs(c[i] - ref) > 1e-4 * (1 + fabs(ref)); /* products of eighths and quarters: exact sums */
    }
    CHECK(bad == 0, "%d sampled elements of the GEMM off", bad);
    clReleaseMemObject(da), clReleaseMemObject(db), clReleaseMemObject(dc);
    free(a), free(b), free(c);

    /* written and read back with its GEMM and times */
    want.m = 128, want.n = 1024, want.k = 576, want.ms = 1.25, want.default_ms = 2.5;
    CHECK(fk_tune_set_blas(rt, &want) == FK_OK && fk_tune_save(rt, file) == FK_OK, "save: %s", fk_last_error());
    CHECK(fk_tune_load(rt, file, &count, &stale) == FK_OK && rt->nblas == 1 && same_values(&rt->blas[0], &want) &&
              rt->blas[0].m == 128 && rt->blas[0].n == 1024 && rt->blas[0].k == 576 && rt->blas[0].ms == 1.25 &&
              rt->blas[0].default_ms == 2.5,
          "round trip: %s", fk_last_error());

    /* a parameter missing: CLBlast refuses it, the file's line is named */
    char *mwg = strstr(text, "MWG = ");
    memmove(mwg, strchr(mwg, '\n') + 1, strlen(strchr(mwg, '\n') + 1) + 1);
    fk_test_write(file, text, strlen(text));
    fk_error_quiet(1);
    CHECK_ERR(fk_tune_load(rt, file, &count, &stale), FK_ERR_FORMAT, file, ":7: CLBlast refused the parameters of "
              "[clblast Xgemm]", "CLBlastMissingOverrideParameter");
    fk_error_quiet(0);
    CHECK(rt->nblas == 0, "nothing kept");
    CHECK(fk_blas_override(dev, &def) == 0, "CLBlast's own values back");
}

static float *forward_with(fk_runtime *rt, const fk_tune_entry *e, const fk_conv_dims *d, cl_mem in, cl_mem w,
                           bool frozen, cl_mem bias)
{
    fk_tune_clear(rt);
    if (e)
        CHECK(fk_tune_set(rt, e) == FK_OK, "set");
    const size_t out_n = (size_t)d->n * d->c_out * d->h_out * d->w_out, work_n = fk_conv_work_on(rt, d, !frozen);
    cl_mem out, work;
    if (fk_buffer_create(rt, out_n * 4, 0, &out) || fk_buffer_create(rt, (work_n ? work_n : 1) * 4, 0, &work))
        return NULL;
    fk_tensor to = {out, 0, 1, {(int)out_n, 1, 1, 1}}, ti = {in, 0, 1, {1, 1, 1, 1}}, tw = {w, 0, 1, {1, 1, 1, 1}};
    fk_tensor tk = {work, 0, 1, {(int)(work_n ? work_n : 1), 1, 1, 1}}, tb = {bias, 0, 1, {d->c_out, 1, 1, 1}};
    fk_status st = frozen ? fk_conv_forward_fused(rt, to, ti, tw, &tb, NULL, true, tk, d)
                          : fk_conv_forward(rt, to, ti, tw, NULL, tk, d);
    CHECK(st == FK_OK, "forward: %s", fk_last_error());
    float *got = fk_test_download(rt, to, out_n);
    clReleaseMemObject(out);
    clReleaseMemObject(work);
    return got;
}

static void test_device(fk_runtime *rt)
{
    fk_conv_dims d;
    CHECK(fk_conv_dims_init(&d, 4, 16, 8, 8, 16, 3, 1, 1, 1, false) == FK_OK, "dims");
    const fk_runtime_options saved = rt->opts;
    rt->opts.conv_path = FK_CONV_PATH_DEFAULT, rt->opts.conv_gemm = FK_CONV_GEMM_DEFAULT;
    rt->opts.winograd = FK_SWITCH_DEFAULT;
    char dflt[64], way[64];
    fk_tune_clear(rt);
    fk_conv_choice_describe(rt, &d, false, dflt, sizeof dflt);
    fk_tune_entry e = {false, 4, 16, 8, 8, 16, 3, 1, 1, 1, FK_CONV_GEMM_CLBLAST, FK_TUNE_BATCH, FK_TUNE_WINOGRAD, 0, 0, 0};
    CHECK(fk_tune_set(rt, &e) == FK_OK, "set");
    fk_conv_choice_describe(rt, &d, false, way, sizeof way);
    CHECK(!strcmp(way, "clblast batch/winograd"), "the entry is taken: %s (default %s)", way, dflt);
    CHECK(fk_conv_work_on(rt, &d, true) == fk_conv_work(&d), "a batch-path entry plans the full work");
    /* the frozen role is another key: this entry does not touch it */
    fk_conv_choice_describe(rt, &d, true, way, sizeof way);
    fk_tune_clear(rt);
    fk_conv_choice_describe(rt, &d, true, dflt, sizeof dflt);
    CHECK(!strcmp(way, dflt), "frozen untouched: %s against %s", way, dflt);

    /* environment switches win over the entry */
    CHECK(fk_tune_set(rt, &e) == FK_OK, "set");
    rt->opts.conv_path = FK_CONV_PATH_SAMPLE;
    rt->opts.winograd = FK_SWITCH_OFF;
    rt->opts.conv_gemm = FK_CONV_GEMM_OWN;
    long limit = 0;
    bool images = false;
    CHECK(fk_device_loop_limit(rt, &limit) == FK_OK && fk_device_image_loads(rt, &images) == FK_OK, "probes");
    fk_conv_choice_describe(rt, &d, false, way, sizeof way);
    const char *forced = !limit ? "own columns/columns" : images ? "t4 columns/columns" : "wi columns/columns";
    CHECK(!strcmp(way, forced), "forced: %s, not %s", way, forced);
    rt->opts.conv_path = FK_CONV_PATH_DEFAULT, rt->opts.conv_gemm = FK_CONV_GEMM_DEFAULT;
    rt->opts.winograd = FK_SWITCH_DEFAULT;

    /* an own-GEMM entry on the per-sample path plans chunks, as execution runs */
    if (!limit) {
        fk_tune_entry o = e;
        o.gemm = FK_CONV_GEMM_OWN, o.forward = FK_TUNE_WINOGRAD, o.backward = FK_TUNE_WINOGRAD;
        fk_tune_clear(rt);
        CHECK(fk_tune_set(rt, &o) == FK_OK, "set");
        fk_conv_choice_describe(rt, &d, false, way, sizeof way);
        CHECK(!strcmp(way, "own winograd/winograd"), "own winograd: %s", way);
        CHECK(fk_conv_work_on(rt, &d, true) < fk_conv_work(&d), "chunked work %zu < %zu", fk_conv_work_on(rt, &d, true),
              fk_conv_work(&d));
    }

    /* every choice computes the default's output (the paths' own tests
     * hold the tolerances: 1e-4 covers Winograd's rounding here) */
    float *x = fk_test_uniform((size_t)4 * 16 * 64, 1, -1, 1), *wt = fk_test_uniform(16 * 16 * 9, 2, -0.2f, 0.2f);
    float *b = fk_test_uniform(16, 3, -0.5f, 0.5f);
    cl_mem in, w, bias;
    if (fk_test_upload(rt, x, (size_t)4 * 16 * 64, &in) || fk_test_upload(rt, wt, 16 * 16 * 9, &w) ||
        fk_test_upload(rt, b, 16, &bias)) {
        CHECK(0, "upload");
        return;
    }
    const fk_tune_way ways[] = {FK_TUNE_COLUMNS, FK_TUNE_WINOGRAD, FK_TUNE_BATCH};
    const fk_conv_gemm gemms[] = {FK_CONV_GEMM_OWN, FK_CONV_GEMM_WI, FK_CONV_GEMM_CLBLAST};
    for (int frozen = 0; frozen < 2; frozen++) {
        float *ref = forward_with(rt, NULL, &d, in, w, frozen, bias);
        for (int g = 0; g < 3 && ref; g++)
            for (int k = 0; k < 3; k++) {
                fk_tune_entry c = {frozen, 4, 16, 8, 8, 16, 3, 1, 1, 1, gemms[g], ways[k], FK_TUNE_DEFAULT, 0, 0, 0};
                float *got = forward_with(rt, &c, &d, in, w, frozen, bias);
                char what[64];
                snprintf(what, sizeof what, "%s gemm %d way %d", frozen ? "fused" : "forward", g, k);
                CHECK(got && fk_test_close(what, got, ref, (size_t)4 * 16 * 64, 1e-4, 1e-4) == 0, "%s", what);
                free(got);
            }
        free(ref);
    }
    clReleaseMemObject(in), clReleaseMemObject(w), clReleaseMemObject(bias);
    free(x), free(wt), free(b);
    fk_tune_clear(rt);
    rt->opts = saved;
}

int main(void)
{
    fk_test_mkdir("tune");
    test_round_trip();
    test_bad_files();
    test_env();
    fk_runtime *rt = NULL;
    int r = fk_test_runtime(&rt);
    if (r == 0) {
        test_device(rt);
        test_blas(rt);
        fk_runtime_free(rt);
    } else if (r == FK_TEST_SKIP) {
        printf("no OpenCL device: the device part is skipped\n");
    } else {
        fk_test_failures++;
    }
    fk_test_rmdir();
    return fk_test_result("tune");
}
