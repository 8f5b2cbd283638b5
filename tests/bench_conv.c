/* Micro-benchmark of conv2d: forward and backward milliseconds for every
 * convolution of resnet8x4 (CIFAR 32x32, filters 32/64/128/256, one
 * BasicBlock per stage, strides 1/2/2, 1x1 downsample shortcuts), or of
 * resnet8 on 28x28 inputs (filters 16/16/32/64, the quickstart's shapes).
 *
 *   bench_conv [batch] [repeats] [resnet8x4|resnet8]   (defaults: 64, 5, resnet8x4)
 *
 * Backward is timed as two calls: the weight gradient alone ("bwd dW") and
 * the input gradient alone ("bwd dX"; conv1's too, although training does
 * not need it); no bias, as in the model. Times are the median of `repeats`
 * runs, each call ended by clFinish. Run through
 * `meson test --benchmark --suite bench` or directly. */
#include "common.h"

#include "figkd/ops.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const char *name;
    int c_in, hw, c_out, k, stride, pad;
} conv_layer;

static const conv_layer resnet8_28[] = {
    {"conv1", 3, 28, 16, 3, 1, 1},
    {"layer1.0.conv1", 16, 28, 16, 3, 1, 1},
    {"layer1.0.conv2", 16, 28, 16, 3, 1, 1},
    {"layer2.0.conv1", 16, 28, 32, 3, 2, 1},
    {"layer2.0.conv2", 32, 14, 32, 3, 1, 1},
    {"layer2.0.downsample", 16, 28, 32, 1, 2, 0},
    {"layer3.0.conv1", 32, 14, 64, 3, 2, 1},
    {"layer3.0.conv2", 64, 7, 64, 3, 1, 1},
    {"layer3.0.downsample", 32, 14, 64, 1, 2, 0},
};

static const conv_layer resnet8x4[] = {
    {"conv1", 3, 32, 32, 3, 1, 1},
    {"layer1.0.conv1", 32, 32, 64, 3, 1, 1},
    {"layer1.0.conv2", 64, 32, 64, 3, 1, 1},
    {"layer1.0.downsample", 32, 32, 64, 1, 1, 0},
    {"layer2.0.conv1", 64, 32, 128, 3, 2, 1},
    {"layer2.0.conv2", 128, 16, 128, 3, 1, 1},
    {"layer2.0.downsample", 64, 32, 128, 1, 2, 0},
    {"layer3.0.conv1", 128, 16, 256, 3, 2, 1},
    {"layer3.0.conv2", 256, 8, 256, 3, 1, 1},
    {"layer3.0.downsample", 128, 16, 256, 1, 2, 0},
};

static fk_status make(fk_runtime *rt, size_t n, fk_tensor *t, unsigned seed)
{
    memset(t, 0, sizeof *t);
    t->ndim = 1;
    t->shape[0] = (int)n;
    if (n == 0)
        n = 1;
    FK_TRY(fk_buffer_create(rt, n * sizeof(float), 0, &t->buf));
    float *h = malloc(n * sizeof(float));
    if (!h)
        return FK_ERR_NOMEM;
    fk_test_fill_uniform(h, n, seed, -1, 1);
    fk_status st = fk_buffer_write(rt, t->buf, 0, n * sizeof(float), h);
    free(h);
    return st;
}

int main(int argc, char **argv)
{
    long batch = 64, reps = 5;
    const conv_layer *layers = resnet8x4;
    size_t n_layers = sizeof resnet8x4 / sizeof resnet8x4[0];
    if (argc > 3 && !strcmp(argv[3], "resnet8")) {
        layers = resnet8_28;
        n_layers = sizeof resnet8_28 / sizeof resnet8_28[0];
    }
    if ((argc > 1 && (fk_parse_long(argv[1], &batch) || batch <= 0)) ||
        (argc > 2 && (fk_parse_long(argv[2], &reps) || reps <= 0 || reps > 1000)) ||
        (argc > 3 && strcmp(argv[3], "resnet8") && strcmp(argv[3], "resnet8x4"))) {
        fprintf(stderr, "usage: bench_conv [batch] [repeats] [resnet8x4|resnet8]\n");
        return 2;
    }
    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    printf("device: %s (%s)\nbatch %ld, median of %ld runs\n\n", rt->dev.name, rt->dev.platform, batch, reps);
    printf("%-20s %-24s %9s %9s %9s %9s\n", "layer", "shape", "fwd ms", "bwd dW", "bwd dX", "bwd ms");
    double tot_f = 0, tot_w = 0, tot_x = 0;
    double *tf = malloc((size_t)reps * sizeof(double)), *tw = malloc((size_t)reps * sizeof(double)),
           *tx = malloc((size_t)reps * sizeof(double));
    for (size_t i = 0; i < n_layers; i++) {
        fk_conv_dims d;
        fk_status st = fk_conv_dims_init(&d, (int)batch, layers[i].c_in, layers[i].hw, layers[i].hw,
                                         layers[i].c_out, layers[i].k, layers[i].stride, layers[i].pad, 1,
                                         false);
        size_t nx = (size_t)d.n * d.c_in * d.h * d.w, nw = (size_t)d.c_out * d.c_in * d.kh * d.kw,
               no = (size_t)d.n * d.c_out * d.h_out * d.w_out;
        fk_tensor x, w, out, dout, din, dw, work;
        st = st ? st : make(rt, nx, &x, 1);
        st = st ? st : make(rt, nw, &w, 2);
        st = st ? st : make(rt, no, &out, 3);
        st = st ? st : make(rt, no, &dout, 4);
        st = st ? st : make(rt, nx, &din, 5);
        st = st ? st : make(rt, nw, &dw, 6);
        st = st ? st : make(rt, fk_conv_work(&d), &work, 7);
        /* warm-up: kernel builds, CLBlast compilation */
        st = st ? st : fk_conv_forward(rt, out, x, w, NULL, work, &d);
        st = st ? st : fk_conv_backward(rt, &din, &dw, NULL, dout, x, w, work, &d);
        st = st ? st : fk_runtime_finish(rt);
        for (long k = 0; k < reps && !st; k++) {
            double t0 = now_ms();
            st = fk_conv_forward(rt, out, x, w, NULL, work, &d);
            st = st ? st : fk_runtime_finish(rt);
            double t1 = now_ms();
            st = st ? st : fk_conv_backward(rt, NULL, &dw, NULL, dout, x, w, work, &d);
            st = st ? st : fk_runtime_finish(rt);
            double t2 = now_ms();
            st = st ? st : fk_conv_backward(rt, &din, NULL, NULL, dout, x, w, work, &d);
            st = st ? st : fk_runtime_finish(rt);
            tf[k] = t1 - t0;
            tw[k] = t2 - t1;
            tx[k] = now_ms() - t2;
        }
        if (st) {
            fprintf(stderr, "%s: %s\n", layers[i].name, fk_last_error());
            return 1;
        }
        qsort(tf, (size_t)reps, sizeof(double), cmp_double);
        qsort(tw, (size_t)reps, sizeof(double), cmp_double);
        qsort(tx, (size_t)reps, sizeof(double), cmp_double);
        char shape[64];
        snprintf(shape, sizeof shape, "%d->%d %dx%d k%d s%d", d.c_in, d.c_out, d.h, d.w, d.kh, d.stride);
        double f = tf[reps / 2], bw = tw[reps / 2], bx = tx[reps / 2];
        printf("%-20s %-24s %9.1f %9.1f %9.1f %9.1f\n", layers[i].name, shape, f, bw, bx, bw + bx);
        tot_f += f;
        tot_w += bw;
        tot_x += bx;
        clReleaseMemObject(x.buf), clReleaseMemObject(w.buf), clReleaseMemObject(out.buf);
        clReleaseMemObject(dout.buf), clReleaseMemObject(din.buf), clReleaseMemObject(dw.buf);
        clReleaseMemObject(work.buf);
    }
    printf("%-20s %-24s %9.1f %9.1f %9.1f %9.1f\n", "total", "", tot_f, tot_w, tot_x, tot_w + tot_x);
    printf("forward + backward: %.1f ms per batch of %ld\n", tot_f + tot_w + tot_x, batch);
    free(tf), free(tw), free(tx);
    fk_runtime_free(rt);
    return 0;
}
