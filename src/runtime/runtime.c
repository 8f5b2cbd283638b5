/* Context, queue, launches and device buffers. */
#include "figkd/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-label time of FIGKD_PROFILE=1 runs (one table per process). */
#define PROFILE_MAX 64
static struct {
    char label[48];
    double seconds;
    long calls;
} profile[PROFILE_MAX];
static int profile_count;

double fk_profile_begin(fk_runtime *rt)
{
    if (!rt->profile)
        return 0;
    clFinish(rt->queue);
    return fk_seconds();
}

void fk_profile_end(fk_runtime *rt, const char *label, double t0)
{
    if (!rt->profile)
        return;
    clFinish(rt->queue);
    double dt = fk_seconds() - t0;
    int i = 0;
    while (i < profile_count && strcmp(profile[i].label, label))
        i++;
    if (i == profile_count) {
        if (profile_count == PROFILE_MAX)
            return;
        snprintf(profile[profile_count++].label, sizeof profile[0].label, "%s", label);
    }
    profile[i].seconds += dt;
    profile[i].calls++;
}

static void profile_print(void)
{
    double total = 0;
    for (int i = 0; i < profile_count; i++)
        total += profile[i].seconds;
    if (!profile_count)
        return;
    fprintf(stderr, "FIGKD_PROFILE: time per layer kind (queue finished around each)\n");
    for (int i = 0; i < profile_count; i++)
        fprintf(stderr, "  %-20s %9.3f s %6.1f%% %8ld calls %9.3f ms/call\n", profile[i].label, profile[i].seconds,
                100 * profile[i].seconds / total, profile[i].calls, 1e3 * profile[i].seconds / profile[i].calls);
    profile_count = 0;
}

static void cache_dir_from_env(fk_runtime *rt)
{
    const char *c = getenv("FIGKD_CACHE");
    rt->disk_cache = !(c && !strcmp(c, "0"));
    const char *dir = getenv("FIGKD_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (dir && *dir)
        snprintf(rt->cache_dir, sizeof rt->cache_dir, "%s", dir);
    else if (xdg && *xdg)
        snprintf(rt->cache_dir, sizeof rt->cache_dir, "%s/figkd-cl", xdg);
    else if (home && *home)
        snprintf(rt->cache_dir, sizeof rt->cache_dir, "%s/.cache/figkd-cl", home);
    else
        rt->disk_cache = false;
}

fk_status fk_runtime_create_spec(const char *spec, fk_runtime **out)
{
    *out = NULL;
    fk_device_info *list;
    int count, index;
    FK_TRY(fk_device_list(&list, &count));
    fk_status st = fk_device_select(list, count, spec, &index);
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
    const char *s = getenv("FIGKD_SYNC");
    rt->sync = s && *s && strcmp(s, "0") != 0;
    const char *prof = getenv("FIGKD_PROFILE");
    rt->profile = prof && *prof && strcmp(prof, "0") != 0;
    cache_dir_from_env(rt);

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

fk_status fk_runtime_create(fk_runtime **out)
{
    return fk_runtime_create_spec(getenv("FIGKD_DEVICE"), out);
}

void fk_program_cache_free(fk_runtime *rt); /* program.c */

void fk_runtime_free(fk_runtime *rt)
{
    if (!rt)
        return;
    if (rt->profile)
        profile_print();
    if (rt->queue) {
        clFinish(rt->queue);
        clReleaseCommandQueue(rt->queue);
    }
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

fk_status fk_launch(fk_runtime *rt, cl_kernel k, cl_uint dims, const size_t *global,
                    const size_t *local, const char *file, int line)
{
    for (cl_uint d = 0; d < dims; d++)
        if (global[d] == 0)
            return FK_OK; /* empty launch: nothing to do */
    cl_int err = clEnqueueNDRangeKernel(rt->queue, k, dims, NULL, global, local, 0, NULL, NULL);
    if (err == CL_SUCCESS && rt->sync)
        err = clFinish(rt->queue);
    if (err != CL_SUCCESS) {
        char name[128] = "?";
        clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        char call[192];
        snprintf(call, sizeof call, "%s of kernel %s", rt->sync ? "clEnqueueNDRangeKernel/clFinish" : "clEnqueueNDRangeKernel", name);
        return fk_cl_fail(err, call, file, line);
    }
    return FK_OK;
}

fk_status fk_buffer_create(fk_runtime *rt, size_t bytes, cl_mem_flags flags, cl_mem *out)
{
    *out = NULL;
    if (bytes == 0)
        bytes = 16;
    if (bytes > rt->dev.max_alloc)
        return fk_error(FK_ERR_CL,
                        "cannot allocate %.1f MiB in one device buffer: %s allows at most %.1f MiB "
                        "per buffer (%.1f MiB in all); try a smaller batch_size",
                        bytes / 1048576.0, rt->dev.name, rt->dev.max_alloc / 1048576.0,
                        rt->dev.global_mem / 1048576.0);
    cl_int err;
    cl_mem m = clCreateBuffer(rt->ctx, flags ? flags : CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err != CL_SUCCESS)
        return fk_error(FK_ERR_CL,
                        "clCreateBuffer of %.1f MiB failed with %s on %s (global memory %.1f MiB, "
                        "max allocation %.1f MiB); try a smaller batch_size",
                        bytes / 1048576.0, fk_cl_errname(err), rt->dev.name,
                        rt->dev.global_mem / 1048576.0, rt->dev.max_alloc / 1048576.0);
    *out = m;
    return FK_OK;
}

fk_status fk_buffer_write(fk_runtime *rt, cl_mem buf, size_t offset_bytes, size_t bytes, const void *src)
{
    if (bytes == 0)
        return FK_OK;
    FK_CL_CHECK(clEnqueueWriteBuffer(rt->queue, buf, CL_TRUE, offset_bytes, bytes, src, 0, NULL, NULL));
    return FK_OK;
}

fk_status fk_buffer_read(fk_runtime *rt, cl_mem buf, size_t offset_bytes, size_t bytes, void *dst)
{
    if (bytes == 0)
        return FK_OK;
    FK_CL_CHECK(clEnqueueReadBuffer(rt->queue, buf, CL_TRUE, offset_bytes, bytes, dst, 0, NULL, NULL));
    return FK_OK;
}

fk_status fk_buffer_fill(fk_runtime *rt, cl_mem buf, size_t offset, size_t count, float value)
{
    if (count == 0)
        return FK_OK;
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "util", "", "fill_f32", &k));
    cl_ulong off = offset, n = count;
    FK_ARG(k, 0, buf);
    FK_ARG(k, 1, off);
    FK_ARG(k, 2, value);
    FK_ARG(k, 3, n);
    size_t global = fk_round_up(count, 64);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}

size_t fk_tensor_numel(const fk_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

fk_status fk_buffer_axpy(fk_runtime *rt, cl_mem y, size_t y_off, cl_mem x, size_t x_off, float a, size_t count)
{
    if (count == 0)
        return FK_OK;
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "util", "", "axpy_f32", &k));
    cl_ulong yo = y_off, xo = x_off, n = count;
    FK_ARG(k, 0, y);
    FK_ARG(k, 1, yo);
    FK_ARG(k, 2, x);
    FK_ARG(k, 3, xo);
    FK_ARG(k, 4, a);
    FK_ARG(k, 5, n);
    size_t global = fk_round_up(count, 64);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}

fk_status fk_buffer_copy(fk_runtime *rt, cl_mem dst, size_t dst_off, cl_mem src, size_t src_off, size_t count)
{
    if (count == 0)
        return FK_OK;
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "util", "", "copy_f32", &k));
    cl_ulong d = dst_off, s = src_off, n = count;
    FK_ARG(k, 0, dst);
    FK_ARG(k, 1, d);
    FK_ARG(k, 2, src);
    FK_ARG(k, 3, s);
    FK_ARG(k, 4, n);
    size_t global = fk_round_up(count, 64);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}
