/* conv2d forward and backward against PyTorch fixtures (tests/ref/gen_conv.py)
 * and against finite differences of a float64 host convolution.
 *
 * Every output lives in its own buffer with guard elements before and after
 * (checked untouched); inputs sit at non-zero offsets. The forward output is
 * prefilled with NaN (every element must be written); gradients are
 * prefilled with known values and must come back as prefill + reference
 * (backward adds). A second and third backward pass with some gradients NULL
 * check that NULL means "skip" and that accumulation adds again. */
#include "op_fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerances (|got - ref| <= atol + rtol * |ref|). The reference is float64
 * rounded to float32; the device sums in float32 in another order. */
static const struct {
    const char *what;
    double atol, rtol;
    const char *why;
} tol[] = {
    {"out", 2e-5, 1e-4, "sums of C_in/g*K*K <= 300 products of |x| <= 1, |w| <= 1/sqrt(fan_in)"},
    {"din", 2e-5, 1e-4, "sums of C_out/g*K*K <= 150 products of |dout| <= 1, small weights"},
    {"dweight", 1e-4, 1e-4, "sums of N*HO*WO <= 300 products of numbers in [-1, 1]"},
    {"dbias", 1e-4, 1e-4, "sums of N*HO*WO <= 300 numbers in [-1, 1]"},
};
enum { T_OUT, T_DIN, T_DW, T_DB };

static const char *fixtures[] = {
    "k3s1p1", "k3s2p1", "k1s1",   "k1s2",   "k5s2p2", "k7s2p3", "odd7x9",
    "batch1", "k3p0",   "k2s2",   "k3s3p1", "k1s1p1", "g3k1",   "g2k3",
    "g3k3s2", "dw3s1",  "dw3s2",  "dw3m2",  "dw5s2",  "chunk3x3", "chunk1x1", "c32k3s1",
    "c32k3s2",
};

/* A guarded device tensor (op_fixture.h) with body `body`, or `fill` when
 * body is NULL. */
static fk_status gbuf_make(fk_runtime *rt, fx_buf *g, const float *body, size_t n, float fill)
{
    return fx_buf_create(rt, g, n, body, fill) ? FK_ERR_CL : FK_OK;
}

/* Read back, check guards, compare the body with ref (within the tolerance
 * of kind). Returns bad element count. */
static size_t gbuf_check(fx_buf *g, const float *ref, int kind, const char *name)
{
    char what[160];
    snprintf(what, sizeof what, "%s: %s", name, tol[kind].what);
    return fx_buf_check(g, ref, what, tol[kind].atol, tol[kind].rtol);
}

static int meta_int(const fk_st_file *f, const char *key)
{
    const char *v = fk_st_meta(f, key);
    long x;
    if (!v || fk_parse_long(v, &x) != 0) {
        CHECK(0, "metadata %s missing or not a number", key);
        return -1;
    }
    return (int)x;
}

static const float *tensor(const fk_st_file *f, const char *name, size_t n, const char *fixture)
{
    const fk_st_tensor *t = fk_st_find(f, name);
    if (!t || t->dtype != FK_DT_F32 || t->nbytes != n * sizeof(float)) {
        CHECK(0, "%s: tensor %s missing or of the wrong size", fixture, name);
        return NULL;
    }
    return t->data;
}

static float *plus(const float *a, const float *b, float scale, size_t n)
{
    float *r = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        r[i] = (float)((double)a[i] + scale * (double)b[i]);
    return r;
}

static void run_fixture(fk_runtime *rt, const char *name)
{
    char file[128];
    snprintf(file, sizeof file, "conv_%s.safetensors", name);
    fk_st_file f;
    if (fk_test_fixture(file, &f)) {
        CHECK(0, "%s: %s", file, fk_last_error());
        return;
    }
    fk_conv_dims d;
    int bias = meta_int(&f, "bias");
    fk_status st = fk_conv_dims_init(&d, meta_int(&f, "n"), meta_int(&f, "c_in"), meta_int(&f, "h"),
                                     meta_int(&f, "w"), meta_int(&f, "c_out"), meta_int(&f, "k"),
                                     meta_int(&f, "stride"), meta_int(&f, "pad"), meta_int(&f, "groups"),
                                     bias == 1);
    CHECK(st == FK_OK, "%s: dims: %s", name, fk_last_error());
    if (st) {
        fk_st_free(&f);
        return;
    }
    size_t nx = (size_t)d.n * d.c_in * d.h * d.w, nw = (size_t)d.c_out * (d.c_in / d.groups) * d.kh * d.kw,
           no = (size_t)d.n * d.c_out * d.h_out * d.w_out, nb = (size_t)d.c_out;
    const float *x = tensor(&f, "x", nx, name), *w = tensor(&f, "weight", nw, name),
                *out = tensor(&f, "out", no, name), *dout = tensor(&f, "dout", no, name),
                *din = tensor(&f, "din", nx, name), *dw = tensor(&f, "dweight", nw, name);
    const float *b = d.bias ? tensor(&f, "bias", nb, name) : NULL;
    const float *db = d.bias ? tensor(&f, "dbias", nb, name) : NULL;
    if (!x || !w || !out || !dout || !din || !dw || (d.bias && (!b || !db))) {
        fk_st_free(&f);
        return;
    }
    /* prefills of the gradients */
    float *pre_x = malloc(nx * 4), *pre_w = malloc(nw * 4), *pre_b = malloc(nb * 4);
    fk_test_fill_uniform(pre_x, nx, 11, -2, 2);
    fk_test_fill_uniform(pre_w, nw, 12, -2, 2);
    fk_test_fill_uniform(pre_b, nb, 13, -2, 2);
    fx_buf gx, gw, gb = {0}, gdout, gout, gdin, gdw, gdb = {0}, gwork;
    size_t nwork = fk_conv_work(&d);
    st = gbuf_make(rt, &gx, x, nx, 0);
    st = st ? st : gbuf_make(rt, &gw, w, nw, 0);
    st = st ? st : (d.bias ? gbuf_make(rt, &gb, b, nb, 0) : FK_OK);
    st = st ? st : gbuf_make(rt, &gdout, dout, no, 0);
    st = st ? st : gbuf_make(rt, &gout, NULL, no, NAN);
    st = st ? st : gbuf_make(rt, &gdin, pre_x, nx, 0);
    st = st ? st : gbuf_make(rt, &gdw, pre_w, nw, 0);
    st = st ? st : (d.bias ? gbuf_make(rt, &gdb, pre_b, nb, 0) : FK_OK);
    st = st ? st : gbuf_make(rt, &gwork, NULL, nwork, NAN);
    CHECK(st == FK_OK, "%s: buffers: %s", name, fk_last_error());
    if (!st) {
        st = fk_conv_forward(rt, gout.t, gx.t, gw.t, d.bias ? &gb.t : NULL, gwork.t, &d);
        CHECK(st == FK_OK, "%s: forward: %s", name, fk_last_error());
        gbuf_check(&gout, out, T_OUT, name);
        /* pass 1: every gradient */
        st = fk_conv_backward(rt, &gdin.t, &gdw.t, d.bias ? &gdb.t : NULL, gdout.t, gx.t, gw.t, gwork.t, &d);
        CHECK(st == FK_OK, "%s: backward: %s", name, fk_last_error());
        float *e_x = plus(pre_x, din, 1, nx), *e_w = plus(pre_w, dw, 1, nw);
        gbuf_check(&gdin, e_x, T_DIN, name);
        gbuf_check(&gdw, e_w, T_DW, name);
        if (d.bias) {
            float *e_b = plus(pre_b, db, 1, nb);
            gbuf_check(&gdb, e_b, T_DB, name);
            free(e_b);
        }
        /* pass 2: weight gradient only; pass 3: input gradient only */
        st = fk_conv_backward(rt, NULL, &gdw.t, NULL, gdout.t, gx.t, gw.t, gwork.t, &d);
        CHECK(st == FK_OK, "%s: backward (dweight only): %s", name, fk_last_error());
        float *e_w2 = plus(pre_w, dw, 2, nw);
        gbuf_check(&gdin, e_x, T_DIN, name);
        gbuf_check(&gdw, e_w2, T_DW, name);
        st = fk_conv_backward(rt, &gdin.t, NULL, NULL, gdout.t, gx.t, gw.t, gwork.t, &d);
        CHECK(st == FK_OK, "%s: backward (din only): %s", name, fk_last_error());
        float *e_x2 = plus(pre_x, din, 2, nx);
        gbuf_check(&gdin, e_x2, T_DIN, name);
        gbuf_check(&gdw, e_w2, T_DW, name);
        free(e_x), free(e_w), free(e_x2), free(e_w2);
        /* the input and weight are not written */
        gbuf_check(&gx, x, T_OUT, name);
        gbuf_check(&gw, w, T_OUT, name);
        /* the op stays inside the fk_conv_work floats it asked for */
        char work[160];
        snprintf(work, sizeof work, "%s: work", name);
        fx_buf_guards(&gwork, work);
    }
    printf("%-8s n=%d c_in=%d %dx%d c_out=%d k=%d stride=%d pad=%d groups=%d bias=%d: %s\n", name, d.n,
           d.c_in, d.h, d.w, d.c_out, d.kh, d.stride, d.pad, d.groups, d.bias, fk_test_failures ? "FAIL so far" : "ok");
    fx_buf_free(&gx), fx_buf_free(&gw), fx_buf_free(&gb), fx_buf_free(&gdout), fx_buf_free(&gout);
    fx_buf_free(&gdin), fx_buf_free(&gdw), fx_buf_free(&gdb), fx_buf_free(&gwork);
    free(pre_x), free(pre_w), free(pre_b);
    fk_st_free(&f);
}

/* ---- finite differences on a float64 host convolution ------------------ */

static void host_conv(double *out, const double *x, const double *w, const double *b, const fk_conv_dims *d)
{
    int cipg = d->c_in / d->groups, copg = d->c_out / d->groups;
    for (int s = 0; s < d->n; s++)
        for (int o = 0; o < d->c_out; o++)
            for (int oh = 0; oh < d->h_out; oh++)
                for (int ow = 0; ow < d->w_out; ow++) {
                    double acc = b ? b[o] : 0.0;
                    int g = o / copg;
                    for (int ci = 0; ci < cipg; ci++)
                        for (int kh = 0; kh < d->kh; kh++)
                            for (int kw = 0; kw < d->kw; kw++) {
                                int ih = oh * d->stride - d->pad + kh, iw = ow * d->stride - d->pad + kw;
                                if (ih < 0 || ih >= d->h || iw < 0 || iw >= d->w)
                                    continue;
                                acc += x[(((size_t)s * d->c_in + g * cipg + ci) * d->h + ih) * d->w + iw] *
                                       w[(((size_t)o * cipg + ci) * d->kh + kh) * d->kw + kw];
                            }
                    out[(((size_t)s * d->c_out + o) * d->h_out + oh) * d->w_out + ow] = acc;
                }
}

/* L = sum(conv(x, w, b) * g) */
static double host_loss(const double *x, const double *w, const double *b, const double *g, double *tmp,
                        const fk_conv_dims *d)
{
    host_conv(tmp, x, w, b, d);
    double l = 0;
    size_t no = (size_t)d->n * d->c_out * d->h_out * d->w_out;
    for (size_t i = 0; i < no; i++)
        l += tmp[i] * g[i];
    return l;
}

/* central differences of L with respect to every element of v */
static void numeric_grad(float *grad, double *v, size_t n, const double *x, const double *w, const double *b,
                         const double *g, double *tmp, const fk_conv_dims *d)
{
    const double h = 1e-2;
    for (size_t i = 0; i < n; i++) {
        double keep = v[i];
        v[i] = keep + h;
        double lp = host_loss(x, w, b, g, tmp, d);
        v[i] = keep - h;
        double lm = host_loss(x, w, b, g, tmp, d);
        v[i] = keep;
        grad[i] = (float)((lp - lm) / (2 * h));
    }
}

static double *to_double(const float *a, size_t n)
{
    double *r = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        r[i] = a[i];
    return r;
}

static void run_gradcheck(fk_runtime *rt, const char *name, int n, int c_in, int h, int w, int c_out, int k,
                          int stride, int pad, int groups)
{
    fk_conv_dims d;
    if (fk_conv_dims_init(&d, n, c_in, h, w, c_out, k, stride, pad, groups, true) != FK_OK) {
        CHECK(0, "%s: dims", name);
        return;
    }
    size_t nx = (size_t)n * c_in * h * w, nw = (size_t)c_out * (c_in / groups) * k * k,
           no = (size_t)n * c_out * d.h_out * d.w_out, nb = (size_t)c_out;
    float *x = malloc(nx * 4), *wt = malloc(nw * 4), *b = malloc(nb * 4), *g = malloc(no * 4);
    fk_test_fill_uniform(x, nx, 21, -1, 1);
    fk_test_fill_uniform(wt, nw, 22, -0.5f, 0.5f);
    fk_test_fill_uniform(b, nb, 23, -0.5f, 0.5f);
    fk_test_fill_uniform(g, no, 24, -1, 1);
    double *xd = to_double(x, nx), *wd = to_double(wt, nw), *bd = to_double(b, nb), *gd = to_double(g, no);
    double *tmp = malloc(no * sizeof(double));
    float *ref_out = malloc(no * 4), *ref_dx = malloc(nx * 4), *ref_dw = malloc(nw * 4), *ref_db = malloc(nb * 4);
    host_conv(tmp, xd, wd, bd, &d);
    for (size_t i = 0; i < no; i++)
        ref_out[i] = (float)tmp[i];
    numeric_grad(ref_dx, xd, nx, xd, wd, bd, gd, tmp, &d);
    numeric_grad(ref_dw, wd, nw, xd, wd, bd, gd, tmp, &d);
    numeric_grad(ref_db, bd, nb, xd, wd, bd, gd, tmp, &d);

    fx_buf gx, gw, gb, gg, gout, gdx, gdw, gdb, gwork;
    fk_status st = gbuf_make(rt, &gx, x, nx, 0);
    st = st ? st : gbuf_make(rt, &gw, wt, nw, 0);
    st = st ? st : gbuf_make(rt, &gb, b, nb, 0);
    st = st ? st : gbuf_make(rt, &gg, g, no, 0);
    st = st ? st : gbuf_make(rt, &gout, NULL, no, NAN);
    st = st ? st : gbuf_make(rt, &gdx, NULL, nx, 0);
    st = st ? st : gbuf_make(rt, &gdw, NULL, nw, 0);
    st = st ? st : gbuf_make(rt, &gdb, NULL, nb, 0);
    st = st ? st : gbuf_make(rt, &gwork, NULL, fk_conv_work(&d), 0);
    st = st ? st : fk_conv_forward(rt, gout.t, gx.t, gw.t, &gb.t, gwork.t, &d);
    st = st ? st : fk_conv_backward(rt, &gdx.t, &gdw.t, &gdb.t, gg.t, gx.t, gw.t, gwork.t, &d);
    CHECK(st == FK_OK, "%s: %s", name, fk_last_error());
    if (!st) {
        char what[96];
        snprintf(what, sizeof what, "gradcheck %s", name);
        /* the central difference of a linear function is exact up to float64
         * rounding: the tolerances are those of the fixtures */
        gbuf_check(&gout, ref_out, T_OUT, what);
        gbuf_check(&gdx, ref_dx, T_DIN, what);
        gbuf_check(&gdw, ref_dw, T_DW, what);
        gbuf_check(&gdb, ref_db, T_DB, what);
    }
    printf("gradcheck %-10s: %s\n", name, fk_test_failures ? "FAIL so far" : "ok");
    fx_buf_free(&gx), fx_buf_free(&gw), fx_buf_free(&gb), fx_buf_free(&gg), fx_buf_free(&gout);
    fx_buf_free(&gdx), fx_buf_free(&gdw), fx_buf_free(&gdb), fx_buf_free(&gwork);
    free(x), free(wt), free(b), free(g), free(xd), free(wd), free(bd), free(gd), free(tmp);
    free(ref_out), free(ref_dx), free(ref_dw), free(ref_db);
}

static void check_dims_errors(void)
{
    fk_conv_dims d;
    int q = fk_error_quiet(1);
    CHECK(fk_conv_dims_init(&d, 1, 6, 8, 8, 4, 3, 1, 1, 4, false) == FK_ERR_ARG, "c_in %% groups");
    CHECK(fk_conv_dims_init(&d, 1, 6, 2, 8, 4, 5, 1, 1, 1, false) == FK_ERR_ARG, "kernel > padded input");
    CHECK(fk_conv_dims_init(&d, 1, 6, 8, 8, 4, 3, 0, 1, 1, false) == FK_ERR_ARG, "stride 0");
    fk_error_quiet(q);
    /* PyTorch's output size: floor((H + 2p - k) / s) + 1 */
    CHECK(fk_conv_dims_init(&d, 1, 3, 7, 9, 5, 3, 2, 1, 1, false) == FK_OK && d.h_out == 4 && d.w_out == 5,
          "output size %dx%d", d.h_out, d.w_out);
}

/* test_conv [FIXTURE...]: every fixture and the gradient checks, or only
 * the fixtures named (a path whose kernels take long to build on PoCL) */
int main(int argc, char **argv)
{
    check_dims_errors();
    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    for (int i = 1; i < argc; i++)
        run_fixture(rt, argv[i]);
    for (size_t i = 0; argc == 1 && i < sizeof fixtures / sizeof fixtures[0]; i++)
        run_fixture(rt, fixtures[i]);
    if (argc == 1) {
        run_gradcheck(rt, "im2col", 2, 4, 6, 5, 6, 3, 2, 1, 1);
        run_gradcheck(rt, "pointwise", 2, 3, 4, 4, 5, 1, 1, 0, 1);
        run_gradcheck(rt, "grouped", 2, 4, 5, 5, 6, 3, 1, 1, 2);
    }
    fk_runtime_free(rt);
    return fk_test_result("test_conv");
}
