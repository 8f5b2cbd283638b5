/* BatchNorm2d against PyTorch (tests/ref/gen_batchnorm.py): train-mode
 * output, saved mean and 1/std, running statistics and num_batches_tracked,
 * backward for input, weight and bias (added onto non-zero buffers; NULL
 * gradients skipped); eval mode. Also a large channel (65536 values, mean
 * far from 0) against a float64 reference in C, and finite differences on a
 * tiny shape. Guards around every buffer. */
#include "op_fixture.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerances (atol, rtol), against float64 references:
 * - y: normalised values of size ~3, from float32 mean and 1/std, each a
 *   few roundings off: 1e-5 relative plus 2e-6 absolute near 0;
 * - save_mean: a compensated sum, rounded once: 2e-6 relative of the mean
 *   plus 1e-6 absolute (the mean is near 0 for centred data);
 * - save_invstd, running_var: the variance from a compensated sum and a
 *   division, then sqrt: 1e-5 relative;
 * - running_mean: a blend of two floats: 1e-6 absolute, 1e-5 relative;
 * - dx: gamma*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)) cancels: 1e-5
 *   relative plus 1e-5 absolute;
 * - dgamma, dbeta: sums of N*H*W products of size ~1 (compensated), added
 *   to g0: 2e-5 absolute, 1e-5 relative. */
typedef struct {
    double atol, rtol;
} tol;
static const tol TOL_Y = {2e-6, 1e-5}, TOL_MEAN = {1e-6, 2e-6}, TOL_INVSTD = {0.0, 1e-5},
                 TOL_RMEAN = {1e-6, 1e-5}, TOL_RVAR = {0.0, 1e-5}, TOL_DX = {1e-5, 1e-5},
                 TOL_DPARAM = {2e-5, 1e-5};


/* b against g0 + ref (ref alone when g0 is NULL), named "cs name". */
static void check_grad(fx_buf *b, const float *g0, const float *ref, const char *cs, const char *name, tol t)
{
    char what[128];
    snprintf(what, sizeof what, "%s %s", cs, name);
    fx_buf_check_added(b, g0, ref, what, t.atol, t.rtol);
}

static void check(fx_buf *b, const float *ref, const char *cs, const char *name, tol t)
{
    check_grad(b, NULL, ref, cs, name, t);
}

static void run_case(fk_runtime *rt, const fk_st_file *f, int c)
{
    long long cfg[1] = {0};
    fx_cfg(f, c, cfg, 1);
    int train = (int)cfg[0], xd[4];
    size_t nx;
    const float *x = fx_get(f, c, "x", &nx), *gamma = fx_get(f, c, "gamma", NULL), *beta = fx_get(f, c, "beta", NULL),
                *rm0 = fx_get(f, c, "rm0", NULL), *rv0 = fx_get(f, c, "rv0", NULL), *nbt0 = fx_get(f, c, "nbt0", NULL),
                *y = fx_get(f, c, "y", NULL);
    if (!x || !gamma || !beta || !rm0 || !rv0 || !nbt0 || !y || fx_dims(f, c, "x", xd) != 4)
        return;
    fk_bn_dims d = {.n = xd[0], .c = xd[1], .h = xd[2], .w = xd[3], .eps = 1e-5f, .momentum = 0.1f};
    size_t C = (size_t)d.c;
    char cs[96];
    snprintf(cs, sizeof cs, "c%d bn %s (%d,%d,%d,%d)", c, train ? "train" : "eval", d.n, d.c, d.h, d.w);
    fx_buf bx, by, bg, bb, brm, brv, bnb, bsm, bsi;
    fx_bufs_create(rt, (fx_spec[]){{&bx, nx, x, 0}, {&by, nx, NULL, NAN}, {&bg, C, gamma, 0},
                                   {&bb, C, beta, 0}, {&brm, C, rm0, 0}, {&brv, C, rv0, 0},
                                   {&bnb, 1, nbt0, 0}, {&bsm, C, NULL, NAN}, {&bsi, C, NULL, NAN}}, 9);
    if (!train) {
        fk_status st = fk_bn_forward_eval(rt, by.t, bx.t, bg.t, bb.t, brm.t, brv.t, &d);
        CHECK(st == FK_OK, "%s: %s", cs, fk_last_error());
        check(&by, y, cs, "y", TOL_Y);
        check(&brm, rm0, cs, "running_mean untouched", (tol){0, 0});
        check(&brv, rv0, cs, "running_var untouched", (tol){0, 0});
        check(&bnb, nbt0, cs, "num_batches_tracked untouched", (tol){0, 0});
    } else {
        const float *sm = fx_get(f, c, "save_mean", NULL), *si = fx_get(f, c, "save_invstd", NULL),
                    *rm1 = fx_get(f, c, "rm1", NULL), *rv1 = fx_get(f, c, "rv1", NULL),
                    *nbt1 = fx_get(f, c, "nbt1", NULL), *dy = fx_get(f, c, "dy", NULL), *dx = fx_get(f, c, "dx", NULL),
                    *dg = fx_get(f, c, "dgamma", NULL), *db = fx_get(f, c, "dbeta", NULL);
        if (!sm || !si || !rm1 || !rv1 || !nbt1 || !dy || !dx || !dg || !db)
            return;
        float *g0x = fk_test_uniform(nx, 21 + (unsigned)c, -0.5f, 0.5f);
        float *g0g = fk_test_uniform(C, 22 + (unsigned)c, -0.5f, 0.5f);
        float *g0b = fk_test_uniform(C, 23 + (unsigned)c, -0.5f, 0.5f);
        fx_buf bdy, bdx, bdg, bdb;
        fx_bufs_create(rt, (fx_spec[]){{&bdy, nx, dy, 0}, {&bdx, nx, g0x, 0}, {&bdg, C, g0g, 0},
                                       {&bdb, C, g0b, 0}}, 4);
        fk_status st = fk_bn_forward_train(rt, by.t, bsm.t, bsi.t, bx.t, bg.t, bb.t, brm.t, brv.t, bnb.t, &d);
        st = st ? st : fk_bn_backward(rt, &bdx.t, &bdg.t, &bdb.t, bdy.t, bx.t, bg.t, bsm.t, bsi.t, &d);
        CHECK(st == FK_OK, "%s: %s", cs, fk_last_error());
        check(&by, y, cs, "y", TOL_Y);
        check(&bsm, sm, cs, "save_mean", TOL_MEAN);
        check(&bsi, si, cs, "save_invstd", TOL_INVSTD);
        check(&brm, rm1, cs, "running_mean", TOL_RMEAN);
        check(&brv, rv1, cs, "running_var", TOL_RVAR);
        check(&bnb, nbt1, cs, "num_batches_tracked", (tol){0, 0});
        check_grad(&bdx, g0x, dx, cs, "dx", TOL_DX);
        check_grad(&bdg, g0g, dg, cs, "dgamma", TOL_DPARAM);
        check_grad(&bdb, g0b, db, cs, "dbeta", TOL_DPARAM);
        /* only dgamma: dx and dbeta stay, dgamma gets a second helping */
        float *after_x = malloc(nx * 4), *after_b = malloc(C * 4);
        fx_buf_read(&bdx, after_x, "dx");
        fx_buf_read(&bdb, after_b, "dbeta");
        st = fk_bn_backward(rt, NULL, &bdg.t, NULL, bdy.t, bx.t, bg.t, bsm.t, bsi.t, &d);
        CHECK(st == FK_OK, "%s: %s", cs, fk_last_error());
        float *twice = malloc(C * 4);
        for (size_t i = 0; i < C; i++)
            twice[i] = g0g[i] + 2.0f * dg[i];
        check(&bdg, twice, cs, "dgamma twice", TOL_DPARAM);
        check(&bdx, after_x, cs, "dx skipped", (tol){0, 0});
        check(&bdb, after_b, cs, "dbeta skipped", (tol){0, 0});
        free(after_x), free(after_b), free(twice);
        free(g0x), free(g0g), free(g0b);
        fx_buf_free(&bdy), fx_buf_free(&bdx), fx_buf_free(&bdg), fx_buf_free(&bdb);
    }
    fx_buf_free(&bx), fx_buf_free(&by), fx_buf_free(&bg), fx_buf_free(&bb), fx_buf_free(&brm), fx_buf_free(&brv),
        fx_buf_free(&bnb), fx_buf_free(&bsm), fx_buf_free(&bsi);
}

/* 65536 values per channel around 50 with spread 1 (a naive float sum of
 * squares loses every digit of the variance here): forward and backward
 * against float64 in C. */
static void large_channel(fk_runtime *rt)
{
    fk_bn_dims d = {.n = 16, .c = 3, .h = 64, .w = 64, .eps = 1e-5f, .momentum = 0.1f};
    size_t hw = (size_t)d.h * d.w, nx = (size_t)d.n * d.c * hw, C = (size_t)d.c;
    double m = (double)d.n * (double)hw;
    float *x = malloc(nx * 4), *dy = malloc(nx * 4), *y = malloc(nx * 4), *dx = malloc(nx * 4);
    fk_test_fill_uniform(x, nx, 5, 49.0f, 51.0f);
    fk_test_fill_uniform(dy, nx, 6, -1.0f, 1.0f);
    float gamma[3] = {1.5f, 0.7f, 1.0f}, beta[3] = {0.1f, -0.2f, 0.3f}, rm[3] = {0}, rv[3] = {1, 1, 1}, nb = 0;
    float mean[3], invstd[3], rm1[3], rv1[3], dg[3], db[3], nb1 = 1;
    for (size_t ch = 0; ch < C; ch++) {
        double s = 0, q = 0, sdy = 0, sdyx = 0;
        for (int i = 0; i < d.n; i++)
            for (size_t p = 0; p < hw; p++)
                s += x[(i * C + ch) * hw + p];
        double mu = s / m;
        for (int i = 0; i < d.n; i++)
            for (size_t p = 0; p < hw; p++)
                q += (x[(i * C + ch) * hw + p] - mu) * (x[(i * C + ch) * hw + p] - mu);
        double is = 1.0 / sqrt(q / m + 1e-5);
        for (int i = 0; i < d.n; i++)
            for (size_t p = 0; p < hw; p++) {
                size_t at = (i * C + ch) * hw + p;
                double xh = (x[at] - mu) * is;
                y[at] = (float)(xh * gamma[ch] + beta[ch]);
                sdy += dy[at];
                sdyx += dy[at] * xh;
            }
        for (int i = 0; i < d.n; i++)
            for (size_t p = 0; p < hw; p++) {
                size_t at = (i * C + ch) * hw + p;
                double xh = (x[at] - mu) * is;
                dx[at] = (float)(gamma[ch] * is * (dy[at] - sdy / m - xh * sdyx / m));
            }
        mean[ch] = (float)mu;
        invstd[ch] = (float)is;
        rm1[ch] = (float)(0.1 * mu);
        rv1[ch] = (float)(0.9 + 0.1 * q / (m - 1));
        dg[ch] = (float)sdyx;
        db[ch] = (float)sdy;
    }
    fx_buf bx, by, bg, bb, brm, brv, bnb, bsm, bsi, bdy, bdx, bdg, bdb;
    fx_bufs_create(rt, (fx_spec[]){{&bx, nx, x, 0}, {&by, nx, NULL, NAN}, {&bg, C, gamma, 0},
                                   {&bb, C, beta, 0}, {&brm, C, rm, 0}, {&brv, C, rv, 0},
                                   {&bnb, 1, &nb, 0}, {&bsm, C, NULL, NAN}, {&bsi, C, NULL, NAN},
                                   {&bdy, nx, dy, 0}, {&bdx, nx, NULL, 0}, {&bdg, C, NULL, 0},
                                   {&bdb, C, NULL, 0}}, 13);
    fk_status st = fk_bn_forward_train(rt, by.t, bsm.t, bsi.t, bx.t, bg.t, bb.t, brm.t, brv.t, bnb.t, &d);
    st = st ? st : fk_bn_backward(rt, &bdx.t, &bdg.t, &bdb.t, bdy.t, bx.t, bg.t, bsm.t, bsi.t, &d);
    CHECK(st == FK_OK, "large channel: %s", fk_last_error());
    const char *cs = "bn train (16,3,64,64) mean 50";
    /* the inputs sit near 50: |x - mean| carries 50 * 2^-24 of rounding, so
     * y and dx are judged on an absolute scale of ~1e-5; the sums over
     * 65536 values (dgamma, dbeta, ~ sqrt(65536) in size) on 1e-4 */
    check(&by, y, cs, "y", (tol){2e-5, 1e-5});
    check(&bsm, mean, cs, "save_mean", (tol){0, 1e-6});
    check(&bsi, invstd, cs, "save_invstd", (tol){0, 2e-5});
    check(&brm, rm1, cs, "running_mean", (tol){0, 1e-6});
    check(&brv, rv1, cs, "running_var", (tol){0, 1e-5});
    check(&bnb, &nb1, cs, "num_batches_tracked", (tol){0, 0});
    check(&bdx, dx, cs, "dx", (tol){2e-5, 1e-5});
    check(&bdg, dg, cs, "dgamma", (tol){1e-3, 1e-5});
    check(&bdb, db, cs, "dbeta", (tol){1e-3, 1e-5});
    free(x), free(dy), free(y), free(dx);
    fx_buf *all[] = {&bx, &by, &bg, &bb, &brm, &brv, &bnb, &bsm, &bsi, &bdy, &bdx, &bdg, &bdb};
    fx_bufs_free(all, sizeof all / sizeof *all);
}

/* L = sum(w * bn_train(x)) on (2, 2, 3, 3): dL/dx, dgamma, dbeta from
 * backward against central differences of the device forward (h = 1e-2 on
 * values of size 1: truncation ~h^2, float rounding ~1e-7/h). */
static void finite_difference(fk_runtime *rt)
{
    fk_bn_dims d = {.n = 2, .c = 2, .h = 3, .w = 3, .eps = 1e-5f, .momentum = 0.1f};
    size_t nx = 36, C = 2;
    float x[36], w[36], y[36], gx[36], gp[4], fd[40], par[4] = {1.3f, 0.6f, 0.2f, -0.4f}; /* gamma, beta */
    fk_test_fill_uniform(x, nx, 31, -1.5f, 1.5f);
    fk_test_fill_uniform(w, nx, 32, -1.0f, 1.0f);
    fx_buf bx, by, bp, brm, brv, bnb, bsm, bsi, bw, bgx, bgp;
    fx_bufs_create(rt, (fx_spec[]){{&bx, nx, x, 0}, {&by, nx, NULL, 0}, {&bp, 4, par, 0}, {&brm, C, NULL, 0},
                                   {&brv, C, NULL, 1}, {&bnb, 1, NULL, 0}, {&bsm, C, NULL, 0},
                                   {&bsi, C, NULL, 0}, {&bw, nx, w, 0}, {&bgx, nx, NULL, 0},
                                   {&bgp, 4, NULL, 0}}, 11);
    fk_tensor gamma = bp.t, beta = bp.t, dgamma = bgp.t, dbeta = bgp.t;
    beta.off += 2;
    dbeta.off += 2;
    fk_status st = fk_bn_forward_train(rt, by.t, bsm.t, bsi.t, bx.t, gamma, beta, brm.t, brv.t, bnb.t, &d);
    st = st ? st : fk_bn_backward(rt, &bgx.t, &dgamma, &dbeta, bw.t, bx.t, gamma, bsm.t, bsi.t, &d);
    CHECK(st == FK_OK, "bn finite differences: %s", fk_last_error());
    fx_buf_read(&bgx, gx, "fd dx");
    fx_buf_read(&bgp, gp, "fd dgamma/dbeta");
    const float h = 1e-2f;
    for (size_t i = 0; i < nx + 4; i++) {
        fx_buf *b = i < nx ? &bx : &bp;
        float *v = i < nx ? &x[i] : &par[i - nx];
        size_t at = i < nx ? i : i - nx;
        double l[2];
        for (int side = 0; side < 2; side++) {
            float t = *v + (side ? -h : h);
            fk_buffer_write(rt, b->mem, (FX_GUARD + at) * 4, 4, &t);
            fk_bn_forward_train(rt, by.t, bsm.t, bsi.t, bx.t, gamma, beta, brm.t, brv.t, bnb.t, &d);
            fx_buf_read(&by, y, "fd y");
            l[side] = 0;
            for (size_t j = 0; j < nx; j++)
                l[side] += (double)w[j] * y[j];
        }
        fk_buffer_write(rt, b->mem, (FX_GUARD + at) * 4, 4, v);
        fd[i] = (float)((l[0] - l[1]) / (2.0 * h));
    }
    CHECK(fk_test_close("bn finite differences dx", gx, fd, nx, 2e-3, 1e-2) == 0, "bn fd dx");
    CHECK(fk_test_close("bn finite differences dgamma, dbeta", gp, fd + nx, 4, 2e-3, 1e-2) == 0, "bn fd params");
    fx_buf *all[] = {&bx, &by, &bp, &brm, &brv, &bnb, &bsm, &bsi, &bw, &bgx, &bgp};
    fx_bufs_free(all, sizeof all / sizeof *all);
}

/* Simulated replicas for fk_bn_*_sync: `copies` identical ones, so the
 * sums over them are the sums times copies. */
static fk_status times_copies(void *ctx, double *x, size_t n)
{
    double k = *(const double *)ctx;
    for (size_t i = 0; i < n; i++)
        x[i] *= k;
    return FK_OK;
}

/* SyncBatchNorm (fk_bn_*_sync) on (3, 4, 5, 5) as one of `copies`
 * identical replicas equals the single-device BN of the batch repeated
 * copies times (6 or 3 images): output, saved statistics, running
 * statistics (unbiased over every replica's values), dx; dgamma and dbeta
 * are this replica's sums (1/copies of the whole batch's), added to g0.
 * Tolerances of the table above (host double sums against the device's
 * compensated float sums). */
static void sync_replicas(fk_runtime *rt, int copies)
{
    fk_bn_dims d = {.n = 3, .c = 4, .h = 5, .w = 5, .eps = 1e-5f, .momentum = 0.1f}, dd = d;
    dd.n = 3 * copies;
    size_t nx = 300, C = 4, nw = nx * (size_t)copies;
    float *x = malloc(nw * 4), *dy = malloc(nw * 4), *y = malloc(nw * 4), *dx = malloc(nw * 4);
    float gamma[4] = {1.2f, 0.8f, -0.5f, 1.0f}, beta[4] = {0.1f, 0.0f, -0.3f, 0.2f}, rv1[4] = {1, 1, 1, 1};
    float sm[4], si[4], rm[4], rv[4], nb, dg[4], db[4], g0[4] = {0.5f, -0.25f, 0.125f, 1.0f};
    fk_test_fill_uniform(x, nx, 41, -2.0f, 3.0f);
    fk_test_fill_uniform(dy, nx, 42, -1.0f, 1.0f);
    for (int k = 1; k < copies; k++) {
        memcpy(x + k * nx, x, nx * 4);
        memcpy(dy + k * nx, dy, nx * 4);
    }
    /* the reference: one device, the whole batch */
    fx_buf bx, by, bg, bb, brm, brv, bnb, bsm, bsi, bdy, bdx, bdg, bdb;
    fx_bufs_create(rt, (fx_spec[]){{&bx, nw, x, 0}, {&by, nw, NULL, 0}, {&bg, C, gamma, 0}, {&bb, C, beta, 0},
                                   {&brm, C, NULL, 0}, {&brv, C, rv1, 0}, {&bnb, 1, NULL, 0}, {&bsm, C, NULL, 0},
                                   {&bsi, C, NULL, 0}, {&bdy, nw, dy, 0}, {&bdx, nw, NULL, 0}, {&bdg, C, NULL, 0},
                                   {&bdb, C, NULL, 0}}, 13);
    fk_status st = fk_bn_forward_train(rt, by.t, bsm.t, bsi.t, bx.t, bg.t, bb.t, brm.t, brv.t, bnb.t, &dd);
    st = st ? st : fk_bn_backward(rt, &bdx.t, &bdg.t, &bdb.t, bdy.t, bx.t, bg.t, bsm.t, bsi.t, &dd);
    CHECK(st == FK_OK, "sync reference: %s", fk_last_error());
    fx_buf_read(&by, y, "y"), fx_buf_read(&bdx, dx, "dx"), fx_buf_read(&bsm, sm, "mean");
    fx_buf_read(&bsi, si, "invstd"), fx_buf_read(&brm, rm, "rm"), fx_buf_read(&brv, rv, "rv");
    fx_buf_read(&bnb, &nb, "nb"), fx_buf_read(&bdg, dg, "dg"), fx_buf_read(&bdb, db, "db");
    fx_buf *all[] = {&bx, &by, &bg, &bb, &brm, &brv, &bnb, &bsm, &bsi, &bdy, &bdx, &bdg, &bdb};
    fx_bufs_free(all, sizeof all / sizeof *all);
    for (size_t c = 0; c < C; c++) {
        dg[c] /= (float)copies;
        db[c] /= (float)copies;
    }
    /* this replica: the first 3 images */
    double k = copies;
    fk_replicas r = {times_copies, &k};
    fx_bufs_create(rt, (fx_spec[]){{&bx, nx, x, 0}, {&by, nx, NULL, NAN}, {&bg, C, gamma, 0}, {&bb, C, beta, 0},
                                   {&brm, C, NULL, 0}, {&brv, C, rv1, 0}, {&bnb, 1, NULL, 0}, {&bsm, C, NULL, NAN},
                                   {&bsi, C, NULL, NAN}, {&bdy, nx, dy, 0}, {&bdx, nx, NULL, 0}, {&bdg, C, g0, 0},
                                   {&bdb, C, g0, 0}}, 13);
    st = fk_bn_forward_train_sync(&r, rt, by.t, bsm.t, bsi.t, bx.t, bg.t, bb.t, brm.t, brv.t, bnb.t, &d);
    st = st ? st : fk_bn_backward_sync(&r, rt, &bdx.t, &bdg.t, &bdb.t, bdy.t, bx.t, bg.t, bsm.t, bsi.t, &d);
    CHECK(st == FK_OK, "sync bn: %s", fk_last_error());
    char cs[64];
    snprintf(cs, sizeof cs, "sync bn, 1 of %d replicas", copies);
    check(&by, y, cs, "y", TOL_Y);
    check(&bsm, sm, cs, "save_mean", TOL_MEAN);
    check(&bsi, si, cs, "save_invstd", TOL_INVSTD);
    check(&brm, rm, cs, "running_mean", TOL_RMEAN);
    check(&brv, rv, cs, "running_var", TOL_RVAR);
    check(&bnb, &nb, cs, "num_batches_tracked", (tol){0, 0});
    check(&bdx, dx, cs, "dx", TOL_DX);
    check_grad(&bdg, g0, dg, cs, "dgamma", TOL_DPARAM);
    check_grad(&bdb, g0, db, cs, "dbeta", TOL_DPARAM);
    fx_bufs_free(all, sizeof all / sizeof *all);
    free(x), free(dy), free(y), free(dx);
}

/* bn_backward_t4 (CL_RGBA views, cl/batchnorm_t4.cl) against the buffer
 * kernel checked above on the PyTorch fixtures, on texel-aligned tensors
 * (at 8 floats into their buffers; H*W = 36), plain and with a fused
 * ReLU's gate, every gradient added to nonzero values; then that the
 * views were taken. Images forced (rt->image_loads) on devices with
 * images. */
static void image_backward(fk_runtime *rt)
{
    if (!rt->dev.images || !rt->dev.is_cpu)
        return;
    const fk_bn_dims d = {.n = 5, .c = 3, .h = 6, .w = 6, .eps = 1e-5f, .momentum = 0.1f};
    const size_t nx = 5 * 3 * 36, C = 3, at = 8;
    float *x = fk_test_uniform(nx + at, 41, -2.0f, 2.0f), *dy = fk_test_uniform(nx + at, 42, -1.0f, 1.0f);
    float *gate = fk_test_uniform(nx + at, 43, -1.0f, 1.0f), *base = fk_test_uniform(nx + at, 44, -0.5f, 0.5f);
    float par[5 * 3] = {1.2f, 0.7f, -0.4f, 0.1f, -0.3f, 0.5f, 0.2f, -0.1f, 0.3f}; /* gamma, beta, then stats */
    cl_mem mx, mdy, mg, mp, mstat, mgrad[2], mpg[2];
    int bad = fk_test_upload(rt, x, nx + at, &mx) | fk_test_upload(rt, dy, nx + at, &mdy) |
              fk_test_upload(rt, gate, nx + at, &mg) | fk_test_upload(rt, par, 15, &mp) |
              fk_test_upload(rt, par, 15, &mstat);
    for (int i = 0; i < 2; i++)
        bad |= fk_test_upload(rt, base, nx + at, &mgrad[i]) | fk_test_upload(rt, par, 15, &mpg[i]);
    CHECK(!bad, "image backward: buffers");
    if (bad)
        return;
    const fk_tensor tx = {mx, at, 4, {5, 3, 6, 6}}, tdy = {mdy, at, 4, {5, 3, 6, 6}}, tg = {mg, at, 4, {5, 3, 6, 6}};
    const fk_tensor gamma = {mp, 0, 1, {3}}, beta = {mp, 3, 1, {3}};
    const fk_tensor sm = {mstat, 6, 1, {3}}, si = {mstat, 9, 1, {3}}, rm = {mstat, 12, 1, {3}};
    const fk_tensor rv = {mstat, 0, 1, {3}}, nb = {mstat, 5, 1, {1}};
    fk_tensor y = {mgrad[0], at, 4, {5, 3, 6, 6}};
    /* the statistics of x (the forward's output written into a scratch copy, then restored) */
    CHECK(fk_bn_forward_train(rt, y, sm, si, tx, gamma, beta, rm, rv, nb, &d) == FK_OK &&
              fk_buffer_write(rt, mgrad[0], 0, (nx + at) * sizeof(float), base) == FK_OK,
          "image backward: forward: %s", fk_last_error());
    const int saved = rt->image_loads;
    for (int gated = 0; gated < 2; gated++) {
        float *got[2][3];
        for (int images = 0; images < 2; images++) {
            CHECK(fk_buffer_write(rt, mgrad[images], 0, (nx + at) * sizeof(float), base) == FK_OK &&
                      fk_buffer_write(rt, mpg[images], 0, 15 * sizeof(float), par) == FK_OK,
                  "image backward: reset");
            rt->image_loads = images ? 2 : 1;
            const fk_tensor dx = {mgrad[images], at, 4, {5, 3, 6, 6}}, dgam = {mpg[images], 0, 1, {3}};
            const fk_tensor dbet = {mpg[images], 4, 1, {3}};
            fk_status st = gated ? fk_bn_relu_backward(rt, &dx, &dgam, &dbet, tdy, tg, tx, gamma, sm, si, &d)
                                 : fk_bn_backward(rt, &dx, &dgam, &dbet, tdy, tx, gamma, sm, si, &d);
            CHECK(st == FK_OK, "image backward (gated %d, images %d): %s", gated, images, fk_last_error());
            got[images][0] = fk_test_download(rt, dx, nx);
            got[images][1] = fk_test_download(rt, dgam, C);
            got[images][2] = fk_test_download(rt, dbet, C);
        }
        bool viewed = false;
        for (int i = 0; i < rt->nviews; i++)
            viewed |= rt->views[i].buf == mx && rt->views[i].channels == 4;
        CHECK(viewed, "image backward (gated %d): no CL_RGBA view of the input was taken", gated);
        const char *names[3] = {"dx", "dgamma", "dbeta"};
        const size_t counts[3] = {nx, C, C};
        for (int k = 0; k < 3; k++) {
            char what[64];
            snprintf(what, sizeof what, "image backward (gated %d) %s", gated, names[k]);
            if (got[0][k] && got[1][k])
                fk_test_close(what, got[1][k], got[0][k], counts[k], 1e-6, 1e-5);
            free(got[0][k]), free(got[1][k]);
        }
    }
    rt->image_loads = saved;
    cl_mem all[] = {mx, mdy, mg, mp, mstat, mgrad[0], mgrad[1], mpg[0], mpg[1]};
    for (int i = 0; i < 9; i++)
        clReleaseMemObject(all[i]);
    free(x), free(dy), free(gate), free(base);
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    sync_replicas(rt, 1);
    sync_replicas(rt, 2);
    fx_run_cases(rt, f, 7, run_case);
    large_channel(rt);
    finite_difference(rt);
    image_backward(rt);
    fk_error_quiet(1);
    fk_bn_dims one = {.n = 1, .c = 4, .h = 1, .w = 1, .eps = 1e-5f, .momentum = 0.1f};
    fk_tensor t = {0};
    CHECK(fk_bn_forward_train(rt, t, t, t, t, t, t, t, t, t, &one) == FK_ERR_ARG,
          "train mode with one value per channel refused (as PyTorch)");
}

int main(void) { return fk_test_main("test_batchnorm", "batchnorm.safetensors", run); }
