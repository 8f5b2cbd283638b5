/* ReLU, residual add, concat, split and channel shuffle against PyTorch
 * (tests/ref/gen_tensor_ops.py): forward outputs (buffers start as NaN, so
 * a missed element shows), gradients added onto non-zero buffers, guards
 * around every output. */
#include "op_fixture.h"

#include <math.h>
#include <stdlib.h>

/* Tolerances: the ops only move or add float32 values; a sum of two floats
 * is exact after one rounding both here and in the reference. */
#define TOL_EXACT 0.0, 0.0
#define TOL_ADD 0.0, 1e-7   /* g0 + grad rounded once on either side */

/* Gradient buffers start at non-zero values (fk_test_uniform) so that "adds
 * into" is checked. */
static void run_case(fk_runtime *rt, const fk_st_file *f, int c)
{
    long long cfg[6] = {0};
    fx_cfg(f, c, cfg, 6);
    int kind = (int)cfg[0], n = (int)cfg[1], ch = (int)cfg[2], hw = (int)(cfg[3] * cfg[4]), extra = (int)cfg[5];
    size_t total = (size_t)n * (size_t)ch * (size_t)hw;
    char what[96];
    fk_status st = FK_OK;
    if (kind == 0 || kind == 4) { /* relu, shuffle: x -> y */
        const float *x = fx_get(f, c, "x", NULL), *y = fx_get(f, c, "y", NULL), *dy = fx_get(f, c, "dy", NULL),
                    *dx = fx_get(f, c, "dx", NULL);
        if (!x || !y || !dy || !dx)
            return;
        float *g0 = fk_test_uniform(total, 100 + (unsigned)c, -0.5f, 0.5f);
        fx_buf bx, by, bdy, bdx;
        fx_bufs_create(rt, (fx_spec[]){{&bx, total, x, 0}, {&by, total, NULL, NAN}, {&bdy, total, dy, 0},
                                       {&bdx, total, g0, 0}}, 4);
        const char *name = kind == 0 ? "relu" : "shuffle";
        if (kind == 0) {
            st = fk_relu_forward(rt, by.t, bx.t, total);
            st = st ? st : fk_relu_backward(rt, bdx.t, bdy.t, by.t, total);
        } else {
            st = fk_shuffle_forward(rt, by.t, bx.t, n, ch, extra, hw);
            st = st ? st : fk_shuffle_backward(rt, bdx.t, bdy.t, n, ch, extra, hw);
        }
        CHECK(st == FK_OK, "c%d %s: %s", c, name, fk_last_error());
        snprintf(what, sizeof what, "c%d %s forward", c, name);
        fx_buf_check(&by, y, what, TOL_EXACT);
        snprintf(what, sizeof what, "c%d %s backward dx", c, name);
        fx_buf_check_added(&bdx, g0, dx, what, TOL_ADD);
        if (kind == 0) { /* in place: out aliases in */
            st = fk_relu_forward(rt, bx.t, bx.t, total);
            CHECK(st == FK_OK, "c%d relu in place: %s", c, fk_last_error());
            snprintf(what, sizeof what, "c%d relu in place", c);
            fx_buf_check(&bx, y, what, TOL_EXACT);
        }
        fx_buf_free(&bx), fx_buf_free(&by), fx_buf_free(&bdy), fx_buf_free(&bdx);
        free(g0);
    } else if (kind == 1) { /* add */
        const float *a = fx_get(f, c, "a", NULL), *b = fx_get(f, c, "b", NULL), *y = fx_get(f, c, "y", NULL),
                    *dy = fx_get(f, c, "dy", NULL);
        if (!a || !b || !y || !dy)
            return;
        float *g0 = fk_test_uniform(total, 200 + (unsigned)c, -0.5f, 0.5f);
        fx_buf ba, bb, by, bdy, bda;
        fx_bufs_create(rt, (fx_spec[]){{&ba, total, a, 0}, {&bb, total, b, 0}, {&by, total, NULL, NAN},
                                       {&bdy, total, dy, 0}, {&bda, total, g0, 0}}, 5);
        st = fk_add_forward(rt, by.t, ba.t, bb.t, total);
        /* both inputs' gradients land in one buffer (a tensor used twice) */
        st = st ? st : fk_add_backward(rt, bda.t, bdy.t, total);
        st = st ? st : fk_add_backward(rt, bda.t, bdy.t, total);
        CHECK(st == FK_OK, "c%d add: %s", c, fk_last_error());
        snprintf(what, sizeof what, "c%d add forward", c);
        fx_buf_check(&by, y, what, 0.0, 1e-7);
        float *want = malloc(total * sizeof *want);
        for (size_t i = 0; i < total; i++)
            want[i] = (g0[i] + dy[i]) + dy[i];
        snprintf(what, sizeof what, "c%d add backward twice", c);
        fx_buf_check(&bda, want, what, TOL_EXACT);
        free(want);
        fx_buf_free(&ba), fx_buf_free(&bb), fx_buf_free(&by), fx_buf_free(&bdy), fx_buf_free(&bda);
        free(g0);
    } else if (kind == 2 || kind == 3) { /* concat (a, b) -> y; split x -> (a, b) */
        int ca = extra, cb = ch - extra;
        size_t na = (size_t)n * (size_t)ca * (size_t)hw, nb = (size_t)n * (size_t)cb * (size_t)hw;
        const float *a = fx_get(f, c, "a", NULL), *b = fx_get(f, c, "b", NULL), *da = fx_get(f, c, "da", NULL),
                    *db = fx_get(f, c, "db", NULL);
        const float *whole = fx_get(f, c, kind == 2 ? "y" : "x", NULL);
        const float *dwhole = fx_get(f, c, kind == 2 ? "dy" : "dx", NULL);
        if (!a || !b || !da || !db || !whole || !dwhole)
            return;
        float *ga = fk_test_uniform(na, 300 + (unsigned)c, -0.5f, 0.5f);
        float *gb = fk_test_uniform(nb, 400 + (unsigned)c, -0.5f, 0.5f);
        float *gx = fk_test_uniform(total, 500 + (unsigned)c, -0.5f, 0.5f);
        fx_buf bw, bdw, ba, bb, bda, bdb;
        if (kind == 2) {
            fx_bufs_create(rt, (fx_spec[]){{&ba, na, a, 0}, {&bb, nb, b, 0}, {&bw, total, NULL, NAN},
                                           {&bdw, total, dwhole, 0}, {&bda, na, ga, 0}, {&bdb, nb, gb, 0}}, 6);
            st = fk_concat_forward(rt, bw.t, ba.t, bb.t, n, ca, cb, hw);
            st = st ? st : fk_concat_backward(rt, &bda.t, &bdb.t, bdw.t, n, ca, cb, hw);
            /* NULL gradients are skipped */
            st = st ? st : fk_concat_backward(rt, NULL, NULL, bdw.t, n, ca, cb, hw);
            CHECK(st == FK_OK, "c%d concat: %s", c, fk_last_error());
            snprintf(what, sizeof what, "c%d concat forward", c);
            fx_buf_check(&bw, whole, what, TOL_EXACT);
            snprintf(what, sizeof what, "c%d concat backward da", c);
            fx_buf_check_added(&bda, ga, da, what, TOL_ADD);
            snprintf(what, sizeof what, "c%d concat backward db", c);
            fx_buf_check_added(&bdb, gb, db, what, TOL_ADD);
        } else {
            fx_bufs_create(rt, (fx_spec[]){{&bw, total, whole, 0}, {&bdw, total, gx, 0}, {&ba, na, NULL, NAN},
                                           {&bb, nb, NULL, NAN}, {&bda, na, da, 0}, {&bdb, nb, db, 0}}, 6);
            st = fk_split_forward(rt, ba.t, bb.t, bw.t, n, ca, cb, hw);
            st = st ? st : fk_split_backward(rt, bdw.t, &bda.t, &bdb.t, n, ca, cb, hw);
            st = st ? st : fk_split_backward(rt, bdw.t, NULL, NULL, n, ca, cb, hw);
            CHECK(st == FK_OK, "c%d split: %s", c, fk_last_error());
            snprintf(what, sizeof what, "c%d split forward a", c);
            fx_buf_check(&ba, a, what, TOL_EXACT);
            snprintf(what, sizeof what, "c%d split forward b", c);
            fx_buf_check(&bb, b, what, TOL_EXACT);
            snprintf(what, sizeof what, "c%d split backward dx", c);
            fx_buf_check_added(&bdw, gx, dwhole, what, TOL_ADD);
        }
        fx_buf_free(&bw), fx_buf_free(&bdw), fx_buf_free(&ba), fx_buf_free(&bb), fx_buf_free(&bda),
            fx_buf_free(&bdb);
        free(ga), free(gb), free(gx);
    } else {
        CHECK(0, "c%d: unknown kind %d", c, kind);
    }
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    fx_run_cases(rt, f, 11, run_case);
    fk_error_quiet(1);
    cl_mem m;
    if (fk_buffer_create(rt, 64, 0, &m) == FK_OK) {
        fk_tensor t = {.buf = m};
        CHECK(fk_shuffle_forward(rt, t, t, 1, 6, 4, 1) == FK_ERR_ARG, "6 channels in 4 groups refused");
        clReleaseMemObject(m);
    }
}

int main(void) { return fk_test_main("test_tensor_ops", "tensor_ops.safetensors", run); }
