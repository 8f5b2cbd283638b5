/* Status names, the per-thread last error, checked allocation, number
 * parsing, a monotonic clock and mkdir -p: what every module shares. */
#include "figkd/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static _Thread_local char last_error[2048];
static int quiet_flag;

const char *fk_status_name(fk_status s)
{
    switch (s) {
    case FK_OK: return "FK_OK";
    case FK_ERR_ARG: return "FK_ERR_ARG";
    case FK_ERR_IO: return "FK_ERR_IO";
    case FK_ERR_FORMAT: return "FK_ERR_FORMAT";
    case FK_ERR_NOMEM: return "FK_ERR_NOMEM";
    case FK_ERR_CL: return "FK_ERR_CL";
    case FK_ERR_BLAS: return "FK_ERR_BLAS";
    case FK_ERR_DEVICE: return "FK_ERR_DEVICE";
    case FK_ERR_BUILD: return "FK_ERR_BUILD";
    case FK_ERR_NUMERIC: return "FK_ERR_NUMERIC";
    case FK_ERR_INTERRUPTED: return "FK_ERR_INTERRUPTED";
    }
    return "FK_ERR_UNKNOWN";
}

fk_status fk_error(fk_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (!quiet_flag)
        fprintf(stderr, "figkd-cl: error: %s\n", last_error);
    return s;
}

const char *fk_last_error(void) { return last_error; }
void fk_error_clear(void) { last_error[0] = '\0'; }

int fk_error_quiet(int quiet)
{
    int old = quiet_flag;
    quiet_flag = quiet;
    return old;
}

void *fk_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        fk_error(FK_ERR_NOMEM, "out of host memory allocating %zu bytes", n);
    return p;
}

void *fk_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        fk_error(FK_ERR_NOMEM, "out of host memory allocating %zu x %zu bytes", count, size);
    return p;
}

int fk_parse_long(const char *text, long *out)
{
    char *end;
    if (!text || !*text)
        return -1;
    errno = 0;
    long v = strtol(text, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int fk_parse_double(const char *text, double *out)
{
    char *end;
    if (!text || !*text)
        return -1;
    errno = 0;
    double v = strtod(text, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno == ERANGE || *end || end == text)
        return -1;
    *out = v;
    return 0;
}

double fk_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int fk_mkdirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}
