/* FIGKD_PROFILE=1: time per layer kind, one table per process. */
#include "figkd/runtime.h"

#include <stdio.h>
#include <string.h>

/* Per-label time of FIGKD_PROFILE=1 runs (one table per process). */
#define PROFILE_MAX 64
static struct {
    char label[48];
    double seconds;
    long calls;
} profile[PROFILE_MAX];
static int profile_count;

double fk_profile_begin(fk_runtime *rt)
{
    if (!rt->opts.profile)
        return 0;
    clFinish(rt->queue);
    return fk_seconds();
}

void fk_profile_end(fk_runtime *rt, const char *label, double t0)
{
    if (!rt->opts.profile)
        return;
    clFinish(rt->queue);
    double dt = fk_seconds() - t0;
    int i = 0;
    while (i < profile_count && strcmp(profile[i].label, label))
        i++;
    if (i == profile_count) {
        if (profile_count == PROFILE_MAX)
            return;
        snprintf(profile[profile_count++].label, sizeof profile[0].label, "%s", label);
    }
    profile[i].seconds += dt;
    profile[i].calls++;
}

void fk_profile_print(void)
{
    double total = 0;
    for (int i = 0; i < profile_count; i++)
        total += profile[i].seconds;
    if (!profile_count)
        return;
    fprintf(stderr, "FIGKD_PROFILE: time per layer kind (queue finished around each)\n");
    for (int i = 0; i < profile_count; i++)
        fprintf(stderr, "  %-20s %9.3f s %6.1f%% %8ld calls %9.3f ms/call\n", profile[i].label, profile[i].seconds,
                100 * profile[i].seconds / total, profile[i].calls, 1e3 * profile[i].seconds / profile[i].calls);
    profile_count = 0;
}
