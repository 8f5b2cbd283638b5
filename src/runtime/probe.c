/* Device behaviour that breaks the OpenCL specification, measured once per
 * runtime with a small kernel (cl/probe.cl) so that the ops can avoid it
 * on any driver that shows it, not only the one where it was found.
 *
 * Loop limit: Mesa's llvmpipe (rusticl and clover on the CPU, Mesa 22.3)
 * leaves any loop after 65535 iterations of the compiled loop, silently,
 * and the kernel goes on with wrong values (no error). A kernel whose
 * work-item loops over a long dimension (a GEMM over K = C_in*3*3 = 4608)
 * then gives wrong results. */
#include "figkd/runtime.h"

#include <stdio.h>

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
