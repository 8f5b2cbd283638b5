#define _XOPEN_SOURCE 700 /* nftw */
#include "common.h"

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

int fk_test_failures;

int fk_test_runtime(fk_runtime **rt)
{
    fk_device_info *list;
    int count;
    if (fk_device_list(&list, &count) != FK_OK)
        return 1;
    free(list);
    if (count == 0) {
        printf("SKIP: no OpenCL device on this machine\n");
        return FK_TEST_SKIP;
    }
    return fk_runtime_create(rt) == FK_OK ? 0 : 1;
}

size_t fk_test_close(const char *what, const float *got, const float *ref, size_t n,
                     double atol, double rtol)
{
    size_t bad = 0, worst = 0;
    double worst_excess = -1.0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], r = ref[i];
        double tol = atol + rtol * fabs(r);
        double err = fabs(g - r);
        int ok = isfinite(g) ? err <= tol : (isnan(g) ? 0 : g == r);
        if (!ok) {
            bad++;
            double excess = isfinite(err) ? err - tol : INFINITY;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst = i;
            }
        }
    }
    if (bad) {
        fk_test_failures++;
        fprintf(stderr,
                "%s: %zu of %zu elements out of tolerance (atol %g, rtol %g); worst at [%zu]: "
                "got %.9g, ref %.9g, |diff| %.3g\n",
                what, bad, n, atol, rtol, worst, (double)got[worst], (double)ref[worst],
                fabs((double)got[worst] - (double)ref[worst]));
    }
    return bad;
}

void fk_test_fill_uniform(float *x, size_t n, unsigned seed, float lo, float hi)
{
    unsigned long long s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        unsigned long long r = s * 2685821657736338717ull;
        x[i] = lo + (hi - lo) * (float)((r >> 40) / (double)(1ull << 24));
    }
}

void fk_test_check_err(const char *file, int line, const char *expr, fk_status got, fk_status want,
                       const char *s1, const char *s2, const char *s3)
{
    const char *subs[3] = {s1, s2, s3};
    if (got != want) {
        fprintf(stderr, "%s:%d: %s returned %s, expected %s (message: %s)\n", file, line, expr,
                fk_status_name(got), fk_status_name(want), fk_last_error());
        fk_test_failures++;
    }
    for (int i = 0; i < 3; i++)
        if (subs[i] && !strstr(fk_last_error(), subs[i])) {
            fprintf(stderr, "%s:%d: message of %s lacks \"%s\": %s\n", file, line, expr, subs[i],
                    fk_last_error());
            fk_test_failures++;
        }
}

float *fk_test_uniform(size_t n, unsigned seed, float lo, float hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (x)
        fk_test_fill_uniform(x, n, seed, lo, hi);
    return x;
}

int fk_test_result(const char *name)
{
    if (fk_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, fk_test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

int fk_test_main(const char *name, const char *fixture, void (*body)(fk_runtime *rt, const fk_st_file *f))
{
    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    fk_st_file f = {0};
    if (fixture && fk_test_fixture(fixture, &f)) {
        fk_runtime_free(rt);
        return 1;
    }
    body(rt, &f);
    if (fixture)
        fk_st_free(&f);
    fk_runtime_free(rt);
    return fk_test_result(name);
}

int fk_test_main_named(int argc, char **argv, const char *name, const char **dir, const fk_test_named *tests,
                       size_t count)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURE_DIR TEST\n", name);
        return 2;
    }
    *dir = argv[1];
    for (size_t i = 0; i < count; i++)
        if (!strcmp(argv[2], tests[i].name)) {
            tests[i].fn();
            return fk_test_result(argv[2]);
        }
    fprintf(stderr, "unknown test %s\n", argv[2]);
    return 2;
}

const fk_test_tol *fk_test_tol_find(const fk_test_tol *table, size_t n, const char *what, bool prefix)
{
    for (size_t i = 0; i < n; i++)
        if (prefix ? !strncmp(what, table[i].what, strlen(table[i].what)) : !strcmp(what, table[i].what))
            return &table[i];
    return NULL;
}

const char *fk_test_source_path(const char *rel, char *buf, size_t size)
{
    const char *root = getenv("FIGKD_SOURCE_ROOT");
    snprintf(buf, size, "%s/%s", root && *root ? root : ".", rel);
    return buf;
}

int fk_test_fixture(const char *name, fk_st_file *out)
{
    char rel[1024], path[2048];
    snprintf(rel, sizeof rel, "tests/ref/fixtures/%s", name);
    fk_test_source_path(rel, path, sizeof path);
    if (fk_st_read(path, out) != FK_OK) {
        fprintf(stderr, "cannot load fixture %s (run from meson test, which sets FIGKD_SOURCE_ROOT)\n", path);
        return 1;
    }
    return 0;
}

const float *fk_test_tensor(const fk_st_file *f, const char *name, size_t *count)
{
    const fk_st_tensor *t = fk_st_find(f, name);
    if (!t || t->dtype != FK_DT_F32) {
        fprintf(stderr, "fixture tensor %s missing or not F32\n", name);
        fk_test_failures++;
        return NULL;
    }
    if (count)
        *count = t->nbytes / sizeof(float);
    return t->data;
}

int fk_test_upload(fk_runtime *rt, const float *x, size_t n, cl_mem *out)
{
    if (fk_buffer_create(rt, n * sizeof(float), 0, out) != FK_OK)
        return 1;
    return fk_buffer_write(rt, *out, 0, n * sizeof(float), x) != FK_OK;
}

float *fk_test_download(fk_runtime *rt, fk_tensor t, size_t n)
{
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h || fk_buffer_read(rt, t.buf, t.off * sizeof *h, n * sizeof *h, h) != FK_OK) {
        CHECK(0, "read back of %zu floats: %s", n, fk_last_error());
        free(h);
        return NULL;
    }
    return h;
}

/* ---- files ---------------------------------------------------------------------- */

static char test_dir[512];

void fk_test_mkdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(test_dir, sizeof test_dir, "%s/figkd-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(test_dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

const char *fk_test_dir(void) { return test_dir; }

const char *fk_test_path(const char *name)
{
    static char bufs[8][600];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", test_dir, name);
    return b;
}

void fk_test_write(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(buf, 1, n, f) != n) || fclose(f)) {
        perror(path);
        exit(1);
    }
}

unsigned char *fk_test_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    b[len] = 0;
    if (n)
        *n = (size_t)len;
    return b;
}

int fk_test_count_files(const char *dir, const char *sub)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, sub))
            n++;
    closedir(d);
    return n;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void fk_test_rmdir(void)
{
    nftw(test_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
