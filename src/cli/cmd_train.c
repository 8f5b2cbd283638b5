/* figkd-cl train CONFIG [--set section.key=value ...] [--resume]: the run
 * is the library's (fk_train_run, src/train/); this prints its summary.
 * Exit status: 0, 1 on an error, 2 for a bad command line, 128 + the
 * signal (130, 143) when SIGINT/SIGTERM stopped the run.
 *
 * Started by mpirun (docs/scaling.md), each process is one rank of a
 * data-parallel job: rank 0 alone prints, and an error in any rank ends
 * every rank (MPI_Abort) after printing it. */
#include "cli/args.h"
#include "cli/commands.h"
#include "figkd/parallel.h"
#include "figkd/train.h"

#include <stdio.h>

/* "79.40%", or "not evaluated" for a run that has no such accuracy (-1) */
static const char *pct(double acc, char *buf, size_t n)
{
    if (acc < 0)
        return "not evaluated";
    snprintf(buf, n, "%.2f%%", 100 * acc);
    return buf;
}

static void summary(const fk_config *cfg, const fk_train_result *r)
{
    char a[32], b[32];
    printf("\nsummary (%s, %s):\n", cfg->name, fk_dataset_name(cfg->data.dataset));
    if (cfg->method->needs_teacher)
        printf("  teacher %-12s test top-1 %s\n", cfg->teacher_model, pct(r->teacher_acc, a, sizeof a));
    if (r->best_acc >= 0)
        printf("  student %-12s test top-1 %s (best, epoch %d), %s (last)  [%s]\n", cfg->student_model,
               pct(r->best_acc, a, sizeof a), r->best_epoch, pct(r->last_acc, b, sizeof b), cfg->method->name);
    printf("  outputs in %s\n", cfg->out_dir);
}

static int train(int argc, char **argv)
{
    bool resume = false, force = false;
    const arg_opt opts[] = {{"--resume", ARG_FLAG, &resume, false, NULL}, {"--force", ARG_FLAG, &force, false, NULL}};
    cli_args a = {.cmd = "train", .usage = "train CONFIG [--set section.key=value ...] [--resume | --force]",
                  .opts = opts, .n_opts = 2, .keep_going = true};
    fk_config cfg;
    int rc = cli_start(&a, argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    if (resume && force) {
        fprintf(stderr, "figkd-cl train: --resume and --force exclude each other\n");
        fk_config_free(&cfg);
        return 2;
    }
    fk_train_result r;
    fk_status st = fk_train_run(&cfg, resume, force, &r);
    if (st == FK_OK)
        summary(&cfg, &r);
    fk_config_free(&cfg);
    if (r.errors) /* found before work, each reported: nothing ran */
        return cli_errors(&a, r.errors);
    return st == FK_OK ? 0 : st == FK_ERR_INTERRUPTED ? 128 + r.signal : 1;
}

int fk_cmd_train(int argc, char **argv) { return cli_ranks("train", train, argc, argv, false); }
