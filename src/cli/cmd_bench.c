/* figkd-cl bench CONFIG [--steps N] [--batch B] [--classes C] [--set ...]:
 * timed training steps of the config's teacher -> student pair on
 * synthetic input (fk_bench_run): img/s and ms/step for the whole step,
 * then per part, each ended by a queue finish. */
#include "cli/args.h"
#include "cli/commands.h"
#include "figkd/train.h"

#include <stdio.h>

static void print_bench(const fk_config *cfg, const fk_bench_result *r)
{
    bool teacher = cfg->method->needs_teacher;
    printf("device: %s (%s)\n", r->device, r->platform);
    printf("%s%s%s, method %s, batch %d, %dx%dx%d input, %d classes, %ld steps\n", teacher ? cfg->teacher_model : "",
           teacher ? " -> " : "", cfg->student_model, cfg->method->name, r->batch, r->channels, r->size, r->size,
           r->classes, r->steps);
    if (r->ranks)
        printf("data parallel: %d processes, batch %d each (global %d)\n", r->ranks, r->batch / r->ranks, r->batch);
    if (r->tune_entries)
        printf("tuned: %d conv shapes from %s (%d entries)\n", r->tune_used, r->tune_file, r->tune_entries);
    else if (r->tune_file[0])
        printf("tuned: none (no entries in %s: figkd-cl tune CONFIG writes them)\n", r->tune_file);
    else
        printf("tuned: off\n");
    if (r->tune_blas[0])
        printf("tuned: CLBlast's %s values from %s\n", r->tune_blas, r->tune_file);
    printf("step: %.2f ms, %.1f img/s\n", 1e3 * r->step_s, r->batch / r->step_s);
    if (r->ranks)
        printf("gradient allreduce after the last bucket's read: %.3f ms a step\n", 1e3 * r->sync_exposed_s);
    printf("parts (each ended by a queue finish):\n");
    const char *names[] = {"teacher forward", "student forward", "loss", "backward", "update", "wait for ranks",
                           "gradient sync"};
    const fk_step_times *t = &r->parts;
    double v[] = {t->teacher_forward, t->student_forward, t->loss, t->backward, t->update, t->rank_wait, t->sync};
    double sum = 0;
    for (int i = 0; i < (r->ranks ? 7 : 5); i++) {
        printf("  %-16s %8.3f ms\n", names[i], 1e3 * v[i] / r->steps);
        sum += v[i];
    }
    printf("  %-16s %8.3f ms\n", "sum of parts", 1e3 * sum / r->steps);
    printf("device memory: %.1f MiB (parameter stores, plans, step and batch buffers)\n",
           r->device_bytes / 1048576.0);
    printf("peak resident memory: %.1f MiB\n", r->peak_rss / 1048576.0);
}

static int bench(int argc, char **argv)
{
    long steps = 20, batch = 0, classes = 0;
    const arg_opt opts[] = {{"--steps", ARG_COUNT, &steps, false, NULL},
                            {"--batch", ARG_COUNT, &batch, false, NULL},
                            {"--classes", ARG_COUNT, &classes, false, NULL}};
    cli_args a = {.cmd = "bench", .opts = opts, .n_opts = 3,
                  .usage = "bench CONFIG [--steps N] [--batch B] [--classes C] [--set section.key=value]",
                  .keep_going = true};
    fk_config cfg;
    int rc = cli_start_synthetic(&a, argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    if (!classes)
        classes = fk_bench_default_classes(&cfg);
    fk_bench_result r;
    if (!classes) {
        fprintf(stderr, "figkd-cl bench: give --classes for dataset %s\n", fk_dataset_name(cfg.data.dataset));
        rc = 2;
    } else if (batch > 1000000 || classes > 1000000) {
        fprintf(stderr, "figkd-cl bench: --batch and --classes must be at most 1000000\n");
        rc = 2;
    } else {
        rc = fk_bench_run(&cfg, steps, (int)batch, (int)classes, &r) ? 1 : 0;
    }
    if (rc == 0)
        print_bench(&cfg, &r);
    fk_config_free(&cfg);
    return rc;
}

/* under mpirun: the data-parallel step, the global batch split over the ranks */
int fk_cmd_bench(int argc, char **argv) { return cli_ranks("bench", bench, argc, argv, false); }
