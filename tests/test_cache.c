#define _GNU_SOURCE /* memmem */
/* Program cache: a second runtime loads from disk instead of building; a
 * corrupted or truncated cache file is rebuilt, not fatal; FIGKD_CACHE=0
 * writes nothing; a failed build names the kernel file and prints the log. */
#include "common.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Path of the cache file in dir whose key holds `needle`, or "" */
static void cache_file(const char *dir, const char *needle, char *out, size_t n)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[1200], head[4096] = "";
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t got = fread(head, 1, sizeof head - 1, f);
        fclose(f);
        head[got] = '\0';
        if (memmem(head, got, needle, strlen(needle)))
            snprintf(out, n, "%s", path);
    }
    closedir(d);
}

static int count_files(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Build "util" with options in a fresh runtime; returns the runtime's stats. */
static int get_once(const char *options, int *builds, int *disk_hits, int *rejects, double *secs)
{
    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    double t0 = now();
    cl_kernel k;
    fk_status st = fk_kernel_get(rt, "util", options, "fill_f32", &k);
    if (secs)
        *secs = now() - t0;
    /* counts of this program alone */
    *builds = rt->builds;
    *disk_hits = rt->disk_hits;
    *rejects = rt->cache_rejects;
    /* the kernel must work whichever way the program came */
    cl_mem buf;
    float out[5] = {0};
    if (st == FK_OK)
        st = fk_buffer_create(rt, sizeof out, 0, &buf);
    if (st == FK_OK) {
        size_t global = 64;
        st = fk_run(rt, k, 1, &global, NULL, 4,
                    (fk_arg[]){FK_A(buf), FK_A((cl_ulong)1), FK_A(2.5f), FK_A((cl_ulong)3)}, __FILE__, __LINE__);
        if (st == FK_OK)
            st = fk_buffer_read(rt, buf, sizeof(float), 3 * sizeof(float), out + 1);
        clReleaseMemObject(buf);
    }
    CHECK(st == FK_OK && out[1] == 2.5f && out[3] == 2.5f, "fill kernel result %g", out[1]);
    /* a second request in the same runtime is a memory hit */
    int mem_before = rt->memory_hits;
    CHECK(fk_kernel_get(rt, "util", options, "fill_f32", &k) == FK_OK && rt->memory_hits == mem_before + 1,
          "in-memory hit");
    fk_runtime_free(rt);
    return st == FK_OK ? 0 : 1;
}

int main(void)
{
    char dir[] = "/tmp/figkd-cache-test-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    setenv("FIGKD_CACHE_DIR", dir, 1);
    unsetenv("FIGKD_CACHE");
    /* a unique option so earlier runs' caches cannot interfere */
    char opts[64];
    snprintf(opts, sizeof opts, "-DFK_TEST_NONCE=%ld", (long)getpid());

    int b, h, rj, r;
    double t_build, t_load;
    if ((r = get_once(opts, &b, &h, &rj, &t_build)))
        return r;
    CHECK(b == 1 && h == 0, "first run builds (builds %d, disk hits %d)", b, h);
    char path[1200];
    cache_file(dir, opts, path, sizeof path);
    CHECK(path[0], "a cache file was written in %s", dir);

    if ((r = get_once(opts, &b, &h, &rj, &t_load)))
        return r;
    CHECK(b == 0 && h == 1, "second run loads from disk (builds %d, disk hits %d)", b, h);
    printf("first build %.3f s, cached load %.3f s\n", t_build, t_load);

    /* corrupt the binary payload: rebuilt, and the file rewritten */
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL, "open cache file");
    if (f) {
        fseek(f, -16, SEEK_END);
        fputs("garbage-garbage", f);
        fclose(f);
    }
    if ((r = get_once(opts, &b, &h, &rj, NULL)))
        return r;
    CHECK(b == 1 && h == 0 && rj >= 1, "corrupt file rebuilt (builds %d, hits %d, rejects %d)", b, h, rj);
    if ((r = get_once(opts, &b, &h, &rj, NULL)))
        return r;
    CHECK(b == 0 && h == 1, "rewritten file is a hit again (builds %d, hits %d)", b, h);

    /* truncate it */
    f = fopen(path, "wb");
    if (f) {
        fputs("FKPC", f);
        fclose(f);
    }
    if ((r = get_once(opts, &b, &h, &rj, NULL)))
        return r;
    CHECK(b == 1 && rj >= 1, "truncated file rebuilt (builds %d, rejects %d)", b, rj);

    /* a different option set is a different entry */
    char opts2[80];
    snprintf(opts2, sizeof opts2, "%s -DOTHER=1", opts);
    if ((r = get_once(opts2, &b, &h, &rj, NULL)))
        return r;
    CHECK(b == 1 && h == 0, "new options build anew");
    /* util with each option set */
    CHECK(count_files(dir) == 2, "two cache files, found %d", count_files(dir));

    /* FIGKD_CACHE=0: nothing written or read */
    char dir2[] = "/tmp/figkd-cache-test-XXXXXX";
    if (!mkdtemp(dir2))
        return 1;
    setenv("FIGKD_CACHE_DIR", dir2, 1);
    setenv("FIGKD_CACHE", "0", 1);
    if ((r = get_once(opts, &b, &h, &rj, NULL)))
        return r;
    CHECK(b == 1 && count_files(dir2) == 0, "FIGKD_CACHE=0 writes nothing");

    /* a failed build names the file and prints the log */
    fk_runtime *rt;
    if ((r = fk_test_runtime(&rt)))
        return r;
    fk_error_quiet(1);
    cl_program p;
    fk_status st = fk_program_get(rt, "util", "-D__kernel=garbage_token", &p);
    CHECK(st == FK_ERR_BUILD, "broken build fails with FK_ERR_BUILD, got %s", fk_status_name(st));
    CHECK(strstr(fk_last_error(), "cl/util.cl") && strstr(fk_last_error(), "build log"),
          "message names the file and has the log: %s", fk_last_error());
    st = fk_program_get(rt, "no_such_file", "", &p);
    CHECK(st == FK_ERR_ARG && strstr(fk_last_error(), "cl/no_such_file.cl"), "unknown kernel file: %s",
          fk_last_error());
    fk_runtime_free(rt);
    return fk_test_result("test_cache");
}
