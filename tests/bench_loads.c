/* Micro-benchmark of a device's loads: one kernel of 16 loads and 16
 * multiply-adds per iteration, its loads from a global buffer, from a
 * CL_R / CL_FLOAT 1D image on that buffer (read_imagef) and from a
 * CL_RGBA / CL_FLOAT one (four floats per read); nanoseconds per loaded
 * float and work-item. On llvmpipe a global load is a loop over the SIMD
 * lanes; a texel fetch is not (docs/devices.md).
 *
 *   bench_loads [repeats]   (default 3; the device of FIGKD_DEVICE)
 *
 * Best of `repeats` runs after a warm-up, each ended by clFinish. Devices
 * without images time the global loads only. */
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *source =
    "#define SUMS s0 += v0 * v1 + v2 * v3 + v4 * v5 + v6 * v7; s1 += v8 * v9 + v10 * v11 + v12 * v13 + v14 * v15;\n"
    "#define L16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)\n"
    "__kernel void loads_global(__global const float *a, __global float *o, int iters, int mask) {\n"
    "  const int i = get_global_id(0); float s0 = 0, s1 = 0;\n"
    "  for (int it = 0; it < iters; it++) { const int b = (i * 7 + it * 16) & mask & ~3;\n"
    "#define G(j) const float v##j = a[b + j];\n"
    "    L16(G) SUMS }\n"
    "  o[i] = s0 + s1; }\n"
    "#ifdef IMAGES\n"
    "__kernel void loads_image(__read_only image1d_buffer_t a, __global float *o, int iters, int mask) {\n"
    "  const int i = get_global_id(0); float s0 = 0, s1 = 0;\n"
    "  for (int it = 0; it < iters; it++) { const int b = (i * 7 + it * 16) & mask & ~3;\n"
    "#define R(j) const float v##j = read_imagef(a, b + j).x;\n"
    "    L16(R) SUMS }\n"
    "  o[i] = s0 + s1; }\n"
    "__kernel void loads_image4(__read_only image1d_buffer_t a, __global float *o, int iters, int mask) {\n"
    "  const int i = get_global_id(0); float s0 = 0, s1 = 0;\n"
    "  for (int it = 0; it < iters; it++) { const int b = ((i * 7 + it * 16) & mask & ~3) >> 2;\n"
    "    const float4 q0 = read_imagef(a, b), q1 = read_imagef(a, b + 1), q2 = read_imagef(a, b + 2),\n"
    "                 q3 = read_imagef(a, b + 3);\n"
    "    const float v0 = q0.x, v1 = q0.y, v2 = q0.z, v3 = q0.w, v4 = q1.x, v5 = q1.y, v6 = q1.z, v7 = q1.w;\n"
    "    const float v8 = q2.x, v9 = q2.y, v10 = q2.z, v11 = q2.w, v12 = q3.x, v13 = q3.y, v14 = q3.z, v15 = q3.w;\n"
    "    SUMS }\n"
    "  o[i] = s0 + s1; }\n"
    "#endif\n";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    const int repeats = argc > 1 ? atoi(argv[1]) : 3;
    fk_runtime *rt = NULL;
    int r = fk_test_runtime(&rt);
    if (r)
        return r == FK_TEST_SKIP ? 77 : 1;
    const bool images = rt->dev.images;
    cl_int e;
    cl_program prog = clCreateProgramWithSource(rt->ctx, 1, &source, NULL, &e);
    CHECK(e == CL_SUCCESS, "program: %d", e);
    e = clBuildProgram(prog, 1, &rt->dev.device_id, images ? "-DIMAGES" : "", NULL, NULL);
    CHECK(e == CL_SUCCESS, "build: %d", e);
    if (e != CL_SUCCESS)
        return 1;
    const int n = 1 << 20, mask = n - 1 - 16, iters = 2000, items = 4096;
    float *host = malloc((size_t)(n + 64) * sizeof *host);
    for (int i = 0; i < n + 64; i++)
        host[i] = (float)(i % 13) * 0.125f;
    cl_mem a = clCreateBuffer(rt->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, (size_t)(n + 64) * 4, host, &e);
    cl_mem o = clCreateBuffer(rt->ctx, CL_MEM_READ_WRITE, (size_t)items * 4, NULL, &e);
    cl_mem views[3] = {a, NULL, NULL};
    if (images) {
        const cl_image_format fr = {CL_R, CL_FLOAT}, f4 = {CL_RGBA, CL_FLOAT};
        cl_image_desc d;
        memset(&d, 0, sizeof d);
        d.image_type = CL_MEM_OBJECT_IMAGE1D_BUFFER;
        d.buffer = a;
        d.image_width = (size_t)n + 64;
        views[1] = clCreateImage(rt->ctx, CL_MEM_READ_ONLY, &fr, &d, NULL, &e);
        CHECK(e == CL_SUCCESS, "CL_R image: %d", e);
        d.image_width = ((size_t)n + 64) / 4;
        views[2] = clCreateImage(rt->ctx, CL_MEM_READ_ONLY, &f4, &d, NULL, &e);
        CHECK(e == CL_SUCCESS, "CL_RGBA image: %d", e);
    }
    printf("device: %s (%s)\n", rt->dev.name, rt->dev.platform);
    const char *names[3] = {"loads_global", "loads_image", "loads_image4"};
    float first = 0;
    for (int k = 0; k < (images ? 3 : 1); k++) {
        cl_kernel kern = clCreateKernel(prog, names[k], &e);
        clSetKernelArg(kern, 0, sizeof(cl_mem), &views[k]);
        clSetKernelArg(kern, 1, sizeof(cl_mem), &o);
        clSetKernelArg(kern, 2, sizeof iters, &iters);
        clSetKernelArg(kern, 3, sizeof mask, &mask);
        const size_t global = items, local = 64;
        double best = 0;
        for (int i = -1; i < repeats; i++) {
            double t0 = now_ms();
            e = clEnqueueNDRangeKernel(rt->queue, kern, 1, NULL, &global, &local, 0, NULL, NULL);
            clFinish(rt->queue);
            double dt = now_ms() - t0;
            best = i == 0 || (i > 0 && dt < best) ? dt : best;
        }
        float out = 0;
        clEnqueueReadBuffer(rt->queue, o, CL_TRUE, 4, sizeof out, &out, 0, NULL, NULL);
        first = k == 0 ? out : first;
        CHECK(e == CL_SUCCESS && out == first, "%s: launch %d, result %g (global loads: %g)", names[k], e, out, first);
        printf("%-13s %8.1f ms  %.3f ns per loaded float per work-item\n", names[k], best,
               1e6 * best / ((double)items * iters * 16));
        clReleaseKernel(kern);
    }
    for (int k = 1; k < 3; k++)
        if (views[k])
            clReleaseMemObject(views[k]);
    clReleaseMemObject(a), clReleaseMemObject(o), clReleaseProgram(prog);
    free(host);
    fk_runtime_free(rt);
    return fk_test_result("bench_loads");
}
