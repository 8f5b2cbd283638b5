/* figkd-cl: status codes and error reporting shared by every module.
 *
 * Library functions return an fk_status; only main() and tests exit.
 * fk_error() formats a message, keeps it as the thread's last error (for
 * tests and callers that add context) and prints it to stderr unless
 * reporting is muted with fk_error_quiet(1). */
#ifndef FIGKD_COMMON_H
#define FIGKD_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum fk_status {
    FK_OK = 0,
    FK_ERR_ARG,      /* bad argument, config value or command line */
    FK_ERR_IO,       /* a file could not be opened, read or written */
    FK_ERR_FORMAT,   /* a file is truncated, corrupt or of the wrong kind */
    FK_ERR_NOMEM,    /* host memory */
    FK_ERR_CL,       /* an OpenCL call failed */
    FK_ERR_BLAS,     /* a CLBlast call failed */
    FK_ERR_DEVICE,   /* no device, or no device matching FIGKD_DEVICE */
    FK_ERR_BUILD,    /* an OpenCL program failed to build */
    FK_ERR_NUMERIC,  /* NaN or Inf where a finite number is required */
    FK_ERR_INTERRUPTED, /* SIGINT/SIGTERM */
} fk_status;

/* Name of a status, e.g. "FK_ERR_IO". */
const char *fk_status_name(fk_status s);

#if defined(__GNUC__)
#define FK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FK_PRINTF(a, b)
#endif

/* Record (and unless muted, print) an error; returns s so that
 * `return fk_error(FK_ERR_IO, "%s: cannot open", path);` reads naturally. */
fk_status fk_error(fk_status s, const char *fmt, ...) FK_PRINTF(2, 3);
/* Last error message of this thread ("" if none). */
const char *fk_last_error(void);
void fk_error_clear(void);
/* 1 mutes printing to stderr (messages are still kept); returns the old value. */
int fk_error_quiet(int quiet);

/* Checked allocation helpers: return NULL after reporting FK_ERR_NOMEM. */
void *fk_malloc(size_t n);
void *fk_calloc(size_t count, size_t size);

/* Strict number parsing (strtol/strtod with end-pointer check, range check).
 * Return 0 on success, -1 if text is not entirely a number in range. */
int fk_parse_long(const char *text, long *out);
int fk_parse_double(const char *text, double *out);

/* Seconds on a monotonic clock (for timing, not dates). */
double fk_seconds(void);

/* mkdir -p: create path and its missing parents; 0 on success. */
int fk_mkdirs(const char *path);

#endif
