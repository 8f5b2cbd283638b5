/* Small helpers shared by host-only unit tests: checks that count failures,
 * a private temporary directory, whole-file read/write. */
#ifndef FIGKD_TEST_COMMON_H
#define FIGKD_TEST_COMMON_H

#include "figkd/common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int t_failures;

#define CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            t_failures++; \
        } \
    } while (0)

/* Status s and a last error containing each of the (up to 3) substrings. */
#define CHECK_ERR(expr, status, s1, s2, s3) do { \
        fk_error_clear(); \
        fk_status got_ = (expr); \
        const char *subs_[3] = { (s1), (s2), (s3) }; \
        if (got_ != (status)) { \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (message: %s)\n", __FILE__, \
                __LINE__, #expr, fk_status_name(got_), fk_status_name(status), fk_last_error()); \
            t_failures++; \
        } \
        for (int i_ = 0; i_ < 3; i_++) { \
            if (subs_[i_] && !strstr(fk_last_error(), subs_[i_])) { \
                fprintf(stderr, "%s:%d: message of %s lacks \"%s\": %s\n", __FILE__, __LINE__, \
                    #expr, subs_[i_], fk_last_error()); \
                t_failures++; \
            } \
        } \
    } while (0)

static char t_dir[512];

/* Fresh directory under $TMPDIR (or /tmp). */
static void t_mkdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(t_dir, sizeof t_dir, "%s/figkd-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(t_dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

/* Path of name inside the test directory (rotating static buffers). */
static const char *t_path(const char *name)
{
    static char bufs[8][600];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", t_dir, name);
    return b;
}

static void t_write(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(buf, 1, n, f) != n) || fclose(f)) {
        perror(path);
        exit(1);
    }
}

/* Whole file into a fresh buffer (NULL if it cannot be read). */
static unsigned char *t_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Number of entries in dir whose name contains sub. */
static int t_count_files(const char *dir, const char *sub)
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

/* Remove the test directory and the plain files in it. */
static void t_rmdir(void)
{
    DIR *d = opendir(t_dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlink(t_path(e->d_name));
        closedir(d);
    }
    rmdir(t_dir);
}

static int t_finish(const char *name)
{
    if (t_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, t_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
