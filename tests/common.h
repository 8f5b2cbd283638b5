/* Shared helpers of the C tests: a runtime or a skip, float comparison with
 * explicit tolerances that names the worst element, and checks. */
#ifndef FIGKD_TESTS_COMMON_H
#define FIGKD_TESTS_COMMON_H

#include "figkd/runtime.h"

#include <stdio.h>

#define FK_TEST_SKIP 77

/* A runtime on the device FIGKD_DEVICE selects; returns 0, or FK_TEST_SKIP
 * (printing why) when this machine has no OpenCL device at all. Any other
 * failure is a test failure (returns 1). */
int fk_test_runtime(fk_runtime **rt);

/* Pass when |got - ref| <= atol + rtol * |ref| for every element; NaN or
 * Inf in got (where ref is finite) never passes. Prints the worst element
 * (index, got, ref, excess) on failure and returns the number of bad
 * elements (0 = pass). */
size_t fk_test_close(const char *what, const float *got, const float *ref, size_t n,
                     double atol, double rtol);

/* Count failures: CHECK(cond, fmt, ...) prints file:line and the message. */
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

/* Deterministic uniform floats in [lo, hi). */
void fk_test_fill_uniform(float *x, size_t n, unsigned seed, float lo, float hi);

/* Exit status of a test: 0 when no CHECK failed, 1 otherwise. */
int fk_test_result(const char *name);

#include "figkd/io.h"

/* Load tests/ref/fixtures/<name> (under $FIGKD_SOURCE_ROOT, set by meson);
 * returns 0 or prints why and returns 1. */
int fk_test_fixture(const char *name, fk_st_file *out);
/* A fixture tensor as float32 (NULL, with a message, when missing). */
const float *fk_test_tensor(const fk_st_file *f, const char *name, size_t *count);
/* Upload floats to a new device buffer. */
int fk_test_upload(fk_runtime *rt, const float *x, size_t n, cl_mem *out);

#endif
