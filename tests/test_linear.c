/* Linear layer (fk_gemm + bias kernels) against PyTorch
 * (tests/ref/gen_linear.py): output (buffer starts as NaN: GEMM with
 * beta = 0 must not read it), dx, dweight, dbias added onto non-zero
 * buffers, NULL gradients skipped, guards around every buffer. */
#include "op_fixture.h"

#include <math.h>
#include <stdlib.h>

/* Tolerances: dot products of up to 130 (forward, dx: O terms; dweight: N
 * terms) float32 products of numbers below 1 against float64: error grows
 * like sqrt(terms) * 2^-24 relative to the sum of |terms|, which can be far
 * above the result where terms cancel: an absolute term carries it. */
#define TOL_GEMM 2e-6, 1e-5


static void run_case(fk_runtime *rt, const fk_st_file *f, int c)
{
    long long cfg[4] = {0};
    fx_cfg(f, c, cfg, 4);
    int n = (int)cfg[0], in_f = (int)cfg[1], out_f = (int)cfg[2], has_bias = (int)cfg[3];
    size_t nx = (size_t)n * in_f, nw = (size_t)out_f * in_f, ny = (size_t)n * out_f;
    const float *x = fx_get(f, c, "x", NULL), *w = fx_get(f, c, "weight", NULL), *y = fx_get(f, c, "y", NULL),
                *dy = fx_get(f, c, "dy", NULL), *dx = fx_get(f, c, "dx", NULL),
                *dw = fx_get(f, c, "dweight", NULL);
    const float *b = has_bias ? fx_get(f, c, "bias", NULL) : NULL, *db = has_bias ? fx_get(f, c, "dbias", NULL) : NULL;
    if (!x || !w || !y || !dy || !dx || !dw || (has_bias && (!b || !db)))
        return;
    float *g0x = malloc(nx * 4), *g0w = malloc(nw * 4), *g0b = malloc((size_t)out_f * 4);
    fk_test_fill_uniform(g0x, nx, 11 + (unsigned)c, -0.5f, 0.5f);
    fk_test_fill_uniform(g0w, nw, 12 + (unsigned)c, -0.5f, 0.5f);
    fk_test_fill_uniform(g0b, (size_t)out_f, 13 + (unsigned)c, -0.5f, 0.5f);
    fx_buf bx, bw, bb, by, bdy, bdx, bdw, bdb;
    fx_bufs_create(rt, (fx_spec[]){{&bx, nx, x, 0}, {&bw, nw, w, 0}, {&bb, (size_t)out_f, b, 0},
                                   {&by, ny, NULL, NAN}, {&bdy, ny, dy, 0}, {&bdx, nx, g0x, 0},
                                   {&bdw, nw, g0w, 0}, {&bdb, (size_t)out_f, g0b, 0}}, 8);
    fk_status st = fk_linear_forward(rt, by.t, bx.t, bw.t, has_bias ? &bb.t : NULL, n, in_f, out_f);
    st = st ? st
            : fk_linear_backward(rt, &bdx.t, &bdw.t, has_bias ? &bdb.t : NULL, bdy.t, bx.t, bw.t, n, in_f, out_f);
    /* every gradient NULL: nothing happens */
    st = st ? st : fk_linear_backward(rt, NULL, NULL, NULL, bdy.t, bx.t, bw.t, n, in_f, out_f);
    CHECK(st == FK_OK, "c%d linear: %s", c, fk_last_error());
    char what[128];
    snprintf(what, sizeof what, "c%d linear (%d x %d -> %d%s) forward", c, n, in_f, out_f, has_bias ? ", bias" : "");
    fx_buf_check(&by, y, what, TOL_GEMM);
    snprintf(what, sizeof what, "c%d linear dx", c);
    fx_buf_check_added(&bdx, g0x, dx, what, TOL_GEMM);
    snprintf(what, sizeof what, "c%d linear dweight", c);
    fx_buf_check_added(&bdw, g0w, dw, what, TOL_GEMM);
    snprintf(what, sizeof what, "c%d linear dbias", c);
    if (has_bias)
        fx_buf_check_added(&bdb, g0b, db, what, TOL_GEMM);
    else
        fx_buf_check(&bdb, g0b, what, 0.0, 0.0); /* untouched */
    free(g0x), free(g0w), free(g0b);
    fx_buf_free(&bx), fx_buf_free(&bw), fx_buf_free(&bb), fx_buf_free(&by), fx_buf_free(&bdy), fx_buf_free(&bdx),
        fx_buf_free(&bdw), fx_buf_free(&bdb);
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    fx_run_cases(rt, f, 5, run_case);
}

int main(void) { return fk_test_main("test_linear", "linear.safetensors", run); }
