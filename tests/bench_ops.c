/* Micro-benchmark of the layer ops on the FIGKD_DEVICE device at CIFAR
 * ResNet sizes: milliseconds per call (best of several) and the memory
 * traffic that implies. Run with `meson test -C build --benchmark --suite bench`
 * or directly; BENCH_N=<batch> changes the batch (default 64). */
#include "common.h"
#include "figkd/ops.h"

#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

#define REPS 5
#define TIME(label, bytes, call)                                                           \
    do {                                                                                   \
        double best = 1e30;                                                                \
        for (int r_ = 0; r_ < REPS + 1; r_++) { /* first run builds the kernel */          \
            fk_runtime_finish(rt);                                                         \
            double t0 = now_ms();                                                          \
            fk_status st_ = (call);                                                        \
            fk_runtime_finish(rt);                                                         \
            double t = now_ms() - t0;                                                      \
            if (st_ != FK_OK) {                                                            \
                fprintf(stderr, "%s: %s\n", label, fk_last_error());                       \
                return 1;                                                                  \
            }                                                                              \
            if (r_ > 0 && t < best)                                                        \
                best = t;                                                                  \
        }                                                                                  \
        printf("%-44s %9.3f ms %8.2f GB/s\n", label, best, (double)(bytes) / best / 1e6);  \
    } while (0)

int main(void)
{
    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    const char *bn_env = getenv("BENCH_N");
    long nl = 64;
    if (bn_env && fk_parse_long(bn_env, &nl) != 0)
        nl = 64;
    int n = (int)nl, c = 64, h = 32, w = 32;
    size_t big = (size_t)n * c * h * w, f = sizeof(float);
    printf("device: %s (%s); batch %d, activations (%d, %d, %d, %d)\n", rt->dev.name, rt->dev.platform, n, n, c, h,
           w);
    cl_mem a, b, g, p;
    if (fk_buffer_create(rt, big * f, 0, &a) || fk_buffer_create(rt, big * f, 0, &b) ||
        fk_buffer_create(rt, big * f, 0, &g) || fk_buffer_create(rt, 16 * 1024 * f, 0, &p))
        return 1;
    fk_buffer_fill(rt, a, 0, big, 0.5f);
    fk_buffer_fill(rt, b, 0, big, 0.25f);
    fk_buffer_fill(rt, g, 0, big, 0.0f);
    fk_buffer_fill(rt, p, 0, 16 * 1024, 1.0f);
    fk_tensor ta = {.buf = a}, tb = {.buf = b}, tg = {.buf = g};
    fk_tensor pv[8];
    for (int i = 0; i < 8; i++)
        pv[i] = (fk_tensor){.buf = p, .off = (size_t)i * 1024};
    fk_bn_dims bd = {.n = n, .c = c, .h = h, .w = w, .eps = 1e-5f, .momentum = 0.1f};
    TIME("bn forward train", 3 * big * f,
         fk_bn_forward_train(rt, tb, pv[0], pv[1], ta, pv[2], pv[3], pv[4], pv[5], pv[6], &bd));
    TIME("bn forward eval", 2 * big * f, fk_bn_forward_eval(rt, tb, ta, pv[2], pv[3], pv[4], pv[5], &bd));
    TIME("bn backward (dx, dgamma, dbeta)", 6 * big * f,
         fk_bn_backward(rt, &tg, &pv[7], &pv[6], tb, ta, pv[2], pv[0], pv[1], &bd));
    TIME("relu forward", 2 * big * f, fk_relu_forward(rt, tb, ta, big));
    TIME("relu backward", 4 * big * f, fk_relu_backward(rt, tg, tb, ta, big));
    TIME("add forward", 3 * big * f, fk_add_forward(rt, tg, ta, tb, big));
    fk_pool_dims pd;
    fk_pool_dims_init(&pd, n, c, h, w, 3, 2, 1);
    size_t small = (size_t)n * c * pd.h_out * pd.w_out;
    TIME("maxpool 3x3 s2 p1 forward", (big + small) * f, fk_maxpool_forward(rt, tb, ta, &pd));
    TIME("maxpool 3x3 s2 p1 backward", (2 * big + small) * f, fk_maxpool_backward(rt, tg, tb, ta, &pd));
    TIME("avgpool 3x3 s2 p1 forward", (big + small) * f, fk_avgpool_forward(rt, tb, ta, &pd));
    TIME("avgpool 3x3 s2 p1 backward", (2 * big + small) * f, fk_avgpool_backward(rt, tg, tb, &pd));
    TIME("global average pool forward", big * f, fk_gap_forward(rt, tb, ta, n, c, h * w));
    TIME("shuffle g=4 forward", 2 * big * f, fk_shuffle_forward(rt, tb, ta, n, c, 4, h * w));
    TIME("concat 32+32 forward", 2 * big * f, fk_concat_forward(rt, tb, ta, tg, n, 32, 32, h * w));
    int in_f = 256, out_f = 100;
    TIME("linear 256 -> 100 forward (bias)", ((size_t)n * (in_f + out_f) + (size_t)in_f * out_f) * f,
         fk_linear_forward(rt, tb, ta, tg, &pv[0], n, in_f, out_f));
    TIME("linear 256 -> 100 backward", 2 * ((size_t)n * (in_f + out_f) + (size_t)in_f * out_f) * f,
         fk_linear_backward(rt, &tb, &tg, &pv[1], ta, tb, tg, n, in_f, out_f));
    clReleaseMemObject(a), clReleaseMemObject(b), clReleaseMemObject(g), clReleaseMemObject(p);
    fk_runtime_free(rt);
    return 0;
}
