/* figkd-cl bench CONFIG [--steps N] [--batch B] [--classes C] [--set ...]:
 * timed training steps of the config's teacher -> student pair on
 * synthetic input (no data set needed): img/s and ms/step for the whole
 * step, then per part (teacher forward, student forward, loss, backward,
 * update) measured with a queue finish after each part. */
#include "cli/commands.h"
#include "train/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int default_classes(fk_dataset_kind k)
{
    switch (k) {
    case FK_DATASET_CIFAR100: return 100;
    case FK_DATASET_TINYIMAGENET: return 200;
    case FK_DATASET_CIFAR10:
    case FK_DATASET_FASHION_MNIST:
    case FK_DATASET_MNIST: return 10;
    default: return 0;
    }
}

int fk_cmd_bench(int argc, char **argv)
{
    const char *config = NULL;
    long steps = 20, batch = 0, classes = 0;
    const char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0;
    for (int i = 2; i < argc; i++) {
        long *dst = !strcmp(argv[i], "--steps") ? &steps : !strcmp(argv[i], "--batch") ? &batch
                  : !strcmp(argv[i], "--classes") ? &classes : NULL;
        if (dst && i + 1 < argc) {
            if (fk_parse_long(argv[++i], dst) || *dst < 1) {
                fprintf(stderr, "figkd-cl bench: %s needs a positive integer, got '%s'\n", argv[i - 1], argv[i]);
                free(sets);
                return 2;
            }
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            sets[nsets++] = argv[++i];
        } else if (argv[i][0] != '-' && !config) {
            config = argv[i];
        } else {
            fprintf(stderr, "figkd-cl bench: unknown option '%s'\nusage: figkd-cl bench CONFIG [--steps N] "
                            "[--batch B] [--classes C] [--set section.key=value]\n", argv[i]);
            free(sets);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "usage: figkd-cl bench CONFIG [--steps N] [--batch B] [--classes C] [--set ...]\n");
        free(sets);
        return 2;
    }
    fk_config cfg;
    fk_status st = fk_config_load(&cfg, config, sets, nsets);
    free(sets);
    if (st)
        return 1;
    if (!classes)
        classes = default_classes(cfg.data.dataset);
    if (!classes) {
        fprintf(stderr, "figkd-cl bench: give --classes for dataset %s\n", fk_dataset_name(cfg.data.dataset));
        fk_config_free(&cfg);
        return 2;
    }
    int B = batch ? (int)batch : cfg.optim.batch_size;
    bool grey = cfg.data.dataset == FK_DATASET_FASHION_MNIST || cfg.data.dataset == FK_DATASET_MNIST;
    int channels = cfg.data.channels ? cfg.data.channels : grey ? 1 : 3;
    int rc = 1;
    fk_runtime *rt = NULL;
    fk_model *student = NULL, *teacher = NULL;
    fk_step s;
    memset(&s, 0, sizeof s);
    cl_mem x = NULL, y = NULL;
    float *hx = NULL;
    int32_t *hy = NULL;
    fk_loss_spec loss;
    if (fk_runtime_create(&rt) || fk_loss_spec_from_config(&cfg, (int)classes, &loss))
        goto out;
    if (cfg.method != FK_METHOD_CE &&
        (fk_session_model(rt, &cfg, cfg.teacher_model, (int)classes, channels, cfg.seed + 1, &teacher) ||
         fk_model_plan(teacher, B, false)))
        goto out;
    if (fk_session_model(rt, &cfg, cfg.student_model, (int)classes, channels, cfg.seed, &student) ||
        fk_model_plan(student, B, true) || fk_step_init(&s, rt, student, teacher, &loss, B, (int)classes))
        goto out;
    int S = student->graph.nodes[0].h;
    size_t img = (size_t)B * channels * S * S;
    hx = malloc(img * sizeof(float));
    hy = malloc((size_t)B * sizeof(int32_t));
    if (!hx || !hy)
        goto out;
    unsigned long long r = 88172645463325252ull + cfg.seed;
    for (size_t i = 0; i < img; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        hx[i] = (float)((r >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
    }
    for (int i = 0; i < B; i++)
        hy[i] = (int32_t)(i % classes);
    if (fk_buffer_create(rt, img * 4, 0, &x) || fk_buffer_create(rt, (size_t)B * 4, 0, &y) ||
        fk_buffer_write(rt, x, 0, img * 4, hx) || fk_buffer_write(rt, y, 0, (size_t)B * 4, hy))
        goto out;
    fk_sgd sgd = {(float)cfg.optim.lr, (float)cfg.optim.momentum, (float)cfg.optim.weight_decay, cfg.optim.nesterov};
    for (int i = 0; i < 3; i++) /* warm-up: program builds, CLBlast tuning caches */
        if (fk_step_run(&s, x, y, 0, &sgd, NULL))
            goto out;
    if (fk_runtime_finish(rt))
        goto out;
    double t0 = fk_seconds();
    for (long i = 0; i < steps; i++)
        if (fk_step_run(&s, x, y, 0, &sgd, NULL))
            goto out;
    if (fk_runtime_finish(rt))
        goto out;
    double dt = (fk_seconds() - t0) / steps;
    fk_step_times t = {0};
    for (long i = 0; i < steps; i++)
        if (fk_step_run(&s, x, y, 0, &sgd, &t))
            goto out;
    printf("device: %s (%s)\n", rt->dev.name, rt->dev.platform);
    printf("%s%s%s, method %s, batch %d, %dx%dx%d input, %ld classes, %ld steps\n",
           teacher ? cfg.teacher_model : "", teacher ? " -> " : "", cfg.student_model, fk_method_name(cfg.method), B,
           channels, S, S, classes, steps);
    printf("step: %.2f ms, %.1f img/s\n", 1e3 * dt, B / dt);
    printf("parts (each ended by a queue finish):\n");
    const char *names[] = {"teacher forward", "student forward", "loss", "backward", "update"};
    double v[] = {t.teacher_forward, t.student_forward, t.loss, t.backward, t.update}, sum = 0;
    for (int i = 0; i < 5; i++) {
        printf("  %-16s %8.3f ms\n", names[i], 1e3 * v[i] / steps);
        sum += v[i];
    }
    printf("  %-16s %8.3f ms\n", "sum of parts", 1e3 * sum / steps);
    rc = 0;
out:
    if (x)
        clReleaseMemObject(x);
    if (y)
        clReleaseMemObject(y);
    free(hx);
    free(hy);
    fk_step_free(&s);
    fk_model_free(student);
    fk_model_free(teacher);
    fk_runtime_free(rt);
    fk_config_free(&cfg);
    return rc;
}
