/* figkd-cl predict CONFIG --weights W --out logits.npy [--labels L.npy]
 * [--features F.npy] [--split test|train] [--model M] [--set ...]: eval-mode
 * logits of every image of a split, in file order with evaluation
 * transforms, as a float32 N x C .npy; the labels of the same images (int64)
 * and their penultimate features (the classifier's input, float32 N x D)
 * beside them when asked (fk_predict_run). */
#include "cli/args.h"
#include "cli/commands.h"
#include "figkd/check.h"
#include "figkd/train.h"

#include <stdio.h>
#include <string.h>

static int predict(int argc, char **argv)
{
    const char *weights = NULL, *out = NULL, *model = NULL, *split = "test", *labels = NULL, *features = NULL;
    const arg_opt opts[] = {{"--weights", ARG_TEXT, &weights, true, NULL}, {"--out", ARG_TEXT, &out, true, NULL},
                            {"--model", ARG_TEXT, &model, false, NULL},
                            {"--split", ARG_TEXT, &split, false, "test,train"},
                            {"--labels", ARG_TEXT, &labels, false, NULL},
                            {"--features", ARG_TEXT, &features, false, NULL}};
    /* evaluation transforms, file order */
    static const char *const eval_order[] = {"data.augment=none", "data.shuffle=false"};
    cli_args a = {.cmd = "predict", .usage = "predict CONFIG --weights W.safetensors --out logits.npy "
                  "[--labels labels.npy] [--features features.npy] [--split test|train] [--model M] "
                  "[--set section.key=value]", .opts = opts, .n_opts = 6,
                  .more_sets = eval_order, .n_more = 2, .weights_only = true, .keep_going = true};
    fk_config cfg;
    int rc = cli_start(&a, argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    /* before work: the config, the split, the weights and their model, the files to write */
    int errors = cfg.errors;
    bool train = !strcmp(split, "train");
    fk_dataset *ds;
    fk_check_data(&cfg, train ? &ds : NULL, train ? NULL : &ds, NULL, &errors);
    if (model || !(cfg.broken & FK_BROKEN_STUDENT))
        fk_check_weights(&cfg, weights, model, ds ? fk_dataset_classes(ds) : 0, &errors);
    fk_dataset_free(ds);
    const char *outs[] = {out, labels, features}, *names[] = {"--out", "--labels", "--features"};
    for (int i = 0; i < 3; i++)
        if (outs[i])
            fk_check_output(names[i], outs[i], &errors);
    if (errors) {
        fk_config_free(&cfg);
        return cli_errors(&a, errors);
    }
    fk_predict_result r;
    fk_predict_files files = {out, labels, features};
    rc = fk_predict_run(&cfg, weights, model, train, &files, &r) ? 1 : 0;
    if (rc == 0)
        printf("wrote %s: %ld x %d logits of %s (%s split)\n", out, r.rows, r.classes, r.model, split);
    fk_config_free(&cfg);
    return rc;
}

/* under mpirun rank 0 alone predicts and writes the files */
int fk_cmd_predict(int argc, char **argv) { return cli_ranks("predict", predict, argc, argv, true); }
