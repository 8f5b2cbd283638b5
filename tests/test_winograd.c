/* The Winograd F(2x2, 3x3) path of conv2d (cl/winograd.cl) and the fused
 * inference forward (fk_conv_forward_fused) against the plain column path
 * of the same device (FIGKD_WINOGRAD off), on shapes with even and odd
 * sides, with and without bias: forward, the data gradient (added into a
 * prefilled din) and the weight gradient; again in the work the device's
 * path asks for one sample (several chunks: Winograd and, on CPU devices,
 * the weight gradient of cl/conv_wgrad.cl); the fused forward with bias, residual and ReLU
 * against conv + bias, add and ReLU. Guards around every output. The
 * tolerances are test_conv.c's: both paths sum the same products in
 * float32, Winograd after transforms with coefficients 1 and 1/2. */
#include "op_fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double ATOL = 2e-5, RTOL = 1e-4;      /* test_conv.c's "out" and "din" */
static const double ATOL_DW = 1e-4, RTOL_DW = 1e-4; /* its "dweight" */

typedef struct shape {
    const char *name;
    int n, c_in, h, w, c_out;
    bool bias;
} shape;

static const shape shapes[] = {
    {"even8x8", 3, 8, 8, 8, 16, true},
    {"odd7x9", 2, 16, 7, 9, 8, false},
    {"wide5x5", 2, 32, 5, 5, 40, true},
    {"tiny1x3", 3, 9, 1, 3, 12, false},
    /* rows of more than 16 tiles (the vector transforms' segments: a full
     * one and a partial one) and a row exactly 16 tiles wide */
    {"rows34x37", 2, 8, 34, 37, 9, true},
    {"row33x32", 1, 8, 33, 32, 8, false},
};

/* out, din (prefilled, added into) and dweight of one path */
typedef struct result {
    float *out, *din, *dw;
} result;

static void run_path(fk_runtime *rt, const fk_conv_dims *d, const float *x, const float *w, const float *b,
                     const float *dout, const float *din0, size_t nwork, bool wino, bool dw, result *r,
                     const char *what)
{
    size_t nx = (size_t)d->n * d->c_in * d->h * d->w, nw = (size_t)d->c_out * d->c_in * 9,
           no = (size_t)d->n * d->c_out * d->h_out * d->w_out;
    rt->opts.winograd = wino ? FK_SWITCH_ON : FK_SWITCH_OFF;
    fx_buf gx, gw, gb, gdout, gout, gdin, gdw, gwork;
    int bad = fx_buf_create(rt, &gx, nx, x, 0) | fx_buf_create(rt, &gw, nw, w, 0) |
              fx_buf_create(rt, &gb, (size_t)d->c_out, b, 0) | fx_buf_create(rt, &gdout, no, dout, 0) |
              fx_buf_create(rt, &gout, no, NULL, NAN) | fx_buf_create(rt, &gdin, nx, din0, 0) |
              fx_buf_create(rt, &gdw, nw, NULL, 0) | fx_buf_create(rt, &gwork, nwork, NULL, NAN);
    CHECK(!bad, "%s: buffers", what);
    fk_status st = bad ? FK_ERR_CL : FK_OK;
    st = st ? st : fk_conv_forward(rt, gout.t, gx.t, gw.t, d->bias ? &gb.t : NULL, gwork.t, d);
    st = st ? st : fk_conv_backward(rt, &gdin.t, dw ? &gdw.t : NULL, NULL, gdout.t, gx.t, gw.t, gwork.t, d);
    st = st ? st : fk_runtime_finish(rt);
    CHECK(st == FK_OK, "%s: %s", what, fk_last_error());
    r->out = malloc(no * 4), r->din = malloc(nx * 4), r->dw = malloc(nw * 4);
    if (!st) {
        fx_buf_read(&gout, r->out, what);
        fx_buf_read(&gdin, r->din, what);
        fx_buf_read(&gdw, r->dw, what);
        fx_buf_guards(&gwork, what);
    }
    fx_buf *all[] = {&gx, &gw, &gb, &gdout, &gout, &gdin, &gdw, &gwork};
    fx_bufs_free(all, 8);
    rt->opts.winograd = FK_SWITCH_DEFAULT;
}

static void result_free(result *r)
{
    free(r->out), free(r->din), free(r->dw);
}

static void check_shape(fk_runtime *rt, const shape *s, bool one_sample_work)
{
    const int f0 = fk_test_failures;
    fk_conv_dims d, d1;
    CHECK(fk_conv_dims_init(&d, s->n, s->c_in, s->h, s->w, s->c_out, 3, 1, 1, 1, s->bias) == FK_OK, "%s", s->name);
    CHECK(fk_conv_dims_init(&d1, 1, s->c_in, s->h, s->w, s->c_out, 3, 1, 1, 1, s->bias) == FK_OK, "%s", s->name);
    size_t nx = (size_t)d.n * d.c_in * d.h * d.w, nw = (size_t)d.c_out * d.c_in * 9,
           no = (size_t)d.n * d.c_out * d.h_out * d.w_out;
    float *x = fk_test_uniform(nx, 1, -1, 1), *w = fk_test_uniform(nw, 2, -0.3f, 0.3f);
    float *b = fk_test_uniform((size_t)d.c_out, 3, -1, 1), *dout = fk_test_uniform(no, 4, -1, 1);
    float *din0 = fk_test_uniform(nx, 5, -2, 2);
    char what[96];
    snprintf(what, sizeof what, "%s%s", s->name, one_sample_work ? " (one sample's work)" : "");
    /* the plain path always with its full work; Winograd with less when
     * asked: the work the device's path asks for one sample (fk_conv_work_on),
     * where the weight gradient also runs in chunks of samples on CPU
     * devices with the own GEMMs (conv.c's weight_grad_rows) */
    size_t full = fk_conv_work(&d), small = fk_conv_work_on(rt, &d1, true);
    long limit = -1;
    const bool dw_small = rt->dev.is_cpu && rt->opts.conv_gemm == FK_CONV_GEMM_DEFAULT &&
                          rt->opts.conv_path == FK_CONV_PATH_DEFAULT && fk_device_loop_limit(rt, &limit) == FK_OK &&
                          limit == 0;
    const bool dw = !one_sample_work || dw_small;
    result plain, wino;
    run_path(rt, &d, x, w, b, dout, din0, full, false, true, &plain, what);
    run_path(rt, &d, x, w, b, dout, din0, one_sample_work ? small : full, true, dw, &wino, what);
    char name[160];
    snprintf(name, sizeof name, "%s: out", what);
    CHECK(wino.out && wino.din && wino.dw && plain.out && plain.din && plain.dw, "%s: host memory", what);
    fk_test_close(name, wino.out, plain.out, no, ATOL, RTOL);
    snprintf(name, sizeof name, "%s: din", what);
    fk_test_close(name, wino.din, plain.din, nx, ATOL, RTOL);
    snprintf(name, sizeof name, "%s: dweight", what);
    if (dw)
        fk_test_close(name, wino.dw, plain.dw, nw, ATOL_DW, RTOL_DW);
    printf("%-28s n=%d c_in=%d %dx%d c_out=%d bias=%d%s: %s\n", what, s->n, s->c_in, s->h, s->w, s->c_out,
           s->bias, dw ? "" : " (no dweight)", fk_test_failures != f0 ? "FAIL" : "ok");
    result_free(&plain), result_free(&wino);
    free(x), free(w), free(b), free(dout), free(din0);
}

/* fused forward (bias, residual, ReLU) on the Winograd path and on the
 * column path against conv + bias then add then ReLU on the host */
static void check_fused(fk_runtime *rt, const shape *s, bool wino)
{
    const int f0 = fk_test_failures;
    fk_conv_dims d;
    CHECK(fk_conv_dims_init(&d, s->n, s->c_in, s->h, s->w, s->c_out, 3, 1, 1, 1, false) == FK_OK, "%s", s->name);
    size_t nx = (size_t)d.n * d.c_in * d.h * d.w, nw = (size_t)d.c_out * d.c_in * 9,
           no = (size_t)d.n * d.c_out * d.h_out * d.w_out, p = (size_t)d.h_out * d.w_out;
    float *x = fk_test_uniform(nx, 6, -1, 1), *w = fk_test_uniform(nw, 7, -0.3f, 0.3f);
    float *b = fk_test_uniform((size_t)d.c_out, 8, -1, 1), *res = fk_test_uniform(no, 9, -1, 1);
    result plain;
    float *zero = calloc(nx, 4), *dout = calloc(no, 4);
    run_path(rt, &d, x, w, NULL, dout, zero, fk_conv_work(&d), false, true, &plain, s->name);
    float *ref = malloc(no * 4);
    for (size_t i = 0; i < no; i++) {
        float v = plain.out[i] + b[(i / p) % (size_t)d.c_out] + res[i];
        ref[i] = v > 0 ? v : 0;
    }
    rt->opts.winograd = wino ? FK_SWITCH_ON : FK_SWITCH_OFF;
    fx_buf gx, gw, gb, gres, gout, gwork;
    int bad = fx_buf_create(rt, &gx, nx, x, 0) | fx_buf_create(rt, &gw, nw, w, 0) |
              fx_buf_create(rt, &gb, (size_t)d.c_out, b, 0) | fx_buf_create(rt, &gres, no, res, 0) |
              fx_buf_create(rt, &gout, no, NULL, NAN) | fx_buf_create(rt, &gwork, fk_conv_work(&d), NULL, NAN);
    fk_status st = bad ? FK_ERR_CL : FK_OK;
    st = st ? st : fk_conv_forward_fused(rt, gout.t, gx.t, gw.t, &gb.t, &gres.t, true, gwork.t, &d);
    st = st ? st : fk_runtime_finish(rt);
    CHECK(st == FK_OK, "fused %s: %s", s->name, fk_last_error());
    char name[96];
    snprintf(name, sizeof name, "fused %s %s: out", wino ? "winograd" : "columns", s->name);
    if (!st)
        fx_buf_check(&gout, ref, name, ATOL, RTOL);
    printf("%-28s: %s\n", name, fk_test_failures != f0 ? "FAIL" : "ok");
    fx_buf *all[] = {&gx, &gw, &gb, &gres, &gout, &gwork};
    fx_bufs_free(all, 6);
    rt->opts.winograd = FK_SWITCH_DEFAULT;
    result_free(&plain);
    free(x), free(w), free(b), free(res), free(ref), free(zero), free(dout);
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    (void)f;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        check_shape(rt, &shapes[i], false);
        check_shape(rt, &shapes[i], true);
        check_fused(rt, &shapes[i], true);
        check_fused(rt, &shapes[i], false);
    }
}

int main(void) { return fk_test_main("test_winograd", NULL, run); }
