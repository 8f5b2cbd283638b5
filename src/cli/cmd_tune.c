/* figkd-cl tune CONFIG [--steps N] [--batch B] [--clblast FRACTION] [--out FILE] [--set ...]:
 * run CLBlast's own GEMM tuner (GPUs by default), time every way each conv
 * shape of the config's pair can run on this device, and write the fastest
 * to the device's tune cache (fk_tune_run), which train and bench then read. */
#include "cli/args.h"
#include "cli/commands.h"
#include "figkd/train.h"

#include <stdio.h>

int fk_cmd_tune(int argc, char **argv)
{
    long steps = 3, batch = 0;
    const char *out = NULL, *clblast = NULL;
    const arg_opt opts[] = {{"--steps", ARG_COUNT, &steps, false, NULL},
                            {"--batch", ARG_COUNT, &batch, false, NULL},
                            {"--clblast", ARG_TEXT, &clblast, false, NULL},
                            {"--out", ARG_TEXT, &out, false, NULL}};
    cli_args a = {.cmd = "tune", .opts = opts, .n_opts = 4,
                  .usage = "tune CONFIG [--steps N] [--batch B] [--clblast FRACTION] [--out FILE] "
                           "[--set section.key=value]",
                  .keep_going = true};
    fk_config cfg;
    int rc = cli_start_synthetic(&a, argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    if (batch > 1000000 || steps > 1000) {
        fprintf(stderr, "figkd-cl tune: --batch must be at most 1000000 and --steps at most 1000\n");
        fk_config_free(&cfg);
        return 2;
    }
    /* the share of CLBlast's tuner configurations to time: 0 none, else (0, 1] */
    double fraction = -1;
    if (clblast && (fk_parse_double(clblast, &fraction) || !(fraction >= 0 && fraction <= 1))) {
        fprintf(stderr, "figkd-cl tune: --clblast %s: expected the fraction of CLBlast's tuner configurations "
                        "to try, from 0 (none) to 1 (all)\n", clblast);
        fk_config_free(&cfg);
        return 2;
    }
    fk_tune_result r;
    double t0 = fk_seconds();
    rc = fk_tune_run(&cfg, steps, (int)batch, fraction, out, &r) ? 1 : 0;
    if (rc == 0)
        printf("wrote %s: %d conv shapes, %d off the device default; sum of their times %.1f ms default, "
               "%.1f ms tuned; %d CLBlast kernel%s tuned (%.0f s)\n",
               r.file, r.shapes, r.changed, r.default_ms, r.tuned_ms, r.blas_kernels,
               r.blas_kernels == 1 ? "" : "s", fk_seconds() - t0);
    fk_config_free(&cfg);
    return rc;
}
