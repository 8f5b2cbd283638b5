/* Kernels whose work-items loop over a long dimension, on shapes where
 * that loop runs past 65535 iterations (Mesa's llvmpipe leaves such loops
 * early, silently; src/runtime/probe.c): conv2d forward with K = C_in*3*3
 * = 4608 and with a 1x1 conv over 4100 channels, and weight and bias
 * gradients summed over N*HO*WO = 70*1024 products, through the GEMMs and
 * through the direct (depthwise) kernels. Every buffer starts as NaN
 * (the accumulated gradients as 0 inside a NaN tail), so a result that is
 * never written, or a read outside what was written, shows as NaN. Run on
 * the device's default conv path and with FIGKD_CONV_GEMM=wi (the variant
 * for such devices) on any device. */
#include "common.h"

#include "figkd/ops.h"

#include <math.h>
#include <stdlib.h>

#define GUARD 1024 /* NaN elements after every tensor */

static cl_mem guarded(fk_runtime *rt, const float *host, size_t n, float inside)
{
    cl_mem m = NULL;
    if (fk_buffer_create(rt, (n + GUARD) * sizeof(float), 0, &m) != FK_OK ||
        fk_buffer_fill(rt, m, 0, n + GUARD, NAN) != FK_OK ||
        (host ? fk_buffer_write(rt, m, 0, n * sizeof(float), host) : fk_buffer_fill(rt, m, 0, n, inside)) != FK_OK) {
        CHECK(0, "buffer of %zu floats", n);
        if (m)
            clReleaseMemObject(m);
        return NULL;
    }
    return m;
}

static float *read_back(fk_runtime *rt, cl_mem m, size_t n)
{
    float *h = malloc(n * sizeof *h);
    if (h && fk_buffer_read(rt, m, 0, n * sizeof *h, h) != FK_OK) {
        free(h);
        return NULL;
    }
    return h;
}

/* out, and (backward) din, dW and dbias, against float64 loops on the
 * host; groups > 1 takes the direct kernels */
static void check_conv(fk_runtime *rt, int n, int c_in, int hw, int c_out, int k, int pad, int groups, bool bias,
                       bool backward)
{
    fk_conv_dims d;
    CHECK(fk_conv_dims_init(&d, n, c_in, hw, hw, c_out, k, 1, pad, groups, bias) == FK_OK, "dims");
    const int ho = d.h_out, wo = d.w_out, cipg = c_in / groups, copg = c_out / groups;
    size_t nx = (size_t)n * c_in * hw * hw, nw = (size_t)c_out * cipg * k * k, ny = (size_t)n * c_out * ho * wo;
    size_t nb = bias ? (size_t)c_out : 1;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *dy = malloc(ny * sizeof *dy);
    float *b = malloc(nb * sizeof *b);
    double *y = calloc(ny, sizeof *y), *dx = calloc(nx, sizeof *dx), *dw = calloc(nw, sizeof *dw);
    double *db = calloc(nb, sizeof *db);
    if (!x || !w || !dy || !b || !y || !dx || !dw || !db) {
        CHECK(0, "host memory");
        goto out;
    }
    fk_test_fill_uniform(x, nx, 1, -1.0f, 1.0f);
    fk_test_fill_uniform(w, nw, 2, -1.0f, 1.0f);
    fk_test_fill_uniform(dy, ny, 3, -1.0f, 1.0f);
    fk_test_fill_uniform(b, nb, 4, -1.0f, 1.0f);
    for (int s = 0; s < n; s++)
        for (int co = 0; co < c_out; co++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    size_t yi = (((size_t)s * c_out + co) * ho + oh) * wo + ow;
                    if (bias) {
                        y[yi] += b[co];
                        db[co] += dy[yi];
                    }
                    for (int cl = 0; cl < cipg; cl++)
                        for (int kh = 0; kh < k; kh++)
                            for (int kw = 0; kw < k; kw++) {
                                int ih = oh - pad + kh, iw = ow - pad + kw;
                                if (ih < 0 || iw < 0 || ih >= hw || iw >= hw)
                                    continue;
                                size_t xi = (((size_t)s * c_in + co / copg * cipg + cl) * hw + ih) * hw + iw;
                                size_t wi = (((size_t)co * cipg + cl) * k + kh) * k + kw;
                                y[yi] += (double)x[xi] * w[wi];
                                dx[xi] += (double)dy[yi] * w[wi];
                                dw[wi] += (double)dy[yi] * x[xi];
                            }
                }
    size_t nwork = fk_conv_work(&d);
    cl_mem bx = guarded(rt, x, nx, 0), bw = guarded(rt, w, nw, 0), by = guarded(rt, NULL, ny, NAN);
    cl_mem bdy = guarded(rt, dy, ny, 0), bdx = guarded(rt, NULL, nx, 0.0f), bdw = guarded(rt, NULL, nw, 0.0f);
    cl_mem bb = guarded(rt, b, nb, 0), bdb = guarded(rt, NULL, nb, 0.0f);
    cl_mem bwork = guarded(rt, NULL, nwork ? nwork : 1, NAN);
    if (bx && bw && by && bdy && bdx && bdw && bb && bdb && bwork) {
        fk_tensor tx = {bx, 0, 4, {n, c_in, hw, hw}}, tw = {bw, 0, 4, {c_out, cipg, k, k}};
        fk_tensor ty = {by, 0, 4, {n, c_out, ho, wo}}, tdy = {bdy, 0, 4, {n, c_out, ho, wo}};
        fk_tensor tdx = {bdx, 0, 4, {n, c_in, hw, hw}}, tdw = {bdw, 0, 4, {c_out, cipg, k, k}};
        fk_tensor tb = {bb, 0, 1, {c_out, 1, 1, 1}}, tdb = {bdb, 0, 1, {c_out, 1, 1, 1}};
        fk_tensor twork = {bwork, 0, 1, {(int)nwork, 1, 1, 1}};
        CHECK(fk_conv_forward(rt, ty, tx, tw, bias ? &tb : NULL, twork, &d) == FK_OK, "forward");
        if (backward)
            CHECK(fk_conv_backward(rt, &tdx, &tdw, bias ? &tdb : NULL, tdy, tx, tw, twork, &d) == FK_OK,
                  "backward");
        float *gy = read_back(rt, by, ny), *gdx = read_back(rt, bdx, nx), *gdw = read_back(rt, bdw, nw);
        float *gdb = read_back(rt, bdb, nb), *rdb = malloc(nb * sizeof *rdb);
        float *ry = malloc(ny * sizeof *ry), *rdx = malloc(nx * sizeof *rdx), *rdw = malloc(nw * sizeof *rdw);
        if (gy && gdx && gdw && gdb && ry && rdx && rdw && rdb) {
            for (size_t i = 0; i < ny; i++)
                ry[i] = (float)y[i];
            for (size_t i = 0; i < nx; i++)
                rdx[i] = (float)dx[i];
            for (size_t i = 0; i < nw; i++)
                rdw[i] = (float)dw[i];
            for (size_t i = 0; i < nb; i++)
                rdb[i] = (float)db[i];
            /* sums of up to 71680 products of numbers in [-1, 1] */
            CHECK(fk_test_close("out", gy, ry, ny, 2e-3, 1e-4) == 0, "conv n%d c_in%d %dx%d c_out%d k%d: out", n,
                  c_in, hw, hw, c_out, k);
            if (backward) {
                CHECK(fk_test_close("din", gdx, rdx, nx, 2e-3, 1e-4) == 0, "conv n%d c_in%d: din", n, c_in);
                CHECK(fk_test_close("dweight", gdw, rdw, nw, 2e-2, 1e-4) == 0, "conv n%d c_in%d: dweight", n,
                      c_in);
                if (bias)
                    CHECK(fk_test_close("dbias", gdb, rdb, nb, 2e-2, 1e-4) == 0, "conv n%d c_in%d: dbias", n,
                          c_in);
            }
        } else {
            CHECK(0, "reading results back");
        }
        free(gy), free(gdx), free(gdw), free(gdb), free(ry), free(rdx), free(rdw), free(rdb);
    }
    cl_mem all[] = {bx, bw, by, bdy, bdx, bdw, bb, bdb, bwork};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            clReleaseMemObject(all[i]);
out:
    free(x), free(w), free(dy), free(b), free(y), free(dx), free(dw), free(db);
}

/* The driver behaviour itself: loop_probe_split counts 2^20 iterations in
 * 4096-long inner loops. A device that leaves long loops early cuts it as
 * early as the single loop (the limit counts all of a kernel's loops
 * together, so only slices per launch avoid it); any other runs it in full. */
static void check_split_probe(fk_runtime *rt, long limit)
{
    cl_kernel k;
    cl_mem out = NULL, in = NULL;
    int ones[16], res[2] = {-1, -1}, n = 1 << 20, chunk = 4096;
    for (int i = 0; i < 16; i++)
        ones[i] = 1;
    size_t one = 1;
    bool ok = fk_kernel(rt, FK_K_LOOP_PROBE_SPLIT, &k) == FK_OK &&
              fk_buffer_create(rt, sizeof res, 0, &out) == FK_OK && fk_buffer_create(rt, sizeof ones, 0, &in) == FK_OK &&
              fk_buffer_write(rt, out, 0, sizeof res, res) == FK_OK &&
              fk_buffer_write(rt, in, 0, sizeof ones, ones) == FK_OK;
    if (ok) {
        const fk_arg args[] = {FK_A(out), FK_A(in), FK_A(n), FK_A(chunk)};
        ok = fk_run(rt, k, 1, &one, &one, 4, args, __FILE__, __LINE__) == FK_OK &&
             fk_buffer_read(rt, out, 0, sizeof res, res) == FK_OK;
    }
    CHECK(ok && res[1] == 1, "loop_probe_split ran: %s", ok ? "" : fk_last_error());
    if (ok && res[1] == 1) {
        printf("  loop probe in %d-long pieces: %d of %d iterations ran\n", chunk, res[0], n);
        if (limit)
            CHECK(res[0] < n, "a device that cuts one long loop (%ld) ran the same count in pieces in full", limit);
        else
            CHECK(res[0] == n, "the loop in pieces ran %d of %d iterations", res[0], n);
    }
    if (out)
        clReleaseMemObject(out);
    if (in)
        clReleaseMemObject(in);
}

int main(void)
{
    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    long limit = -1;
    CHECK(fk_device_loop_limit(rt, &limit) == FK_OK, "loop probe");
    printf("%s: %s\n", rt->dev.name, limit ? "leaves long loops early" : "runs long loops in full");
    if (limit)
        printf("  loop probe: %ld of 1048576 iterations ran\n", limit);
    check_split_probe(rt, limit);
    check_conv(rt, 1, 512, 1, 8, 3, 1, 1, false, true);   /* K = 4608 */
    check_conv(rt, 2, 4100, 1, 4, 1, 0, 1, false, false); /* 1x1: K = 4100 */
    check_conv(rt, 70, 2, 32, 2, 3, 1, 1, true, true);    /* dW and dbias: 70 * 1024 products */
    check_conv(rt, 70, 2, 32, 2, 3, 1, 2, true, true);    /* depthwise (direct kernels): the same */
    fk_runtime_free(rt);
    return fk_test_result("long_loops");
}
