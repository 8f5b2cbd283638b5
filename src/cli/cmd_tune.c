/* figkd-cl tune CONFIG [--steps N] [--batch B] [--out FILE] [--set ...]:
 * time every way each conv shape of the config's pair can run on this
 * device and write the fastest to the device's tune cache
 * (fk_tune_run), which train and bench then read. */
#include "cli/args.h"
#include "cli/commands.h"
#include "figkd/train.h"

#include <stdio.h>

int fk_cmd_tune(int argc, char **argv)
{
    long steps = 3, batch = 0;
    const char *out = NULL;
    const arg_opt opts[] = {{"--steps", ARG_COUNT, &steps, false, NULL},
                            {"--batch", ARG_COUNT, &batch, false, NULL},
                            {"--out", ARG_TEXT, &out, false, NULL}};
    cli_args a = {.cmd = "tune", .opts = opts, .n_opts = 3,
                  .usage = "tune CONFIG [--steps N] [--batch B] [--out FILE] [--set section.key=value]",
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
    fk_tune_result r;
    double t0 = fk_seconds();
    rc = fk_tune_run(&cfg, steps, (int)batch, out, &r) ? 1 : 0;
    if (rc == 0)
        printf("wrote %s: %d conv shapes, %d off the device default; sum of their times %.1f ms default, "
               "%.1f ms tuned (%.0f s)\n",
               r.file, r.shapes, r.changed, r.default_ms, r.tuned_ms, fk_seconds() - t0);
    fk_config_free(&cfg);
    return rc;
}
