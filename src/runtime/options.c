/* The runtime options from the environment: the one place the library
 * calls getenv (the CLI's `devices` command reads FIGKD_DEVICE itself). */
#include "figkd/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of a variable, NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Set and not "0". */
static bool env_flag(const char *name)
{
    const char *v = env(name);
    return v && strcmp(v, "0") != 0;
}

/* Index of the variable's value in choices[1..] (choices[0] stands for
 * unset), or an error naming the variable and every choice. */
static fk_status env_choice(const char *name, const char *const *choices, int count, int *out)
{
    const char *v = env(name);
    *out = 0;
    if (!v)
        return FK_OK;
    for (int i = 1; i < count; i++)
        if (!strcmp(v, choices[i])) {
            *out = i;
            return FK_OK;
        }
    char list[128] = "";
    for (int i = 1; i < count; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", choices[i],
                 i + 2 < count ? ", " : i + 1 < count ? " or " : "");
    return fk_error(FK_ERR_ARG, "%s=%s: expected %s (or unset for the device's default)", name, v, list);
}

fk_status fk_runtime_options_from_env(fk_runtime_options *o)
{
    memset(o, 0, sizeof *o);
    const char *dev = env("FIGKD_DEVICE");
    snprintf(o->device, sizeof o->device, "%s", dev ? dev : "");
    o->sync = env_flag("FIGKD_SYNC");
    o->profile = env_flag("FIGKD_PROFILE");
    const char *poll = env("FIGKD_GRAD_POLL");
    o->grad_poll = !(poll && !strcmp(poll, "0"));

    const char *c = env("FIGKD_CACHE");
    o->disk_cache = !(c && !strcmp(c, "0"));
    const char *dir = env("FIGKD_CACHE_DIR"), *xdg = env("XDG_CACHE_HOME"), *home = env("HOME");
    if (dir)
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s", dir);
    else if (xdg)
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s/figkd-cl", xdg);
    else if (home)
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s/.cache/figkd-cl", home);
    else
        o->disk_cache = false;

    const char *tune = env("FIGKD_TUNE");
    o->tune = !(tune && !strcmp(tune, "0"));
    if (tune && strcmp(tune, "0") && strcmp(tune, "1"))
        snprintf(o->tune_file, sizeof o->tune_file, "%s", tune);
    if (xdg)
        snprintf(o->tune_dir, sizeof o->tune_dir, "%s/figkd-cl", xdg);
    else if (home)
        snprintf(o->tune_dir, sizeof o->tune_dir, "%s/.cache/figkd-cl", home);

    static const char *const paths[] = {"", "batch", "sample", "mixed"};
    static const char *const gemms[] = {"", "own", "clblast", "wi", "ig"};
    int path, gemm;
    FK_TRY(env_choice("FIGKD_CONV_PATH", paths, 4, &path));
    FK_TRY(env_choice("FIGKD_CONV_GEMM", gemms, 5, &gemm));
    o->conv_path = (fk_conv_path)path;
    o->conv_gemm = (fk_conv_gemm)gemm;
    static const char *const onoff[] = {"", "1", "0"};
    int wino, fold, fuse, images;
    FK_TRY(env_choice("FIGKD_WINOGRAD", onoff, 3, &wino));
    FK_TRY(env_choice("FIGKD_IMAGES", onoff, 3, &images));
    o->images = (fk_switch)images;
    FK_TRY(env_choice("FIGKD_FOLD_TEACHER", onoff, 3, &fold));
    FK_TRY(env_choice("FIGKD_FUSE", onoff, 3, &fuse));
    o->winograd = (fk_switch)wino;
    o->fold_teacher = (fk_switch)fold;
    o->fuse = (fk_switch)fuse;
    return FK_OK;
}

bool fk_env_mpi_launched(void)
{
    return env("OMPI_COMM_WORLD_SIZE") || env("PMI_SIZE") || env("PMIX_RANK");
}

fk_status fk_device_spec_for_rank(const char *device, int r, char *out, size_t n)
{
    const char *p = device;
    int entries = 1;
    for (const char *c = device; *c; c++)
        entries += *c == ',';
    if (entries == 1) {
        snprintf(out, n, "%s", device);
        return FK_OK;
    }
    if (r >= entries)
        return fk_error(FK_ERR_ARG,
                        "FIGKD_DEVICE=%s: %d entries, but local rank %d needs its own (one entry per rank on a node)",
                        device, entries, r);
    for (int i = 0; i < r; i++)
        p = strchr(p, ',') + 1;
    size_t len = strcspn(p, ",");
    snprintf(out, n, "%.*s", (int)len, p);
    return FK_OK;
}
