/* Helpers of test_loss.c and test_dwt.c: fixture files from tests/ref/ and
 * device buffers with guard elements around the data. */
#ifndef FIGKD_TESTS_LOSS_FIXTURE_H
#define FIGKD_TESTS_LOSS_FIXTURE_H

#include "common.h"
#include "figkd/io.h"

#include <stdlib.h>
#include <string.h>

#define GUARD 13             /* elements before and after every output */
#define SENTINEL -12345.678f /* their value; any write there is caught */

/* $FIGKD_SOURCE_ROOT/tests/ref/fixtures/<name> (the source tree otherwise) */
static inline int fixture_read(const char *name, fk_st_file *f)
{
    const char *root = getenv("FIGKD_SOURCE_ROOT");
    char path[2048];
    snprintf(path, sizeof path, "%s/tests/ref/fixtures/%s", root ? root : ".", name);
    if (fk_st_read(path, f) != FK_OK) {
        fprintf(stderr, "cannot read fixture %s: %s\n", path, fk_last_error());
        return -1;
    }
    return 0;
}

/* A float32 tensor of the fixture, NULL (a failed check) when missing. */
static inline const float *fixture_f32(const fk_st_file *f, const char *name, size_t *count)
{
    const fk_st_tensor *t = fk_st_find(f, name);
    CHECK(t && t->dtype == FK_DT_F32, "fixture tensor %s missing or not F32", name);
    if (!t || t->dtype != FK_DT_F32)
        return NULL;
    if (count)
        *count = t->nbytes / 4;
    return t->data;
}

/* A device buffer of GUARD + n + GUARD floats: the guards hold SENTINEL,
 * the middle n elements `data` (or SENTINEL when data is NULL). */
static inline cl_mem guarded_upload(fk_runtime *rt, const float *data, size_t n)
{
    size_t total = n + 2 * GUARD;
    float *h = malloc(total * sizeof *h);
    for (size_t i = 0; i < total; i++)
        h[i] = SENTINEL;
    if (data)
        memcpy(h + GUARD, data, n * sizeof *h);
    cl_mem b = NULL;
    fk_status st = fk_buffer_create(rt, total * sizeof *h, 0, &b);
    if (st == FK_OK)
        st = fk_buffer_write(rt, b, 0, total * sizeof *h, h);
    CHECK(st == FK_OK, "upload of %zu floats: %s", n, fk_last_error());
    free(h);
    return st == FK_OK ? b : NULL;
}

/* Read the n floats after the guard into out (n floats) and check that the
 * guards still hold SENTINEL; returns 0 when all is well. */
static inline int guarded_read(fk_runtime *rt, cl_mem b, size_t n, float *out, const char *what)
{
    size_t total = n + 2 * GUARD;
    float *h = malloc(total * sizeof *h);
    fk_status st = fk_buffer_read(rt, b, 0, total * sizeof *h, h);
    CHECK(st == FK_OK, "%s: read: %s", what, fk_last_error());
    int bad = st != FK_OK;
    for (size_t i = 0; !bad && i < GUARD; i++)
        if (h[i] != SENTINEL || h[GUARD + n + i] != SENTINEL) {
            CHECK(0, "%s: guard element overwritten (%s, %zu)", what, h[i] != SENTINEL ? "before" : "after", i);
            bad = 1;
        }
    memcpy(out, h + GUARD, n * sizeof *h);
    free(h);
    return bad;
}

static inline fk_tensor tensor_at(cl_mem b, size_t off, int d0, int d1)
{
    fk_tensor t = {b, off, 2, {d0, d1, 1, 1}};
    return t;
}

#endif
