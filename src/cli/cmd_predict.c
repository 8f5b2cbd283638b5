/* figkd-cl predict CONFIG --weights W --out logits.npy [--split test|train]
 * [--model M] [--set ...]: eval-mode logits of every image of a split, in
 * file order with evaluation transforms, as a float32 N x C .npy. */
#include "cli/commands.h"
#include "train/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: figkd-cl predict CONFIG --weights W.safetensors --out logits.npy [--split test|train] "
               "[--model M] [--set section.key=value]\n");
}

int fk_cmd_predict(int argc, char **argv)
{
    const char *config = NULL, *weights = NULL, *out = NULL, *model = NULL, *split = "test";
    const char **sets = calloc((size_t)argc + 2, sizeof *sets);
    int nsets = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--weights") && i + 1 < argc)
            weights = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--split") && i + 1 < argc)
            split = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc)
            sets[nsets++] = argv[++i];
        else if (argv[i][0] != '-' && !config)
            config = argv[i];
        else {
            fprintf(stderr, "figkd-cl predict: unknown option '%s'\n", argv[i]);
            usage(stderr);
            free(sets);
            return 2;
        }
    }
    if (!config || !weights || !out || (strcmp(split, "test") && strcmp(split, "train"))) {
        usage(stderr);
        free(sets);
        return 2;
    }
    /* evaluation transforms, file order */
    sets[nsets++] = "data.augment=none";
    sets[nsets++] = "data.shuffle=false";
    fk_config cfg;
    fk_status st = fk_config_load(&cfg, config, sets, nsets);
    free(sets);
    if (st)
        return 1;
    int rc = 1, B = cfg.optim.batch_size;
    fk_runtime *rt = NULL;
    fk_dataset *ds = NULL;
    fk_model *m = NULL;
    fk_loader *l = NULL;
    float *all = NULL;
    cl_mem x = NULL;
    if (fk_runtime_create(&rt) || fk_dataset_open(&cfg.data, !strcmp(split, "train"), &ds))
        goto out;
    int classes = fk_dataset_classes(ds);
    if (fk_session_model(rt, &cfg, model ? model : cfg.student_model, classes, fk_session_channels(&cfg, ds), 0, &m) ||
        fk_session_load_weights(rt, m, weights) || fk_model_plan(m, B, false))
        goto out;
    long n = fk_dataset_count(ds);
    all = fk_malloc((size_t)n * classes * sizeof(float));
    size_t img = (size_t)B * m->graph.nodes[0].c * m->graph.nodes[0].h * m->graph.nodes[0].w;
    if (!all || fk_buffer_create(rt, img * 4, 0, &x))
        goto out;
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.train = 0; /* keep the last partial batch, no augmentation, file order */
    o.batch = B;
    if (fk_loader_create(ds, &cfg.data, &o, &l))
        goto out;
    long row = 0;
    for (;;) {
        fk_batch b;
        if (fk_loader_next(l, &b))
            goto out;
        if (b.end_of_epoch)
            break;
        fk_tensor input = {x, 0, 4, {B, b.c, b.h, b.w}}, logits;
        st = fk_buffer_write(rt, x, 0, (size_t)b.count * b.c * b.h * b.w * 4, b.images);
        if (!st)
            st = fk_model_forward(m, input, false, &logits);
        if (!st)
            st = fk_buffer_read(rt, logits.buf, logits.off * 4, (size_t)b.count * classes * 4,
                                all + (size_t)row * classes);
        row += b.count;
        fk_loader_release(l, &b);
        if (st)
            goto out;
    }
    int64_t shape[2] = {row, classes};
    if (fk_npy_write(out, all, 2, shape))
        goto out;
    printf("wrote %s: %ld x %d logits of %s (%s split)\n", out, row, classes, m->entry->name, split);
    rc = 0;
out:
    if (l)
        fk_loader_free(l);
    if (x)
        clReleaseMemObject(x);
    free(all);
    fk_model_free(m);
    fk_dataset_free(ds);
    fk_runtime_free(rt);
    fk_config_free(&cfg);
    return rc;
}
