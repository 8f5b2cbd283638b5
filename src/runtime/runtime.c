/* Context and queue: a runtime is created here, on the device its options
 * select, and freed with its programs and kernels. The layers below it:
 * options.c (the environment), device.c (devices, no runtime), program.c
 * and kernels.c (programs and kernels of a runtime). */
#include "figkd/runtime.h"

#include <clblast_c.h>

#include <stdio.h>
#include <stdlib.h>

fk_status fk_runtime_create_opts(const fk_runtime_options *opts, fk_runtime **out)
{
    *out = NULL;
    fk_device_info *list;
    int count, index;
    char spec[256];
    FK_TRY(fk_device_spec_for_rank(opts->device, opts->local_rank, spec, sizeof spec));
    FK_TRY(fk_device_list(&list, &count));
    fk_status st = fk_device_select(list, count, spec, &index);
    if (st == FK_OK && !spec[0] && opts->local_rank > 0) {
        /* ranks on one node: local rank i takes the i-th GPU (round robin
         * when there are fewer), or with none, the default device */
        int gpus = 0;
        for (int i = 0; i < count; i++)
            gpus += list[i].is_gpu;
        for (int i = 0, k = 0; gpus > 0 && i < count; i++)
            if (list[i].is_gpu && k++ == opts->local_rank % gpus)
                index = i;
    }
    if (st != FK_OK) {
        free(list);
        return st;
    }
    fk_runtime *rt = fk_calloc(1, sizeof *rt);
    if (!rt) {
        free(list);
        return FK_ERR_NOMEM;
    }
    rt->dev = list[index];
    free(list);
    rt->opts = *opts;

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)rt->dev.platform_id, 0};
    rt->ctx = clCreateContext(props, 1, &rt->dev.device_id, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        st = fk_cl_fail(err, "clCreateContext", __FILE__, __LINE__);
        free(rt);
        return st;
    }
    rt->queue = clCreateCommandQueue(rt->ctx, rt->dev.device_id, 0, &err);
    if (err != CL_SUCCESS) {
        st = fk_cl_fail(err, "clCreateCommandQueue", __FILE__, __LINE__);
        clReleaseContext(rt->ctx);
        free(rt);
        return st;
    }
    *out = rt;
    return FK_OK;
}

fk_status fk_runtime_create_spec(const char *spec, fk_runtime **out)
{
    *out = NULL;
    fk_runtime_options opts;
    FK_TRY(fk_runtime_options_from_env(&opts));
    snprintf(opts.device, sizeof opts.device, "%s", spec ? spec : "");
    return fk_runtime_create_opts(&opts, out);
}

fk_status fk_runtime_create(fk_runtime **out)
{
    *out = NULL;
    fk_runtime_options opts;
    FK_TRY(fk_runtime_options_from_env(&opts));
    return fk_runtime_create_opts(&opts, out);
}

void fk_runtime_free(fk_runtime *rt)
{
    if (!rt)
        return;
    if (rt->opts.profile)
        fk_profile_print();
    if (rt->queue) {
        clFinish(rt->queue);
        clReleaseCommandQueue(rt->queue);
    }
    /* CLBlast keeps its programs in a process-wide cache that it would
     * release from a static destructor at exit, after the OpenCL
     * implementation may be gone (Oclgrind then corrupts the heap): release
     * them here, while the implementation is alive (the cache fills again
     * for a runtime still in use) */
    CLBlastClearCache();
    for (int i = 0; i < rt->nviews; i++)
        clReleaseMemObject(rt->views[i].img);
    free(rt->variants); /* the kernels are the program cache's */
    free(rt->tune);
    fk_program_cache_free(rt);
    if (rt->ctx)
        clReleaseContext(rt->ctx);
    free(rt);
}

fk_status fk_runtime_finish(fk_runtime *rt)
{
    FK_CL_CHECK(clFinish(rt->queue));
    return FK_OK;
}
