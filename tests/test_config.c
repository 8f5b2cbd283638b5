/* Config: defaults, method-dependent defaults, --set, [teacher_optim]
 * fallback, and FILE:LINE errors for unknown sections and keys, bad values
 * and conflicting keys; docs/config.md matches the key table.
 * `test_config --write-docs PATH` regenerates the docs' key table. */
#include "common.h"
#include "figkd/config.h"
#include "figkd/loss.h"
#include "figkd/method.h"
#include "figkd/model.h"
#include "figkd/trainer.h"

#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

static char dir[] = "/tmp/figkd-config-XXXXXX";

static const char *write_ini(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static const char *BASE = "[run]\nseed = 3\n\n[data]\ndataset = fashion-mnist\nchannels = 3\n\n"
                          "[teacher]\nmodel = resnet20\ncheckpoint = t.safetensors\n\n"
                          "[student]\nmodel = resnet8\n\n";

static fk_status load(const char *extra, const char *const *sets, int n, fk_config *cfg)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s", BASE, extra);
    return fk_config_load(cfg, write_ini("c.ini", text), sets, n);
}

static void expect_error(const char *extra, const char *const *sets, int n, const char *s1, const char *s2)
{
    fk_config cfg;
    fk_status st = load(extra, sets, n, &cfg);
    CHECK(st == FK_ERR_ARG, "'%s' must fail", extra);
    CHECK(strstr(fk_last_error(), s1) != NULL, "message has '%s': %s", s1, fk_last_error());
    CHECK(!s2 || strstr(fk_last_error(), s2) != NULL, "message has '%s': %s", s2, fk_last_error());
    if (st == FK_OK)
        fk_config_free(&cfg);
}

static int docs_match(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *doc = calloc(1, 1 << 16);
    size_t n = fread(doc, 1, (1 << 16) - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *table = NULL;
    size_t tlen = 0;
    FILE *m = open_memstream(&table, &tlen);
    fk_config_write_docs(m);
    fclose(m);
    int ok = strstr(doc, table) != NULL;
    free(doc);
    free(table);
    return ok;
}

/* Every committed config loads, and names models of the zoo. */
static int load_all(int n, char **paths)
{
    for (int i = 0; i < n; i++) {
        fk_config cfg;
        if (fk_config_load(&cfg, paths[i], NULL, 0) != FK_OK) {
            CHECK(0, "%s does not load: %s", paths[i], fk_last_error());
            continue;
        }
        CHECK(fk_model_find(cfg.student_model) != NULL, "%s: unknown student %s", paths[i], cfg.student_model);
        CHECK(!cfg.teacher_model[0] || fk_model_find(cfg.teacher_model) != NULL, "%s: unknown teacher %s", paths[i],
              cfg.teacher_model);
        fk_config_free(&cfg);
    }
    printf("%d configs checked\n", n);
    return fk_test_result("test_config --load");
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--load"))
        return load_all(argc - 2, argv + 2);
    if (argc == 3 && !strcmp(argv[1], "--write-docs")) {
        FILE *f = fopen(argv[2], "w");
        if (!f)
            return 1;
        fprintf(f, "# Configuration keys\n\nRun configs are INI files with the sections below. Every key has the "
                   "default shown; `--set section.key=value` overrides any key on the command line. An unknown "
                   "section or key, a bad value or keys that conflict stop the run before any work with "
                   "`FILE:LINE: message` and the valid choices. The [distill] keys other than `method` belong to "
                   "the method, each with its own defaults (from the method table, src/loss/methods.c).\n");
        fk_config_write_docs(f);
        fclose(f);
        return 0;
    }
    if (!mkdtemp(dir))
        return 1;
    fk_error_quiet(1);
    fk_config cfg;

    /* defaults */
    CHECK(load("", NULL, 0, &cfg) == FK_OK, "base config loads: %s", fk_last_error());
    CHECK(cfg.method == FK_METHOD_FIGKD && cfg.alpha == 1 && cfg.beta == 1, "figkd defaults");
    CHECK(cfg.bands == FK_BANDS_DETAIL && !cfg.detail_l1 && cfg.shape_h == 0, "figkd band defaults");
    CHECK(cfg.optim.lr == 0.05 && cfg.optim.momentum == 0.9 && cfg.optim.weight_decay == 5e-4, "optim defaults");
    CHECK(cfg.optim.n_milestones == 3 && cfg.optim.milestones[2] == 210 && cfg.optim.batch_size == 64, "milestones");
    CHECK(cfg.seed == 3 && !strcmp(cfg.name, "c") && !strcmp(cfg.out_dir, "runs/c"), "run name from file");
    CHECK(cfg.data.dataset == FK_DATASET_FASHION_MNIST && cfg.data.channels == 3, "data keys");
    fk_config_free(&cfg);

    /* method-dependent defaults */
    CHECK(load("[distill]\nmethod = kd\n", NULL, 0, &cfg) == FK_OK, "kd");
    CHECK(cfg.alpha == 0.1 && cfg.beta == 0.9 && cfg.temperature == 4, "kd defaults %g %g %g", cfg.alpha,
          cfg.beta, cfg.temperature);
    fk_config_free(&cfg);
    CHECK(load("[distill]\nmethod = dkd\n", NULL, 0, &cfg) == FK_OK, "dkd");
    CHECK(cfg.alpha == 1 && cfg.beta == 8 && cfg.temperature == 4 && cfg.warmup_epochs == 20 && cfg.ce_weight == 1,
          "dkd defaults");
    fk_config_free(&cfg);

    /* --set, teacher_optim fallback */
    const char *sets[] = {"optim.lr=0.01", "distill.bands=LL,HH", "distill.shape=5x20", "teacher_optim.epochs=7"};
    CHECK(load("[optim]\nlr = 0.2\nepochs = 3\n", sets, 4, &cfg) == FK_OK, "--set: %s", fk_last_error());
    CHECK(cfg.optim.lr == 0.01 && cfg.optim.epochs == 3, "--set wins over the file");
    CHECK(cfg.bands == (FK_BAND_LL | FK_BAND_HH) && cfg.shape_h == 5 && cfg.shape_w == 20, "bands, shape");
    CHECK(cfg.teacher_optim.lr == 0.01 && cfg.teacher_optim.epochs == 7, "teacher_optim falls back key by key");
    CHECK(strstr(cfg.text, "# --set optim.lr=0.01") != NULL, "config text records overrides");
    fk_config_free(&cfg);

    /* errors with FILE:LINE and the valid choices */
    expect_error("[optim]\nlr = fast\n", NULL, 0, "c.ini:16: optim.lr", "not a non-negative number");
    expect_error("[optimizer]\nlr = 1\n", NULL, 0, "c.ini:15: unknown section [optimizer]", "[teacher_optim]");
    expect_error("[optim]\nlearning_rate = 1\n", NULL, 0, "c.ini:16: unknown key 'learning_rate'", "lr, momentum");
    expect_error("[distill]\nmethod = nosuch\n", NULL, 0, "c.ini:16", "valid: ce, kd, dkd, figkd");
    expect_error("[distill]\nbands = LL,XX\n", NULL, 0, "c.ini:16", "valid: LL, LH, HL, HH");
    expect_error("[distill]\ntemperature = 4\n", NULL, 0, "c.ini:16: distill.temperature does not apply to method = figkd",
                 "alpha, beta, bands");
    /* fitnet's keys: the stage index is a whole number, weights non-negative numbers; its keys are its own */
    expect_error("[distill]\nmethod = fitnet\nhint_layer = 1.5\n", NULL, 0, "c.ini:17: distill.hint_layer",
                 "not a non-negative integer");
    expect_error("[distill]\nmethod = fitnet\nhint_layer = -1\n", NULL, 0, "c.ini:17: distill.hint_layer",
                 "not a non-negative integer");
    expect_error("[distill]\nmethod = fitnet\nbeta = lots\n", NULL, 0, "c.ini:17: distill.beta", "not a non-negative number");
    expect_error("[distill]\nmethod = fitnet\ntemperature = 4\n", NULL, 0,
                 "c.ini:17: distill.temperature does not apply to method = fitnet", "alpha, beta, hint_layer");
    expect_error("[distill]\nmethod = at\nhint_layer = 2\n", NULL, 0,
                 "c.ini:17: distill.hint_layer does not apply to method = at", "alpha, beta, p");
    expect_error("", (const char *[]){"distill.method=fitnet", "distill.hint_layer=two"}, 2, "--set distill.hint_layer",
                 "not a non-negative integer");
    CHECK(load("[distill]\nmethod = fitnet\n", NULL, 0, &cfg) == FK_OK, "fitnet: %s", fk_last_error());
    CHECK(cfg.method == &fk_method_fitnet, "fitnet loads");
    fk_config_free(&cfg);
    CHECK(load("[distill]\nmethod = fitnet\nhint_layer = 3\nbeta = 50\n", NULL, 0, &cfg) == FK_OK, "fitnet keys: %s",
          fk_last_error());
    fk_loss_spec spec;
    CHECK(fk_loss_spec_from_config(&cfg, 100, &spec) == FK_OK && spec.ce_weight == 1 && spec.term_weight == 50 &&
              spec.seed == cfg.seed + 2,
          "fitnet spec: ce %g, term %g", spec.ce_weight, spec.term_weight);
    fk_config_free(&cfg);
    expect_error("[optim]\nschedule = cosine\nmilestones = 10,20\n", NULL, 0, "c.ini:17: optim.milestones conflicts",
                 NULL);
    expect_error("[optim]\nmilestones = 20,10\n", NULL, 0, "c.ini:16", "increasing");
    /* BASE names the data set: a bad one through --set (in the file it would be given twice) */
    expect_error("", (const char *[]){"data.dataset=imagenet22k"}, 1, "--set data.dataset", "cifar100");
    /* a key given twice is an error naming both lines, also across two [data] sections */
    expect_error("[data]\ndataset = cifar100\n", NULL, 0, "c.ini:16: [data] dataset is given twice; first at",
                 "c.ini:5");
    expect_error("[data]\nsubset = -3\n", NULL, 0, "c.ini:16", "subset");
    expect_error("[distill]\nshape = 10by10\n", NULL, 0, "c.ini:16", "HxW");
    const char *bad_set[] = {"optim.lr"};
    expect_error("", bad_set, 1, "--set optim.lr", "section.key=value");
    const char *bad_set2[] = {"optim.momentum=2"};
    expect_error("", bad_set2, 1, "--set optim.momentum: must be below 1", NULL);
    expect_error("[optim]\nlr = 0\n", NULL, 0, "c.ini:16: [optim] lr: must be positive", NULL);
    expect_error("[teacher_optim]\nbatch_size = 0\n", NULL, 0, "c.ini:16: [teacher_optim] batch_size: must be at least 1",
                 NULL);
    expect_error("[optim]\nepochs = 0\nmax_steps = 10\n", NULL, 0, "c.ini:16: [optim] epochs: must be at least 1", NULL);
    const char *bad_set3[] = {"nosection.key=1"};
    expect_error("", bad_set3, 1, "--set nosection.key: unknown section", NULL);
    expect_error("this line is not ini\n", NULL, 0, "c.ini:15: not an INI line", NULL);
    /* every error at once, in line order, the first one the status and the last error */
    const char *two_sets[] = {"student.model=resnet8y", "optim.momentum=2"};
    CHECK(load("[optim]\nepochs = 0\nlr = fast\n", two_sets, 2, &cfg) == FK_ERR_ARG &&
              cfg.errors == 4 && strstr(fk_last_error(), "c.ini:16: [optim] epochs") &&
              cfg.broken == FK_BROKEN_STUDENT,
          "four errors: %d, broken %u, first: %s", cfg.errors, cfg.broken, fk_last_error());
    /* the reader goes on past a bad line and a key given twice; an unknown
     * section is one error however many keys it has */
    CHECK(load("not ini\n[optim]\nlr = 0.1\nlr = 0.2\n[optimizer]\na = 1\nb = 2\n", NULL, 0, &cfg) == FK_ERR_ARG &&
              cfg.errors == 3 && strstr(fk_last_error(), "c.ini:15: not an INI line"),
          "reader errors: %d, first: %s", cfg.errors, fk_last_error());
    /* a method that does not parse says nothing of its keys; a bad [data] key breaks the data */
    CHECK(load("[distill]\nmethod = nosuch\ntemperature = 4\n[data]\nsubset = -1\n", NULL, 0, &cfg) == FK_ERR_ARG &&
              cfg.errors == 2 && (cfg.broken & FK_BROKEN_METHOD) && (cfg.broken & FK_BROKEN_DATA),
          "method and data: %d errors, broken %u: %s", cfg.errors, cfg.broken, fk_last_error());
    CHECK(load("[optim]\nlr = 0.1\n", NULL, 0, &cfg) == FK_OK && cfg.errors == 0 && cfg.broken == 0, "no errors");
    fk_config_free(&cfg);
    CHECK(fk_config_load(&cfg, "/nonexistent/x.ini", NULL, 0) == FK_ERR_IO &&
              strstr(fk_last_error(), "/nonexistent/x.ini"), "missing file named");
    /* a teacher is needed for distillation, not for ce */
    CHECK(fk_config_load(&cfg, write_ini("s.ini", "[student]\nmodel = resnet8\n[data]\ndataset = mnist\n"), NULL, 0) ==
              FK_ERR_ARG && strstr(fk_last_error(), "[teacher] model"), "teacher required: %s", fk_last_error());
    CHECK(fk_config_load(&cfg, write_ini("s.ini", "[student]\nmodel = resnet8\n[distill]\nmethod = ce\n"), NULL, 0) ==
              FK_OK, "ce alone needs no teacher: %s", fk_last_error());
    fk_config_free(&cfg);

    /* lr schedule */
    fk_optim_config o = {.lr = 0.1, .gamma = 0.1, .epochs = 10, .n_milestones = 2, .milestones = {3, 6}};
    CHECK(fk_optim_lr(&o, 0) == 0.1 && fk_optim_lr(&o, 2.9) == 0.1, "before the first milestone");
    CHECK(fabs(fk_optim_lr(&o, 3) - 0.01) < 1e-12 && fabs(fk_optim_lr(&o, 7) - 0.001) < 1e-12, "after milestones");
    o.warmup_epochs = 2;
    CHECK(fabs(fk_optim_lr(&o, 0) - 0.05) < 1e-12 && fabs(fk_optim_lr(&o, 1.5) - 0.1) < 1e-12, "linear warm-up");
    o.schedule = FK_SCHED_COSINE;
    o.warmup_epochs = 0;
    CHECK(fabs(fk_optim_lr(&o, 5) - 0.05) < 1e-12 && fk_optim_lr(&o, 0) == 0.1, "cosine");

    char docs[1024];
    CHECK(docs_match(fk_test_source_path("docs/config.md", docs, sizeof docs)),
          "docs/config.md is out of date: run build/tests/test_config --write-docs docs/config.md");
    return fk_test_result("test_config");
}
