/* figkd-cl analyze CONFIG --weights W [--split test|train] [--model M]
 * [--teacher [--teacher-weights T]] [--json] [--set ...]: top-1 of the
 * logits, of their low-frequency and of their high-frequency
 * reconstruction, and the energy per Haar band (fk_analyze_run). */
#include "cli/args.h"
#include "cli/commands.h"
#include "figkd/train.h"

#include <stdio.h>
#include <string.h>

static const char *const bands[] = {"LL", "LH", "HL", "HH"};
static const char *const recon[] = {"full", "low", "high"};

static void json_model(const fk_analyze_model *m)
{
    printf("\"model\": \"%s\", \"top1\": {", m->model);
    for (int r = 0; r < 3; r++)
        printf("%s\"%s\": %.6f", r ? ", " : "", recon[r], m->top1[r]);
    printf("}, \"energy\": {");
    for (int b = 0; b < 4; b++)
        printf("%s\"%s\": %.6f", b ? ", " : "", bands[b], m->energy[b]);
    printf("}");
}

static void print_json(const fk_analyze_result *r)
{
    printf("{\"n\": %ld, \"classes\": %d, \"grid\": [%d, %d], ", r->n, r->classes, r->grid_h, r->grid_w);
    json_model(&r->student);
    if (r->has_teacher) {
        printf(", \"teacher\": {");
        json_model(&r->teacher);
        printf("}, \"agreement\": {");
        for (int k = 0; k < 3; k++)
            printf("%s\"%s\": %.6f", k ? ", " : "", recon[k], r->agreement[k]);
        printf("}");
    }
    printf("}\n");
}

static void print_row(const char *who, const fk_analyze_model *m)
{
    printf("%-8s %-12s %7.2f%% %7.2f%% %7.2f%%   %5.1f%% %5.1f%% %5.1f%% %5.1f%%\n", who, m->model,
           100 * m->top1[0], 100 * m->top1[1], 100 * m->top1[2], 100 * m->energy[0], 100 * m->energy[1],
           100 * m->energy[2], 100 * m->energy[3]);
}

static void print_table(const fk_analyze_result *r, const char *split)
{
    printf("%ld %s images, %d classes on a %dx%d grid (Haar, zero padding)\n", r->n, split, r->classes, r->grid_h,
           r->grid_w);
    printf("%-8s %-12s %8s %8s %8s   %6s %6s %6s %6s\n", "", "model", "full", "low", "high", "LL", "LH", "HL",
           "HH");
    print_row("student", &r->student);
    if (r->has_teacher) {
        print_row("teacher", &r->teacher);
        printf("agreement of the arg-max: full %.2f%%, low %.2f%%, high %.2f%%\n", 100 * r->agreement[0],
               100 * r->agreement[1], 100 * r->agreement[2]);
    }
}

int fk_cmd_analyze(int argc, char **argv)
{
    const char *weights = NULL, *model = NULL, *split = "test", *tweights = NULL;
    bool json = false, teacher = false;
    const arg_opt opts[] = {{"--weights", ARG_TEXT, &weights, true, NULL}, {"--model", ARG_TEXT, &model, false, NULL},
                            {"--split", ARG_TEXT, &split, false, "test,train"},
                            {"--teacher", ARG_FLAG, &teacher, false, NULL},
                            {"--teacher-weights", ARG_TEXT, &tweights, false, NULL},
                            {"--json", ARG_FLAG, &json, false, NULL}};
    static const char *const eval_order[] = {"data.augment=none", "data.shuffle=false"};
    cli_args a = {.cmd = "analyze", .usage = "analyze CONFIG --weights W.safetensors [--split test|train] "
                  "[--model M] [--teacher [--teacher-weights T.safetensors]] [--json] [--set section.key=value]",
                  .opts = opts, .n_opts = 6, .more_sets = eval_order, .n_more = 2, .weights_only = true};
    fk_config cfg;
    int rc = cli_start(&a, argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    if (teacher && !tweights)
        tweights = cfg.teacher_checkpoint[0] ? cfg.teacher_checkpoint : NULL;
    if (teacher && (!tweights || !cfg.teacher_model[0])) {
        fprintf(stderr, "figkd-cl analyze: --teacher needs [teacher] model and checkpoint in %s "
                "(or --teacher-weights)\n", cfg.path);
        fk_config_free(&cfg);
        return 2;
    }
    fk_analyze_result r;
    rc = fk_analyze_run(&cfg, weights, model, teacher ? tweights : NULL, !strcmp(split, "train"), &r) ? 1 : 0;
    if (rc == 0) {
        if (json)
            print_json(&r);
        else
            print_table(&r, split);
    }
    fk_config_free(&cfg);
    return rc;
}
