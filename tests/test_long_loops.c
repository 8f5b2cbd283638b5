/* Kernels whose work-items loop over a long dimension, on shapes where
 * that loop runs past 65535 iterations (Mesa's llvmpipe leaves such loops
 * early, silently; src/runtime/probe.c): conv2d forward with K = C_in*3*3
 * = 4608 and with a 1x1 conv over 4100 channels, and a weight gradient
 * summed over N*HO*WO = 70*1024 products. Every buffer starts as NaN
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

/* out, and (backward) din and dW, against float64 loops on the host */
static void check_conv(fk_runtime *rt, int n, int c_in, int hw, int c_out, int k, int pad, bool backward)
{
    fk_conv_dims d;
    CHECK(fk_conv_dims_init(&d, n, c_in, hw, hw, c_out, k, 1, pad, 1, false) == FK_OK, "dims");
    const int ho = d.h_out, wo = d.w_out;
    size_t nx = (size_t)n * c_in * hw * hw, nw = (size_t)c_out * c_in * k * k, ny = (size_t)n * c_out * ho * wo;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *dy = malloc(ny * sizeof *dy);
    double *y = calloc(ny, sizeof *y), *dx = calloc(nx, sizeof *dx), *dw = calloc(nw, sizeof *dw);
    if (!x || !w || !dy || !y || !dx || !dw) {
        CHECK(0, "host memory");
        goto out;
    }
    fk_test_fill_uniform(x, nx, 1, -1.0f, 1.0f);
    fk_test_fill_uniform(w, nw, 2, -1.0f, 1.0f);
    fk_test_fill_uniform(dy, ny, 3, -1.0f, 1.0f);
    for (int s = 0; s < n; s++)
        for (int co = 0; co < c_out; co++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    size_t yi = (((size_t)s * c_out + co) * ho + oh) * wo + ow;
                    for (int ci = 0; ci < c_in; ci++)
                        for (int kh = 0; kh < k; kh++)
                            for (int kw = 0; kw < k; kw++) {
                                int ih = oh - pad + kh, iw = ow - pad + kw;
                                if (ih < 0 || iw < 0 || ih >= hw || iw >= hw)
                                    continue;
                                size_t xi = (((size_t)s * c_in + ci) * hw + ih) * hw + iw;
                                size_t wi = (((size_t)co * c_in + ci) * k + kh) * k + kw;
                                y[yi] += (double)x[xi] * w[wi];
                                dx[xi] += (double)dy[yi] * w[wi];
                                dw[wi] += (double)dy[yi] * x[xi];
                            }
                }
    size_t nwork = fk_conv_work(&d);
    cl_mem bx = guarded(rt, x, nx, 0), bw = guarded(rt, w, nw, 0), by = guarded(rt, NULL, ny, NAN);
    cl_mem bdy = guarded(rt, dy, ny, 0), bdx = guarded(rt, NULL, nx, 0.0f), bdw = guarded(rt, NULL, nw, 0.0f);
    cl_mem bwork = guarded(rt, NULL, nwork, NAN);
    if (bx && bw && by && bdy && bdx && bdw && bwork) {
        fk_tensor tx = {bx, 0, 4, {n, c_in, hw, hw}}, tw = {bw, 0, 4, {c_out, c_in, k, k}};
        fk_tensor ty = {by, 0, 4, {n, c_out, ho, wo}}, tdy = {bdy, 0, 4, {n, c_out, ho, wo}};
        fk_tensor tdx = {bdx, 0, 4, {n, c_in, hw, hw}}, tdw = {bdw, 0, 4, {c_out, c_in, k, k}};
        fk_tensor twork = {bwork, 0, 1, {(int)nwork, 1, 1, 1}};
        CHECK(fk_conv_forward(rt, ty, tx, tw, NULL, twork, &d) == FK_OK, "forward");
        if (backward)
            CHECK(fk_conv_backward(rt, &tdx, &tdw, NULL, tdy, tx, tw, twork, &d) == FK_OK, "backward");
        float *gy = read_back(rt, by, ny), *gdx = read_back(rt, bdx, nx), *gdw = read_back(rt, bdw, nw);
        float *ry = malloc(ny * sizeof *ry), *rdx = malloc(nx * sizeof *rdx), *rdw = malloc(nw * sizeof *rdw);
        if (gy && gdx && gdw && ry && rdx && rdw) {
            for (size_t i = 0; i < ny; i++)
                ry[i] = (float)y[i];
            for (size_t i = 0; i < nx; i++)
                rdx[i] = (float)dx[i];
            for (size_t i = 0; i < nw; i++)
                rdw[i] = (float)dw[i];
            /* sums of up to 71680 products of numbers in [-1, 1] */
            CHECK(fk_test_close("out", gy, ry, ny, 2e-3, 1e-4) == 0, "conv n%d c_in%d %dx%d c_out%d k%d: out", n,
                  c_in, hw, hw, c_out, k);
            if (backward) {
                CHECK(fk_test_close("din", gdx, rdx, nx, 2e-3, 1e-4) == 0, "conv n%d c_in%d: din", n, c_in);
                CHECK(fk_test_close("dweight", gdw, rdw, nw, 2e-2, 1e-4) == 0, "conv n%d c_in%d: dweight", n,
                      c_in);
            }
        } else {
            CHECK(0, "reading results back");
        }
        free(gy), free(gdx), free(gdw), free(ry), free(rdx), free(rdw);
    }
    cl_mem all[] = {bx, bw, by, bdy, bdx, bdw, bwork};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i])
            clReleaseMemObject(all[i]);
out:
    free(x), free(w), free(dy), free(y), free(dx), free(dw);
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
    check_conv(rt, 1, 512, 1, 8, 3, 1, true);     /* K = 4608 */
    check_conv(rt, 2, 4100, 1, 4, 1, 0, false);   /* 1x1: K = 4100 */
    check_conv(rt, 70, 2, 32, 2, 3, 1, true);     /* dW: 70 * 1024 products */
    fk_runtime_free(rt);
    return fk_test_result("long_loops");
}
