/* The harness of the C tests: checks that count failures, a runtime or a
 * skip, float comparison with explicit tolerances that names the worst
 * element, PyTorch fixtures from tests/ref/fixtures, device buffers, and a
 * private temporary directory with whole-file helpers. Device-op fixtures
 * (cases c0, c1, ... and guarded tensors) are the layer above, op_fixture.h. */
#ifndef FIGKD_TESTS_COMMON_H
#define FIGKD_TESTS_COMMON_H

#include "figkd/io.h"
#include "figkd/runtime.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define FK_TEST_SKIP 77

/* ---- checks ----------------------------------------------------------------- */

/* Count failures: CHECK(cond, fmt, ...) prints file:line, the condition and
 * the message. */
extern int fk_test_failures;
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            fk_test_failures++;                                                \
        }                                                                      \
    } while (0)

/* expr returns status and the last error contains each of the (up to 3,
 * NULL for none) substrings; the last error is cleared first. */
#define CHECK_ERR(expr, status, s1, s2, s3)                                    \
    do {                                                                       \
        fk_error_clear();                                                      \
        fk_status got_ = (expr);                                               \
        fk_test_check_err(__FILE__, __LINE__, #expr, got_, (status), (s1), (s2), (s3)); \
    } while (0)
void fk_test_check_err(const char *file, int line, const char *expr, fk_status got, fk_status want,
                       const char *s1, const char *s2, const char *s3);

/* Exit status of a test: 0 when no CHECK failed, 1 otherwise. */
int fk_test_result(const char *name);

/* A device test's main: a runtime (or FK_TEST_SKIP), the fixture file when
 * fixture is not NULL (1 when it cannot be read), body(rt, file), then
 * fk_test_result(name). */
int fk_test_main(const char *name, const char *fixture, void (*body)(fk_runtime *rt, const fk_st_file *f));

/* A test of a program that holds several, run by name. */
typedef struct fk_test_named {
    const char *name;
    void (*fn)(void);
} fk_test_named;
/* The main of such a program, `name DIR TEST`: *dir = DIR, then the test
 * called TEST among the count in tests, then fk_test_result(TEST); 2 for
 * other arguments or an unknown test. */
int fk_test_main_named(int argc, char **argv, const char *name, const char **dir, const fk_test_named *tests,
                       size_t count);

/* ---- numbers ---------------------------------------------------------------- */

/* Pass when |got - ref| <= atol + rtol * |ref| for every element; NaN or
 * Inf in got (where ref is finite) never passes. Prints the worst element
 * (index, got, ref, excess) on failure, counts it as a failed check
 * (fk_test_result) and returns the number of bad elements (0 = pass). */
size_t fk_test_close(const char *what, const float *got, const float *ref, size_t n,
                     double atol, double rtol);

/* A row of a test's tolerance table. */
typedef struct fk_test_tol {
    const char *what;
    double atol, rtol;
} fk_test_tol;
/* The row named what (prefix: the first row whose name starts what), or
 * NULL. */
const fk_test_tol *fk_test_tol_find(const fk_test_tol *table, size_t n, const char *what, bool prefix);

/* Deterministic uniform floats in [lo, hi). */
void fk_test_fill_uniform(float *x, size_t n, unsigned seed, float lo, float hi);
/* The same into a fresh allocation (free it). */
float *fk_test_uniform(size_t n, unsigned seed, float lo, float hi);

/* ---- device ----------------------------------------------------------------- */

/* A runtime on the device FIGKD_DEVICE selects; returns 0, or FK_TEST_SKIP
 * (printing why) when this machine has no OpenCL device at all. Any other
 * failure is a test failure (returns 1). */
int fk_test_runtime(fk_runtime **rt);
/* Upload floats to a new device buffer; 0 on success. */
int fk_test_upload(fk_runtime *rt, const float *x, size_t n, cl_mem *out);
/* n floats of t (from its offset) in a fresh allocation (NULL, with a
 * failed check, when the read fails). */
float *fk_test_download(fk_runtime *rt, fk_tensor t, size_t n);

/* ---- fixtures ----------------------------------------------------------------- */

/* The path of rel (e.g. "docs/config.md") in the source tree,
 * $FIGKD_SOURCE_ROOT (set by meson; the current directory otherwise), in buf. */
const char *fk_test_source_path(const char *rel, char *buf, size_t size);
/* Load tests/ref/fixtures/<name> (under $FIGKD_SOURCE_ROOT, set by meson);
 * returns 0 or prints why and returns 1. */
int fk_test_fixture(const char *name, fk_st_file *out);
/* A fixture tensor as float32 (NULL, with a failed check, when missing). */
const float *fk_test_tensor(const fk_st_file *f, const char *name, size_t *count);

/* ---- files -------------------------------------------------------------------- */

/* A fresh directory under $TMPDIR (or /tmp) named after tag; exits on
 * failure. Its path is fk_test_dir(). */
void fk_test_mkdir(const char *tag);
const char *fk_test_dir(void);
/* Path of name inside the test directory (8 rotating static buffers). */
const char *fk_test_path(const char *name);
/* Write n bytes to path (exits on failure). */
void fk_test_write(const char *path, const void *buf, size_t n);
/* Whole file into a fresh NUL-terminated buffer, *n its length (NULL if it
 * cannot be read; n may be NULL). */
unsigned char *fk_test_read(const char *path, size_t *n);
/* Number of entries in dir whose name contains sub (-1 if dir is unreadable). */
int fk_test_count_files(const char *dir, const char *sub);
/* Remove the test directory and everything in it. */
void fk_test_rmdir(void);

#endif
