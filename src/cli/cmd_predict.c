/* figkd-cl predict CONFIG --weights W --out logits.npy [--split test|train]
 * [--model M] [--set ...]: eval-mode logits of every image of a split, in
 * file order with evaluation transforms, as a float32 N x C .npy
 * (fk_predict_run). */
#include "cli/args.h"
#include "cli/commands.h"
#include "figkd/train.h"

#include <stdio.h>
#include <string.h>

int fk_cmd_predict(int argc, char **argv)
{
    const char *weights = NULL, *out = NULL, *model = NULL, *split = "test";
    const arg_opt opts[] = {{"--weights", ARG_TEXT, &weights}, {"--out", ARG_TEXT, &out},
                            {"--model", ARG_TEXT, &model}, {"--split", ARG_TEXT, &split}};
    cli_args a = {"predict", "predict CONFIG --weights W.safetensors --out logits.npy [--split test|train] "
                             "[--model M] [--set section.key=value]", NULL, NULL, 0};
    int rc = cli_parse(&a, argc, argv, 2, opts, 4, 2);
    if (rc >= 0)
        return rc;
    if (!weights || !out || (strcmp(split, "test") && strcmp(split, "train"))) {
        fprintf(stderr, "figkd-cl predict: %s\n", !weights ? "--weights is required" : !out ? "--out is required"
                                                  : "--split must be test or train");
        cli_usage(&a, stderr);
        free(a.sets);
        return 2;
    }
    /* evaluation transforms, file order */
    a.sets[a.nsets++] = "data.augment=none";
    a.sets[a.nsets++] = "data.shuffle=false";
    fk_config cfg;
    if (cli_load_config(&a, &cfg))
        return 1;
    fk_predict_result r;
    rc = fk_predict_run(&cfg, weights, model, !strcmp(split, "train"), out, &r) ? 1 : 0;
    if (rc == 0)
        printf("wrote %s: %ld x %d logits of %s (%s split)\n", out, r.rows, r.classes, r.model, split);
    fk_config_free(&cfg);
    return rc;
}
