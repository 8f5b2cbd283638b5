/* Kernel launches: arguments by type (fk_run) and the checked enqueue. */
#include "figkd/runtime.h"

#include <stdio.h>

/* name of a kernel for a message */
static void kernel_name(cl_kernel k, char *name, size_t size)
{
    snprintf(name, size, "?");
    clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, size, name, NULL);
}

fk_status fk_launch(fk_runtime *rt, cl_kernel k, cl_uint dims, const size_t *global,
                    const size_t *local, const char *file, int line)
{
    for (cl_uint d = 0; d < dims; d++)
        if (global[d] == 0)
            return FK_OK; /* empty launch: nothing to do */
    cl_int err = clEnqueueNDRangeKernel(rt->queue, k, dims, NULL, global, local, 0, NULL, NULL);
    if (err == CL_SUCCESS && rt->opts.sync)
        err = clFinish(rt->queue);
    if (err != CL_SUCCESS) {
        char name[128], call[192];
        kernel_name(k, name, sizeof name);
        snprintf(call, sizeof call, "%s of kernel %s",
                 rt->opts.sync ? "clEnqueueNDRangeKernel/clFinish" : "clEnqueueNDRangeKernel", name);
        return fk_cl_fail(err, call, file, line);
    }
    return FK_OK;
}

fk_status fk_run(fk_runtime *rt, cl_kernel k, cl_uint dims, const size_t *global, const size_t *local,
                 int nargs, const fk_arg *args, const char *file, int line)
{
    cl_uint want = 0;
    FK_CL_CHECK(clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof want, &want, NULL));
    if ((cl_uint)nargs != want) {
        char name[128];
        kernel_name(k, name, sizeof name);
        return fk_error(FK_ERR_ARG, "kernel %s takes %u arguments, %d given at %s:%d", name, want, nargs,
                        file, line);
    }
    for (int i = 0; i < nargs; i++) {
        cl_int err = clSetKernelArg(k, (cl_uint)i, args[i].size, &args[i].v);
        if (err != CL_SUCCESS) {
            char name[128], call[224];
            kernel_name(k, name, sizeof name);
            snprintf(call, sizeof call, "clSetKernelArg of kernel %s, argument %d (%zu bytes)", name, i,
                     args[i].size);
            return fk_cl_fail(err, call, file, line);
        }
    }
    return fk_launch(rt, k, dims, global, local, file, line);
}
