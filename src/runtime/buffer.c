/* Device buffers: allocation with a readable failure, transfers, and the
 * fill / axpy / copy kernels of cl/util.cl. */
#include "figkd/runtime.h"

#include <limits.h>
#include <string.h>

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

/* Whether a slot holds one of the views returned last (rt->held: slots + 1, 0 for none) */
static bool held(const fk_runtime *rt, int slot)
{
    for (int i = 0; i < FK_VIEWS_HELD; i++)
        if (rt->held[i] == slot + 1)
            return true;
    return false;
}

/* slot's view returned now: the newest of the held */
static void hold(fk_runtime *rt, int slot)
{
    int i = 0;
    while (i < FK_VIEWS_HELD - 1 && rt->held[i] != slot + 1)
        i++;
    for (; i > 0; i--)
        rt->held[i] = rt->held[i - 1];
    rt->held[0] = slot + 1;
}

/* fk_buffer_image (channels 1: CL_R) and fk_buffer_image4 (4: CL_RGBA) */
static fk_status buffer_view(fk_runtime *rt, cl_mem buf, int channels, cl_mem *img)
{
    *img = NULL;
    for (int i = 0; i < rt->nviews; i++)
        if (rt->views[i].buf == buf && rt->views[i].channels == channels) {
            *img = rt->views[i].img;
            hold(rt, i);
            return FK_OK;
        }
    size_t bytes = 0, most = 0;
    FK_CL_CHECK(clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    FK_CL_CHECK(clGetDeviceInfo(rt->dev.device_id, CL_DEVICE_IMAGE_MAX_BUFFER_SIZE, sizeof most, &most, NULL));
    const size_t texels = bytes / sizeof(float) / (size_t)channels;
    if (texels > most || texels > INT_MAX || texels == 0)
        return FK_OK;
    const cl_image_format format = {channels == 4 ? CL_RGBA : CL_R, CL_FLOAT};
    cl_image_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.image_type = CL_MEM_OBJECT_IMAGE1D_BUFFER;
    desc.image_width = texels;
    desc.buffer = buf;
    cl_int err;
    cl_mem m = clCreateImage(rt->ctx, CL_MEM_READ_ONLY, &format, &desc, NULL, &err);
    if (err != CL_SUCCESS)
        return fk_error(FK_ERR_CL, "clCreateImage of a %zu-texel %s view failed with %s on %s", desc.image_width,
                        channels == 4 ? "CL_RGBA" : "CL_R", fk_cl_errname(err), rt->dev.name);
    /* a free slot, else the oldest but never one of the FK_VIEWS_HELD
     * views returned last (a caller may hold them for the same launch) */
    const int cap = (int)(sizeof rt->views / sizeof rt->views[0]);
    int slot = rt->nviews < cap ? rt->nviews++ : rt->next_view;
    while (rt->nviews == cap && held(rt, slot))
        slot = (slot + 1) % cap;
    if (rt->nviews == cap)
        rt->next_view = (slot + 1) % cap;
    if (rt->views[slot].img)
        clReleaseMemObject(rt->views[slot].img);
    rt->views[slot] = (struct fk_image_view){buf, m, channels};
    hold(rt, slot);
    *img = m;
    return FK_OK;
}

fk_status fk_buffer_image(fk_runtime *rt, cl_mem buf, cl_mem *img)
{
    return buffer_view(rt, buf, 1, img);
}

fk_status fk_buffer_image4(fk_runtime *rt, cl_mem buf, cl_mem *img)
{
    return buffer_view(rt, buf, 4, img);
}

fk_status fk_buffer_image4_to(fk_runtime *rt, cl_mem buf, size_t end, cl_mem *img)
{
    cl_mem v;
    FK_TRY(buffer_view(rt, buf, 4, &v));
    size_t texels = 0;
    if (v)
        FK_CL_CHECK(clGetImageInfo(v, CL_IMAGE_WIDTH, sizeof texels, &texels, NULL));
    *img = v && (end + 3) / 4 <= texels ? v : NULL;
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

static fk_status fill_kernel(fk_runtime *rt, cl_mem buf, size_t offset, size_t count, float value)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_FILL_F32, &k));
    size_t global = fk_round_up(count, 64);
    FK_RUN(rt, k, 1, &global, NULL, FK_A(buf), FK_A(offset), FK_A(value), FK_A(count));
    return FK_OK;
}

static fk_status fill_native(fk_runtime *rt, cl_mem buf, size_t offset, size_t count, float value)
{
    FK_CL_CHECK(clEnqueueFillBuffer(rt->queue, buf, &value, sizeof value, offset * sizeof(float),
                                    count * sizeof(float), 0, NULL, NULL));
    return FK_OK;
}

#define FILL_PROBE_FLOATS ((size_t)1 << 20)
#define FILL_FAST 20e9 /* bytes per second of a native fill taken untimed against the kernel */

/* best of 3 fills of the probe buffer (after one), in seconds */
static fk_status time_fill(fk_runtime *rt, cl_mem buf, bool native, double *best)
{
    *best = 0;
    for (int i = -1; i < 3; i++) {
        double t0 = fk_seconds();
        FK_TRY(native ? fill_native(rt, buf, 0, FILL_PROBE_FLOATS, 0.0f)
                      : fill_kernel(rt, buf, 0, FILL_PROBE_FLOATS, 0.0f));
        FK_TRY(fk_runtime_finish(rt));
        double dt = fk_seconds() - t0;
        *best = i == 0 || (i > 0 && dt < *best) ? dt : *best;
    }
    return FK_OK;
}

/* The driver's own fill (clEnqueueFillBuffer) unless fill_f32 fills 4 MiB
 * faster: rusticl's is a host memset, 50x its kernel (each work-item
 * costs llvmpipe about 6 ns); PoCL's is 4-6x slower than the kernel. A
 * native fill at memory speed is taken without timing the kernel (on a
 * simulator such as Oclgrind the kernel would take seconds). */
static fk_status choose_fill(fk_runtime *rt)
{
    cl_mem buf;
    FK_TRY(fk_buffer_create(rt, FILL_PROBE_FLOATS * sizeof(float), 0, &buf));
    double native = 0, kernel = 0;
    bool use_native = true;
    fk_status st = time_fill(rt, buf, true, &native);
    if (!st && native * FILL_FAST > (double)(FILL_PROBE_FLOATS * sizeof(float))) {
        st = time_fill(rt, buf, false, &kernel);
        use_native = native < kernel;
    }
    clReleaseMemObject(buf);
    if (!st)
        rt->fill_way = use_native ? 2 : 1;
    return st;
}

fk_status fk_buffer_fill(fk_runtime *rt, cl_mem buf, size_t offset, size_t count, float value)
{
    if (count == 0)
        return FK_OK;
    if (!rt->fill_way)
        FK_TRY(choose_fill(rt));
    return rt->fill_way == 2 ? fill_native(rt, buf, offset, count, value) : fill_kernel(rt, buf, offset, count, value);
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
    FK_TRY(fk_kernel(rt, FK_K_AXPY_F32, &k));
    size_t global = fk_round_up(count, 64);
    FK_RUN(rt, k, 1, &global, NULL, FK_A(y), FK_A(y_off), FK_A(x), FK_A(x_off), FK_A(a), FK_A(count));
    return FK_OK;
}

fk_status fk_buffer_copy(fk_runtime *rt, cl_mem dst, size_t dst_off, cl_mem src, size_t src_off, size_t count)
{
    if (count == 0)
        return FK_OK;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_COPY_F32, &k));
    size_t global = fk_round_up(count, 64);
    FK_RUN(rt, k, 1, &global, NULL, FK_A(dst), FK_A(dst_off), FK_A(src), FK_A(src_off), FK_A(count));
    return FK_OK;
}
