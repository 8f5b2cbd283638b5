/* Runtime options come from the environment once, in
 * fk_runtime_options_from_env: flags, the cache directory rules, and the
 * conv choices and the on/off switches (FIGKD_FUSE), where a bad value
 * names the variable and the choices. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

static fk_runtime_options opts;

static fk_status read_env(void)
{
    return fk_runtime_options_from_env(&opts);
}

/* set space-separated NAME=value pairs */
static void set_env(const char *pairs)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", pairs);
    for (char *save = NULL, *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        *eq = '\0';
        setenv(kv, eq + 1, 1);
    }
}

int main(void)
{
    fk_error_quiet(1);
    const char *vars[] = {"FIGKD_DEVICE", "FIGKD_SYNC", "FIGKD_PROFILE", "FIGKD_CACHE", "FIGKD_CACHE_DIR",
                          "XDG_CACHE_HOME", "FIGKD_CONV_PATH", "FIGKD_CONV_GEMM", "FIGKD_GRAD_POLL",
                          "FIGKD_FUSE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    setenv("HOME", "/home/someone", 1);
    CHECK(read_env() == FK_OK, "defaults");
    CHECK(!opts.device[0] && !opts.sync && !opts.profile && opts.disk_cache, "defaults off, cache on");
    CHECK(opts.grad_poll, "gradient polling on by default");
    CHECK(!strcmp(opts.cache_dir, "/home/someone/.cache/figkd-cl"), "cache dir %s", opts.cache_dir);
    CHECK(opts.conv_path == FK_CONV_PATH_DEFAULT && opts.conv_gemm == FK_CONV_GEMM_DEFAULT, "conv defaults");

    set_env("FIGKD_DEVICE=cpu FIGKD_SYNC=1 FIGKD_PROFILE=0 XDG_CACHE_HOME=/xdg FIGKD_CONV_PATH=mixed "
            "FIGKD_CONV_GEMM=clblast");
    CHECK(read_env() == FK_OK, "set");
    CHECK(!strcmp(opts.device, "cpu") && opts.sync && !opts.profile, "device, sync, profile=0");
    CHECK(!strcmp(opts.cache_dir, "/xdg/figkd-cl"), "XDG: %s", opts.cache_dir);
    CHECK(opts.conv_path == FK_CONV_PATH_MIXED && opts.conv_gemm == FK_CONV_GEMM_CLBLAST, "conv choices");
    set_env("FIGKD_CACHE_DIR=/c FIGKD_CACHE=0 FIGKD_CONV_PATH=batch FIGKD_CONV_GEMM=own");
    CHECK(read_env() == FK_OK && !strcmp(opts.cache_dir, "/c") && !opts.disk_cache, "FIGKD_CACHE_DIR, FIGKD_CACHE=0");
    CHECK(opts.conv_path == FK_CONV_PATH_BATCH && opts.conv_gemm == FK_CONV_GEMM_OWN, "batch, own");
    CHECK(opts.grad_poll, "FIGKD_GRAD_POLL unset");
    setenv("FIGKD_GRAD_POLL", "0", 1);
    CHECK(read_env() == FK_OK && !opts.grad_poll, "FIGKD_GRAD_POLL=0");
    unsetenv("FIGKD_GRAD_POLL");
    setenv("FIGKD_CONV_PATH", "", 1);
    CHECK(read_env() == FK_OK && opts.conv_path == FK_CONV_PATH_DEFAULT, "empty = unset");

    setenv("FIGKD_CONV_PATH", "bogus", 1);
    CHECK(read_env() == FK_ERR_ARG, "FIGKD_CONV_PATH=bogus fails");
    const char *msg = fk_last_error();
    CHECK(strstr(msg, "FIGKD_CONV_PATH=bogus") && strstr(msg, "batch, sample or mixed"), "message: %s", msg);
    unsetenv("FIGKD_CONV_PATH");
    setenv("FIGKD_CONV_GEMM", "blas", 1);
    CHECK(read_env() == FK_ERR_ARG, "FIGKD_CONV_GEMM=blas fails");
    msg = fk_last_error();
    CHECK(strstr(msg, "FIGKD_CONV_GEMM=blas") && strstr(msg, "own, clblast, wi or ig"), "message: %s", msg);
    setenv("FIGKD_CONV_GEMM", "ig", 1);
    CHECK(read_env() == FK_OK && opts.conv_gemm == FK_CONV_GEMM_IG, "FIGKD_CONV_GEMM=ig");
    setenv("FIGKD_CONV_GEMM", "clblast", 1);
    CHECK(read_env() == FK_OK && opts.fuse == FK_SWITCH_DEFAULT, "FIGKD_FUSE unset: the default (fused)");
    setenv("FIGKD_FUSE", "0", 1);
    CHECK(read_env() == FK_OK && opts.fuse == FK_SWITCH_OFF, "FIGKD_FUSE=0");
    setenv("FIGKD_FUSE", "1", 1);
    CHECK(read_env() == FK_OK && opts.fuse == FK_SWITCH_ON, "FIGKD_FUSE=1");
    setenv("FIGKD_FUSE", "off", 1);
    CHECK(read_env() == FK_ERR_ARG && strstr(fk_last_error(), "FIGKD_FUSE=off") && strstr(fk_last_error(), "1 or 0"),
          "FIGKD_FUSE=off fails: %s", fk_last_error());
    unsetenv("FIGKD_FUSE");
    fk_runtime *rt = NULL;
    setenv("FIGKD_CONV_PATH", "sample ", 1);
    CHECK(fk_runtime_create(&rt) == FK_ERR_ARG && !rt, "a runtime is not created with a bad option");

    /* MPI launchers and FIGKD_DEVICE lists: local rank r takes entry r */
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_RANK");
    CHECK(!fk_env_mpi_launched(), "not launched");
    setenv("PMI_SIZE", "4", 1);
    CHECK(fk_env_mpi_launched(), "PMI_SIZE: launched");
    unsetenv("PMI_SIZE");
    char spec[64];
    CHECK(fk_device_spec_for_rank("gpu", 3, spec, sizeof spec) == FK_OK && !strcmp(spec, "gpu"), "one entry: %s",
          spec);
    CHECK(fk_device_spec_for_rank("", 1, spec, sizeof spec) == FK_OK && !spec[0], "none: %s", spec);
    CHECK(fk_device_spec_for_rank("0:1,cpu,NVIDIA:2", 0, spec, sizeof spec) == FK_OK && !strcmp(spec, "0:1"),
          "entry 0: %s", spec);
    CHECK(fk_device_spec_for_rank("0:1,cpu,NVIDIA:2", 2, spec, sizeof spec) == FK_OK && !strcmp(spec, "NVIDIA:2"),
          "entry 2: %s", spec);
    fk_error_quiet(1);
    CHECK(fk_device_spec_for_rank("0:1,cpu", 2, spec, sizeof spec) == FK_ERR_ARG &&
              strstr(fk_last_error(), "local rank 2"), "too few entries: %s", fk_last_error());
    fk_error_quiet(0);
    return fk_test_result("options");
}
