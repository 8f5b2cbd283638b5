/* figkd-cl devices: every OpenCL device, and the one FIGKD_DEVICE selects. */
#include "cli/commands.h"
#include "figkd/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether this version is checked on the device's OpenCL implementation,
 * and how (docs/devices.md lists the commands and the last results). */
static const char *tested_by(const fk_device_info *d)
{
    if (strstr(d->platform, "Portable Computing Language") || !strcmp(d->platform, "PoCL"))
        return d->is_cpu ? "yes: CI (PoCL)" : "no (PoCL, not on a CPU)";
    if (!strcmp(d->platform, "rusticl"))
        return !strncmp(d->name, "llvmpipe", 8) ? "yes: CI (rusticl)" : "no (rusticl, not llvmpipe)";
    if (!strcmp(d->platform, "Oclgrind"))
        return "yes: CI (Oclgrind)";
    if (strstr(d->platform, "NVIDIA"))
        return "yes: scripts/gpu-check.sh (NVIDIA)";
    return "no";
}

int fk_cmd_devices(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: figkd-cl devices\n\nLists OpenCL devices; '*' marks the one "
                   "FIGKD_DEVICE=<platform>[:<device>] selects (default: first GPU, else first CPU).\n"
                   "'tested' says whether figkd-cl is checked on the device's OpenCL implementation "
                   "(docs/devices.md).\n");
            return 0;
        }
        fprintf(stderr, "figkd-cl devices: unknown option '%s'\nusage: figkd-cl devices\n", argv[i]);
        return 2;
    }
    fk_device_info *list;
    int count;
    if (fk_device_list(&list, &count) != FK_OK)
        return 1;
    const char *spec = getenv("FIGKD_DEVICE"), *value = spec;
    char first[256];
    bool list_of_ranks = spec && strchr(spec, ',');
    if (list_of_ranks && fk_device_spec_for_rank(spec, 0, first, sizeof first) == FK_OK)
        spec = first; /* one entry per local rank of an MPI job: rank 0's is marked */
    int chosen = -1;
    fk_status st = fk_device_select(list, count, spec, &chosen);
    printf("   %-5s %-28s %-40s %-5s %4s %10s %10s  %-22s %s\n", "index", "platform", "device", "type", "CUs",
           "global MiB", "alloc MiB", "OpenCL C", "tested");
    for (int i = 0; i < count; i++) {
        const fk_device_info *d = &list[i];
        char idx[16];
        snprintf(idx, sizeof idx, "%d:%d", d->platform_index, d->device_index);
        printf(" %c %-5s %-28.28s %-40.40s %-5s %4u %10llu %10llu  %-22.22s %s\n", i == chosen ? '*' : ' ', idx,
               d->platform, d->name, d->is_gpu ? "GPU" : d->is_cpu ? "CPU" : "other", d->compute_units,
               (unsigned long long)(d->global_mem >> 20), (unsigned long long)(d->max_alloc >> 20),
               d->c_version, tested_by(d));
    }
    if (st == FK_OK)
        printf("FIGKD_DEVICE=%s selects %d:%d (%s)%s\n", value ? value : "(unset)", list[chosen].platform_index,
               list[chosen].device_index, list[chosen].name, list_of_ranks ? " for local rank 0" : "");
    free(list);
    return st == FK_OK ? 0 : 1;
}
