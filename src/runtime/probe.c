/* Device behaviour that breaks the OpenCL specification, measured once per
 * runtime with a small kernel (cl/probe.cl) so that the ops can avoid it
 * on any driver that shows it, not only the one where it was found.
 *
 * Loop limit: Mesa's llvmpipe (rusticl and clover on the CPU, Mesa 22.3)
 * leaves any loop after 65535 iterations of the compiled loop, silently,
 * and the kernel goes on with wrong values (no error). A kernel whose
 * work-item loops over a long dimension (a GEMM over K = C_in*3*3 = 4608)
 * then gives wrong results.
 *
 * Image reads: on llvmpipe a load from a buffer is a loop over the SIMD
 * lanes, a texel fetch is not; on PoCL the reverse. The convs and
 * BatchNorm take image views where a probe finds them cheaper
 * (fk_device_image_loads). */
#include "figkd/runtime.h"

#include <stdio.h>
#include <stdlib.h>

#define PROBE_ITERATIONS (1 << 20)

static fk_status probe_loops(fk_runtime *rt, long *limit)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_LOOP_PROBE, &k));
    cl_mem out = NULL, in = NULL;
    int ones[16], res[2] = {-1, -1}, n = PROBE_ITERATIONS;
    for (int i = 0; i < 16; i++)
        ones[i] = 1;
    fk_status st = fk_buffer_create(rt, sizeof res, 0, &out);
    if (st == FK_OK)
        st = fk_buffer_create(rt, sizeof ones, 0, &in);
    if (st == FK_OK)
        st = fk_buffer_write(rt, out, 0, sizeof res, res);
    if (st == FK_OK)
        st = fk_buffer_write(rt, in, 0, sizeof ones, ones);
    size_t one = 1;
    if (st == FK_OK) {
        const fk_arg args[] = {FK_A(out), FK_A(in), FK_A(n)};
        st = fk_run(rt, k, 1, &one, &one, 3, args, __FILE__, __LINE__);
    }
    if (st == FK_OK)
        st = fk_buffer_read(rt, out, 0, sizeof res, res);
    if (out)
        clReleaseMemObject(out);
    if (in)
        clReleaseMemObject(in);
    FK_TRY(st);
    if (res[1] != 1)
        return fk_error(FK_ERR_CL, "loop probe: the kernel did not run on %s", rt->dev.name);
    *limit = res[0] >= n ? 0 : res[0];
    return FK_OK;
}

fk_status fk_device_loop_limit(fk_runtime *rt, long *limit)
{
    if (!rt->loops_probed) {
        FK_TRY(probe_loops(rt, &rt->loop_limit));
        rt->loops_probed = true;
    }
    *limit = rt->loop_limit;
    return FK_OK;
}

#define IMAGE_PROBE_ITEMS 1024
#define IMAGE_PROBE_FLOATS 4112  /* the kernels read texels [0, 1024 + 3] */
#define IMAGE_PROBE_SECONDS 3e-3 /* what the buffer loads are sized to take */

/* the best of `runs` launches of kernel k with `iters`, in seconds, each
 * ended by a queue finish; stops after the first when that already took
 * `enough` (> 0) */
static fk_status time_probe(fk_runtime *rt, cl_kernel k, cl_mem out, cl_mem src, int iters, int runs,
                            double enough, double *best)
{
    const size_t global = IMAGE_PROBE_ITEMS, local = 64;
    const fk_arg args[] = {FK_A(out), FK_A(src), FK_A(iters)};
    for (int i = 0; i < runs; i++) {
        double t0 = fk_seconds();
        FK_TRY(fk_run(rt, k, 1, &global, &local, 3, args, __FILE__, __LINE__));
        FK_TRY(fk_runtime_finish(rt));
        double dt = fk_seconds() - t0;
        *best = i == 0 || dt < *best ? dt : *best;
        if (i == 0 && enough > 0 && dt >= enough)
            break;
    }
    return FK_OK;
}

static fk_status probe_images(fk_runtime *rt, bool *faster)
{
    *faster = false;
    cl_kernel kb, ki;
    FK_TRY(fk_kernel(rt, FK_K_IMAGE_PROBE_BUFFER, &kb));
    FK_TRY(fk_kernel(rt, FK_K_IMAGE_PROBE_IMAGE, &ki));
    cl_mem out = NULL, src = NULL, img = NULL;
    float *host = fk_malloc(IMAGE_PROBE_FLOATS * sizeof *host);
    if (!host)
        return FK_ERR_NOMEM;
    for (int i = 0; i < IMAGE_PROBE_FLOATS; i++)
        host[i] = (float)(i % 13) * 0.125f;
    fk_status st = fk_buffer_create(rt, IMAGE_PROBE_ITEMS * sizeof(float), 0, &out);
    if (!st)
        st = fk_buffer_create(rt, IMAGE_PROBE_FLOATS * sizeof(float), 0, &src);
    if (!st)
        st = fk_buffer_write(rt, src, 0, IMAGE_PROBE_FLOATS * sizeof(float), host);
    if (!st) /* the view the texel convs would take (kept by the runtime) */
        st = fk_buffer_image4(rt, src, &img);
    if (!st && !img)
        st = fk_error(FK_ERR_CL, "image probe: no image view of %d floats on %s", IMAGE_PROBE_FLOATS, rt->dev.name);
    /* one short launch of each first (some devices compile a program at
     * its first launch); then iterations enough for the buffer loads to
     * take IMAGE_PROBE_SECONDS (rusticl spends 0.4 ms launching any
     * kernel), at most 4096, and the best of three; the image reads stop
     * at the first once they take twice that */
    double t_buf = 0, t_img = 0, t = 0;
    float a = 0, b = 1;
    int iters = 64;
    if (!st)
        st = time_probe(rt, kb, out, src, 1, 1, 0, &t);
    if (!st)
        st = time_probe(rt, ki, out, img, 1, 1, 0, &t);
    while (!st) {
        st = time_probe(rt, kb, out, src, iters, 1, 0, &t_buf);
        if (st || t_buf >= IMAGE_PROBE_SECONDS || iters >= 4096)
            break;
        iters *= 4;
    }
    if (!st)
        st = time_probe(rt, kb, out, src, iters, 2, 0, &t);
    t_buf = t < t_buf ? t : t_buf;
    if (!st)
        st = fk_buffer_read(rt, out, 4 * sizeof(float), sizeof a, &a);
    if (!st)
        st = time_probe(rt, ki, out, img, iters, 3, 2 * t_buf, &t_img);
    /* a close call timed again, each way's best kept (llvmpipe's times
     * vary by a third from run to run) */
    for (int again = 0; again < 2 && !st && t_img >= 0.6 * t_buf && t_img < 1.2 * t_buf; again++) {
        double tb, ti;
        st = time_probe(rt, kb, out, src, iters, 3, 0, &tb);
        if (!st)
            st = time_probe(rt, ki, out, img, iters, 3, 0, &ti);
        t_buf = tb < t_buf ? tb : t_buf;
        t_img = ti < t_img ? ti : t_img;
    }
    if (!st)
        st = fk_buffer_read(rt, out, 4 * sizeof(float), sizeof b, &b);
    if (!st && a != b)
        st = fk_error(FK_ERR_CL, "image probe: an image read gave %g where the buffer gave %g on %s", b, a,
                      rt->dev.name);
    *faster = !st && t_img < 0.8 * t_buf;
    if (src)
        clReleaseMemObject(src);
    if (out)
        clReleaseMemObject(out);
    free(host);
    return st;
}

fk_status fk_device_image_loads(fk_runtime *rt, bool *use)
{
    if (!rt->image_loads) {
        bool yes = false;
        const bool images = rt->dev.images;
        if (rt->opts.images == FK_SWITCH_ON && !images)
            return fk_error(FK_ERR_ARG, "FIGKD_IMAGES=1: %s has no image support", rt->dev.name);
        if (rt->opts.images == FK_SWITCH_ON)
            yes = true;
        else if (rt->opts.images == FK_SWITCH_DEFAULT && images)
            FK_TRY(probe_images(rt, &yes));
        rt->image_loads = yes ? 2 : 1;
    }
    *use = rt->image_loads == 2;
    return FK_OK;
}
