/* figkd-cl runtime: device choice, context and queue, programs built from the
 * embedded kernels and cached in memory and on disk, checked OpenCL calls,
 * device buffers, the parameter store, the activation arena and GEMM. */
#ifndef FIGKD_RUNTIME_H
#define FIGKD_RUNTIME_H

#include "figkd/common.h"

#include <CL/cl.h>
#include <stdbool.h>

/* ---- errors --------------------------------------------------------- */

/* "CL_OUT_OF_RESOURCES" for -5, "CL_UNKNOWN_ERROR(-1234)" style otherwise
 * (the unknown form uses a static buffer per thread). */
const char *fk_cl_errname(cl_int err);
/* CLBlast status name, e.g. "CLBlastInvalidMatrixA". */
const char *fk_blas_errname(int status);
fk_status fk_cl_fail(cl_int err, const char *call, const char *file, int line);

/* Check an OpenCL call inside a function returning fk_status. */
#define FK_CL_CHECK(expr)                                                      \
    do {                                                                       \
        cl_int fk_err_ = (expr);                                               \
        if (fk_err_ != CL_SUCCESS)                                             \
            return fk_cl_fail(fk_err_, #expr, __FILE__, __LINE__);             \
    } while (0)

/* Propagate a failed fk_status. */
#define FK_TRY(expr)                                                           \
    do {                                                                       \
        fk_status fk_st_ = (expr);                                             \
        if (fk_st_ != FK_OK)                                                   \
            return fk_st_;                                                     \
    } while (0)

/* ---- devices -------------------------------------------------------- */

typedef struct fk_device_info {
    int platform_index, device_index; /* within the platform */
    char platform[256];
    char name[256];
    char version[128];        /* CL_DEVICE_VERSION */
    char driver[128];         /* CL_DRIVER_VERSION */
    char c_version[128];      /* CL_DEVICE_OPENCL_C_VERSION */
    bool is_gpu, is_cpu;
    unsigned compute_units;
    uint64_t global_mem, max_alloc;
    size_t max_work_group;
    cl_platform_id platform_id;
    cl_device_id device_id;
} fk_device_info;

/* Every device of every platform, in platform then device order. */
fk_status fk_device_list(fk_device_info **out, int *count);

/* Pick a device by the FIGKD_DEVICE rules (spec NULL or "" = default: the
 * first GPU, else the first CPU, else the first device). Pure host logic
 * over the list; on no match returns FK_ERR_DEVICE with a message that
 * lists every platform:device with its index and name. */
fk_status fk_device_select(const fk_device_info *list, int count, const char *spec, int *index);

/* ---- runtime -------------------------------------------------------- */

typedef struct fk_program_entry fk_program_entry;

typedef struct fk_runtime {
    fk_device_info dev;
    cl_context ctx;
    cl_command_queue queue;
    bool sync;               /* FIGKD_SYNC=1: finish after every launch */
    bool disk_cache;         /* FIGKD_CACHE != 0 */
    char cache_dir[1024];    /* FIGKD_CACHE_DIR or $XDG_CACHE_HOME/figkd-cl */
    fk_program_entry *programs;
    bool profile;            /* FIGKD_PROFILE=1: time every layer (finishes the queue around each) */
    /* statistics, for tests and `figkd-cl devices -v` */
    int builds, disk_hits, memory_hits, cache_rejects;
    bool loops_probed;       /* fk_device_loop_limit has run */
    long loop_limit;         /* its result */
} fk_runtime;

/* Create on the device FIGKD_DEVICE selects. */
fk_status fk_runtime_create(fk_runtime **out);
/* Create on a device spec given directly (NULL = default rules). */
fk_status fk_runtime_create_spec(const char *spec, fk_runtime **out);
void fk_runtime_free(fk_runtime *rt);
fk_status fk_runtime_finish(fk_runtime *rt);

/* Iterations after which the device silently leaves a loop (measured once
 * with a kernel of cl/probe.cl; Mesa's llvmpipe: 65535), 0 when it ran
 * the probe's 2^20 in full. */
fk_status fk_device_loop_limit(fk_runtime *rt, long *limit);

/* FIGKD_PROFILE=1: fk_profile_begin finishes the queue and returns a time;
 * fk_profile_end finishes it again and adds the elapsed time under label.
 * The table is printed to stderr when the runtime is freed. Both are
 * no-ops (returning 0) without FIGKD_PROFILE. */
double fk_profile_begin(fk_runtime *rt);
void fk_profile_end(fk_runtime *rt, const char *label, double t0);

/* ---- programs and kernels ------------------------------------------- */

/* Source of an embedded kernel file by name ("conv" for cl/conv.cl), NULL if
 * none. With -Dkernels_from_source=true the file is read from the source
 * tree (the caller frees *owned when it is set). */
const char *fk_kernel_source(const char *name, char **owned);

/* Program built from cl/<name>.cl with build options (e.g. "-DTILE=8"),
 * from the in-memory cache, the disk cache or a fresh build, in that order. */
fk_status fk_program_get(fk_runtime *rt, const char *name, const char *options, cl_program *out);
/* A kernel of that program; kernel objects are cached with the program. */
fk_status fk_kernel_get(fk_runtime *rt, const char *file, const char *options,
                        const char *kernel, cl_kernel *out);

/* Enqueue an N-dimensional kernel (local may be NULL); checks the call and,
 * with FIGKD_SYNC=1, finishes the queue and checks again. */
fk_status fk_launch(fk_runtime *rt, cl_kernel k, cl_uint dims, const size_t *global,
                    const size_t *local, const char *file, int line);
#define FK_LAUNCH(rt, k, dims, global, local)                                  \
    FK_TRY(fk_launch((rt), (k), (dims), (global), (local), __FILE__, __LINE__))

/* Set kernel argument i to a value. */
#define FK_ARG(k, i, v)                                                        \
    FK_CL_CHECK(clSetKernelArg((k), (i), sizeof(v), &(v)))

/* Round n up to a multiple of m. */
static inline size_t fk_round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* ---- buffers -------------------------------------------------------- */

/* A device buffer; on failure the message names the size asked and the
 * device's global memory and maximum allocation. */
fk_status fk_buffer_create(fk_runtime *rt, size_t bytes, cl_mem_flags flags, cl_mem *out);
fk_status fk_buffer_write(fk_runtime *rt, cl_mem buf, size_t offset_bytes, size_t bytes, const void *src);
fk_status fk_buffer_read(fk_runtime *rt, cl_mem buf, size_t offset_bytes, size_t bytes, void *dst);
/* Fill `count` floats at element offset with a value. */
fk_status fk_buffer_fill(fk_runtime *rt, cl_mem buf, size_t offset, size_t count, float value);
/* y[y_off + i] += a * x[x_off + i] for count floats (element offsets). */
fk_status fk_buffer_axpy(fk_runtime *rt, cl_mem y, size_t y_off, cl_mem x, size_t x_off, float a, size_t count);
/* dst[dst_off + i] = src[src_off + i] for count floats, on the queue. */
fk_status fk_buffer_copy(fk_runtime *rt, cl_mem dst, size_t dst_off, cl_mem src, size_t src_off, size_t count);

/* ---- tensors -------------------------------------------------------- */

/* A float32 view into a device buffer: element offset and up to 4 dims
 * (NCHW; unused leading dims are 1). */
typedef struct fk_tensor {
    cl_mem buf;
    size_t off;        /* elements */
    int ndim;
    int shape[4];
} fk_tensor;

size_t fk_tensor_numel(const fk_tensor *t);

/* ---- parameter store ------------------------------------------------ */

/* All parameters of a model in one buffer, gradients and momentum in two
 * more of the same layout. Buffers (BN running stats, num_batches_tracked)
 * live in a fourth buffer; they are not trained. */
typedef struct fk_param {
    char name[128];      /* PyTorch state_dict name */
    int ndim;
    int shape[4];
    size_t off;          /* elements, in the store's buffer */
    size_t count;
    bool is_buffer;      /* running_mean/var, num_batches_tracked */
    bool is_int64;       /* num_batches_tracked: kept as float on device, saved as I64 */
} fk_param;

typedef struct fk_param_store {
    fk_param *items;
    int count, capacity;
    size_t param_count;  /* elements in params/grads/momentum */
    size_t buffer_count; /* elements in buffers */
    cl_mem params, grads, momentum, buffers;
} fk_param_store;

void fk_params_init(fk_param_store *ps);
/* Register a tensor before allocation; returns its index or -1. Offsets are
 * aligned to 16 elements. */
int fk_params_add(fk_param_store *ps, const char *name, int ndim, const int *shape, bool is_buffer);
fk_status fk_params_alloc(fk_runtime *rt, fk_param_store *ps);
int fk_params_find(const fk_param_store *ps, const char *name);
fk_tensor fk_params_tensor(const fk_param_store *ps, int index);
fk_tensor fk_params_grad(const fk_param_store *ps, int index);
fk_status fk_params_zero_grad(fk_runtime *rt, fk_param_store *ps);
void fk_params_free(fk_param_store *ps);

/* ---- activation arena ----------------------------------------------- */

/* Requests are planned up front; the arena is then allocated as one or more
 * chunks, none larger than CL_DEVICE_MAX_MEM_ALLOC_SIZE (or max_chunk when
 * non-zero, for tests). A request never straddles chunks. */
typedef struct fk_arena {
    size_t max_chunk;        /* bytes; 0 = device limit */
    int nreq, capreq;
    size_t *req_elems;       /* elements asked per request */
    int *req_chunk;          /* chunk of each request, after planning */
    size_t *req_off;         /* element offset within its chunk */
    int nchunks;
    size_t *chunk_elems;
    cl_mem *chunks;
} fk_arena;

void fk_arena_init(fk_arena *a);
/* Reserve `elems` floats; returns a request id (>= 0) or -1. */
int fk_arena_request(fk_arena *a, size_t elems);
fk_status fk_arena_alloc(fk_runtime *rt, fk_arena *a);
/* A tensor view of a planned request (valid after fk_arena_alloc). */
fk_tensor fk_arena_tensor(const fk_arena *a, int req, int ndim, const int *shape);
void fk_arena_free(fk_arena *a);

/* ---- GEMM (CLBlast) --------------------------------------------------- */

/* Row-major C = alpha * op(A) * op(B) + beta * C with op = transpose when
 * the flag is set; offsets and leading dimensions in elements. */
fk_status fk_gemm(fk_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                  float alpha, cl_mem a, size_t a_off, size_t lda,
                  cl_mem b, size_t b_off, size_t ldb,
                  float beta, cl_mem c, size_t c_off, size_t ldc);
/* `batch` GEMMs, matrix i at offsets + i * stride. */
fk_status fk_gemm_strided_batched(fk_runtime *rt, bool trans_a, bool trans_b,
                                  size_t m, size_t n, size_t k, float alpha,
                                  cl_mem a, size_t a_off, size_t lda, size_t a_stride,
                                  cl_mem b, size_t b_off, size_t ldb, size_t b_stride,
                                  float beta, cl_mem c, size_t c_off, size_t ldc, size_t c_stride,
                                  size_t batch);

#endif
