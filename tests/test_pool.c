/* Max, average and global average pooling against PyTorch
 * (tests/ref/gen_pool.py), plus finite-difference gradient checks on tiny
 * shapes. Outputs start as NaN, gradients as non-zero values; guards
 * around every buffer. */
#include "op_fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerances (atol, rtol):
 * - max forward picks one of the inputs: exact;
 * - max backward adds at most ceil(k/s)^2 float32 gradients onto g0:
 *   a few roundings;
 * - average: sums of up to k*k floats (or H*W for the global pool), then a
 *   division, against a float64 reference: ~ k*k * 2^-24 relative, and
 *   absolute where terms cancel. */
typedef struct {
    double atol, rtol;
} tol;
static const tol TOL_MAX_FWD = {0.0, 0.0}, TOL_MAX_BWD = {1e-6, 1e-6}, TOL_AVG = {1e-6, 2e-6};

static void run_case(fk_runtime *rt, const fk_st_file *f, int c)
{
    long long cfg[4] = {0};
    fx_cfg(f, c, cfg, 4);
    int kind = (int)cfg[0], k = (int)cfg[1], s = (int)cfg[2], p = (int)cfg[3];
    int xd[4], yd[4];
    size_t nx, ny;
    const float *x = fx_get(f, c, "x", &nx), *y = fx_get(f, c, "y", &ny), *dy = fx_get(f, c, "dy", NULL),
                *dx = fx_get(f, c, "dx", NULL);
    if (!x || !y || !dy || !dx || fx_dims(f, c, "x", xd) != 4 || fx_dims(f, c, "y", yd) != 4)
        return;
    static const char *names[] = {"maxpool", "avgpool", "gap"};
    const char *name = names[kind];
    fk_pool_dims d = {0};
    if (kind != 2) {
        fk_status st = fk_pool_dims_init(&d, xd[0], xd[1], xd[2], xd[3], k, s, p);
        CHECK(st == FK_OK, "c%d: dims: %s", c, fk_last_error());
        CHECK(d.h_out == yd[2] && d.w_out == yd[3], "c%d %s: output %dx%d, PyTorch %dx%d", c, name, d.h_out,
              d.w_out, yd[2], yd[3]);
        if (st != FK_OK || d.h_out != yd[2] || d.w_out != yd[3])
            return;
    }
    float *g0 = malloc(nx * sizeof *g0);
    fk_test_fill_uniform(g0, nx, 7 + (unsigned)c, -0.5f, 0.5f);
    fx_buf bx, by, bdy, bdx;
    fx_bufs_create(rt, (fx_spec[]){{&bx, nx, x, 0}, {&by, ny, NULL, NAN}, {&bdy, ny, dy, 0}, {&bdx, nx, g0, 0}}, 4);
    fk_status st;
    int hw = xd[2] * xd[3];
    if (kind == 0) {
        st = fk_maxpool_forward(rt, by.t, bx.t, &d);
        st = st ? st : fk_maxpool_backward(rt, bdx.t, bdy.t, bx.t, &d);
    } else if (kind == 1) {
        st = fk_avgpool_forward(rt, by.t, bx.t, &d);
        st = st ? st : fk_avgpool_backward(rt, bdx.t, bdy.t, &d);
    } else {
        st = fk_gap_forward(rt, by.t, bx.t, xd[0], xd[1], hw);
        st = st ? st : fk_gap_backward(rt, bdx.t, bdy.t, xd[0], xd[1], hw);
    }
    CHECK(st == FK_OK, "c%d %s: %s", c, name, fk_last_error());
    char what[128];
    snprintf(what, sizeof what, "c%d %s k%d s%d p%d (%d,%d,%d,%d) forward", c, name, k, s, p, xd[0], xd[1],
             xd[2], xd[3]);
    tol fwd = kind == 0 ? TOL_MAX_FWD : TOL_AVG;
    fx_buf_check(&by, y, what, fwd.atol, fwd.rtol);
    snprintf(what, sizeof what, "c%d %s k%d s%d p%d (%d,%d,%d,%d) backward dx", c, name, k, s, p, xd[0], xd[1],
             xd[2], xd[3]);
    tol bwd = kind == 0 ? TOL_MAX_BWD : TOL_AVG;
    fx_buf_check_added(&bdx, g0, dx, what, bwd.atol, bwd.rtol);
    free(g0);
    fx_buf_free(&bx), fx_buf_free(&by), fx_buf_free(&bdy), fx_buf_free(&bdx);
}

/* L = sum(w * pool(x)); compare dL/dx from backward with central
 * differences. Input values are a shuffled grid with spacing 0.1 so that a
 * step of 0.01 never changes which element is the maximum: the difference
 * quotient is then exact up to float rounding. */
static void finite_difference(fk_runtime *rt, int max)
{
    fk_pool_dims d;
    if (fk_pool_dims_init(&d, 1, 2, 5, 6, 3, 2, 1) != FK_OK)
        return;
    size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = (size_t)d.n * d.c * d.h_out * d.w_out;
    float *x = malloc(nx * sizeof *x), *w = malloc(ny * sizeof *w), *y = malloc(ny * sizeof *y),
          *g = malloc(nx * sizeof *g);
    for (size_t i = 0; i < nx; i++)
        x[i] = 0.1f * (float)((i * 37) % nx) - 2.0f;
    fk_test_fill_uniform(w, ny, 99, -1, 1);
    fx_buf bx, by, bw, bg;
    fx_bufs_create(rt, (fx_spec[]){{&bx, nx, x, 0}, {&by, ny, NULL, 0}, {&bw, ny, w, 0}, {&bg, nx, NULL, 0}}, 4);
    fk_status st = max ? fk_maxpool_backward(rt, bg.t, bw.t, bx.t, &d) : fk_avgpool_backward(rt, bg.t, bw.t, &d);
    CHECK(st == FK_OK, "fd backward: %s", fk_last_error());
    fx_buf_read(&bg, g, "fd grad");
    const float h = 0.01f;
    float *fd = malloc(nx * sizeof *fd);
    for (size_t i = 0; i < nx; i++) {
        double l[2];
        for (int side = 0; side < 2; side++) {
            float v = x[i] + (side ? -h : h);
            fk_buffer_write(rt, bx.mem, (FX_GUARD + i) * sizeof(float), sizeof v, &v);
            st = max ? fk_maxpool_forward(rt, by.t, bx.t, &d) : fk_avgpool_forward(rt, by.t, bx.t, &d);
            fx_buf_read(&by, y, "fd forward");
            l[side] = 0;
            for (size_t j = 0; j < ny; j++)
                l[side] += (double)w[j] * y[j];
        }
        fk_buffer_write(rt, bx.mem, (FX_GUARD + i) * sizeof(float), sizeof x[i], &x[i]);
        fd[i] = (float)((l[0] - l[1]) / (2.0 * h));
    }
    /* float32 rounding of x +- h (~1e-7 absolute) divided by 2h: ~1e-5 */
    size_t bad = fk_test_close(max ? "maxpool finite differences" : "avgpool finite differences", g, fd, nx,
                               1e-4, 1e-3);
    CHECK(bad == 0, "%s finite differences", max ? "maxpool" : "avgpool");
    free(x), free(w), free(y), free(g), free(fd);
    fx_buf_free(&bx), fx_buf_free(&by), fx_buf_free(&bw), fx_buf_free(&bg);
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    fx_run_cases(rt, f, 16, run_case);
    finite_difference(rt, 1);
    finite_difference(rt, 0);
    fk_pool_dims d;
    fk_error_quiet(1);
    CHECK(fk_pool_dims_init(&d, 1, 1, 4, 4, 3, 2, 2) == FK_ERR_ARG, "pad above half the kernel refused");
    CHECK(fk_pool_dims_init(&d, 1, 1, 2, 2, 5, 1, 1) == FK_ERR_ARG, "kernel above the padded input refused");
    CHECK(fk_pool_dims_init(&d, 1, 1, 32, 32, 3, 2, 1) == FK_OK && d.h_out == 16 && d.w_out == 16,
          "ResNet stem pool 32 -> 16");
}

int main(void) { return fk_test_main("test_pool", "pool.safetensors", run); }
