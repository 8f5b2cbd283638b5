/* figkd-cl eval CONFIG [--weights W] [--model M] [--set ...]: top-1 and
 * top-5 accuracy of the config's student (or --model) on the test split
 * (fk_eval_run). Without --weights: out_dir/best.safetensors, else
 * out_dir/last.safetensors. */
#include "cli/args.h"
#include "cli/commands.h"
#include "figkd/check.h"
#include "figkd/train.h"

#include <stdio.h>

static int eval(int argc, char **argv)
{
    const char *weights = NULL, *model = NULL;
    const arg_opt opts[] = {{"--weights", ARG_TEXT, &weights, false, NULL},
                            {"--model", ARG_TEXT, &model, false, NULL}};
    cli_args a = {.cmd = "eval", .opts = opts, .n_opts = 2, .weights_only = true,
                  .usage = "eval CONFIG [--weights W] [--model M] [--set section.key=value]", .keep_going = true};
    fk_config cfg;
    int r = cli_start(&a, argc, argv, &cfg);
    if (r >= 0)
        return r;
    /* before work: the config, the test split, the weights and their model */
    int errors = cfg.errors;
    fk_dataset *test;
    fk_check_data(&cfg, NULL, &test, NULL, &errors);
    char path[1200];
    if (weights)
        snprintf(path, sizeof path, "%s", weights);
    else
        fk_check_default_weights(&cfg, path, sizeof path);
    if (model || !(cfg.broken & FK_BROKEN_STUDENT))
        fk_check_weights(&cfg, path, model, test ? fk_dataset_classes(test) : 0, &errors);
    fk_dataset_free(test);
    if (errors) {
        fk_config_free(&cfg);
        return cli_errors(&a, errors);
    }
    fk_eval_result res;
    r = fk_eval_run(&cfg, weights, model, &res) ? 1 : 0;
    if (r == 0)
        printf("%s on %s test (%ld images): top-1 %.2f%%  top-5 %.2f%%  loss %.4f  (weights %s)\n", res.model,
               fk_dataset_name(cfg.data.dataset), res.images, 100 * res.top1, 100 * res.top5, res.loss, res.weights);
    fk_config_free(&cfg);
    return r;
}

/* under mpirun each rank evaluates its share of the test split; the counts are summed */
int fk_cmd_eval(int argc, char **argv) { return cli_ranks("eval", eval, argc, argv, false); }
