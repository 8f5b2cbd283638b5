/* figkd-cl eval CONFIG [--weights W] [--model M] [--set ...]: top-1 and
 * top-5 accuracy of the config's student (or --model) on the test split.
 * Without --weights: out_dir/best.safetensors, else out_dir/last.safetensors. */
#include "cli/args.h"
#include "cli/commands.h"
#include "train/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fk_cmd_eval(int argc, char **argv)
{
    const char *weights = NULL, *model = NULL;
    const arg_opt opts[] = {{"--weights", ARG_TEXT, &weights, false, NULL},
                            {"--model", ARG_TEXT, &model, false, NULL}};
    cli_args a = {.cmd = "eval", .usage = "eval CONFIG [--weights W] [--model M] [--set section.key=value]",
                  .opts = opts, .n_opts = 2};
    fk_config cfg;
    int r = cli_start(&a, argc, argv, &cfg);
    if (r >= 0)
        return r;
    char path[1200];
    if (!weights) {
        snprintf(path, sizeof path, "%s/best.safetensors", cfg.out_dir);
        if (access(path, F_OK) != 0)
            snprintf(path, sizeof path, "%s/last.safetensors", cfg.out_dir);
        weights = path;
    }
    int rc = 1;
    fk_runtime *rt = NULL;
    fk_dataset *test = NULL;
    fk_model *m = NULL;
    if (fk_runtime_create(&rt) || fk_dataset_open(&cfg.data, 0, &test))
        goto out;
    int classes = fk_dataset_classes(test);
    if (fk_session_model(rt, &cfg, model ? model : cfg.student_model, classes, fk_session_channels(&cfg, test), 0,
                         &m) ||
        fk_session_load_weights(rt, m, weights))
        goto out;
    double top1, top5, loss;
    if (fk_session_evaluate_model(rt, m, test, &cfg, cfg.optim.batch_size, &top1, &top5, &loss))
        goto out;
    printf("%s on %s test (%ld images): top-1 %.2f%%  top-5 %.2f%%  loss %.4f  (weights %s)\n", m->entry->name,
           fk_dataset_name(cfg.data.dataset), fk_dataset_count(test), 100 * top1, 100 * top5, loss, weights);
    rc = 0;
out:
    fk_model_free(m);
    fk_dataset_free(test);
    fk_runtime_free(rt);
    fk_config_free(&cfg);
    return rc;
}
