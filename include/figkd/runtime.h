/* figkd-cl runtime: options read once from the environment, context and
 * queue, programs built from the embedded kernels and cached in memory and
 * on disk, kernels by id (figkd/kernels.h), one-call typed launches
 * (FK_RUN), device buffers, the parameter store, the activation arena and
 * GEMM. Devices and checked OpenCL calls: figkd/device.h. */
#ifndef FIGKD_RUNTIME_H
#define FIGKD_RUNTIME_H

#include "figkd/blas_tune.h"
#include "figkd/device.h"
#include "figkd/kernels.h"

/* ---- options ---------------------------------------------------------- */

/* groups=1 convolutions (src/ops/conv.c): FIGKD_CONV_PATH */
typedef enum fk_conv_path {
    FK_CONV_PATH_DEFAULT, /* unset: mixed on GPUs, sample on CPUs */
    FK_CONV_PATH_BATCH,   /* batch folded into the GEMM columns, both passes */
    FK_CONV_PATH_SAMPLE,  /* one GEMM per sample, both passes */
    FK_CONV_PATH_MIXED,   /* batch forward, sample backward, on any device */
} fk_conv_path;

/* the sample path's GEMMs: FIGKD_CONV_GEMM */
typedef enum fk_conv_gemm {
    FK_CONV_GEMM_DEFAULT, /* unset: own kernels on CPUs, CLBlast elsewhere */
    FK_CONV_GEMM_OWN,
    FK_CONV_GEMM_CLBLAST,
    FK_CONV_GEMM_WI,      /* the own GEMMs' per-work-item variant (src/runtime/probe.c) */
    FK_CONV_GEMM_IG,      /* WI, and the implicit-GEMM conv on every shape (src/ops/conv_ig.c) */
} fk_conv_gemm;

/* an on/off choice whose default depends on the device */
typedef enum fk_switch {
    FK_SWITCH_DEFAULT, /* unset */
    FK_SWITCH_ON,      /* =1 */
    FK_SWITCH_OFF,     /* =0 */
} fk_switch;

/* Everything the environment sets, read once when a runtime starts. */
typedef struct fk_runtime_options {
    char device[256];        /* FIGKD_DEVICE; "" = the default rules */
    bool sync;               /* FIGKD_SYNC=1: finish after every launch */
    bool profile;            /* FIGKD_PROFILE=1: time every layer (finishes the queue around each) */
    bool disk_cache;         /* FIGKD_CACHE != 0 and a cache directory is known */
    char cache_dir[1024];    /* FIGKD_CACHE_DIR, else $XDG_CACHE_HOME/figkd-cl, else ~/.cache/figkd-cl */
    fk_conv_path conv_path;  /* FIGKD_CONV_PATH=batch|sample|mixed */
    fk_conv_gemm conv_gemm;  /* FIGKD_CONV_GEMM=own|clblast */
    bool grad_poll;          /* FIGKD_GRAD_POLL != 0: an MPI job moves its gradient reductions on
                                while it waits for the backward (docs/scaling.md) */
    int local_rank;          /* not from the environment: the rank on this node of an MPI job (0 otherwise);
                                it takes its entry of a FIGKD_DEVICE list, or by default the GPU of its number */
    fk_switch winograd;      /* FIGKD_WINOGRAD=1|0: 3x3 stride-1 convs by Winograd F(2x2, 3x3);
                                default on where the own GEMMs run (CPUs) */
    fk_switch images;        /* FIGKD_IMAGES=1|0: the implicit GEMMs read through image views;
                                default where a probe finds image reads cheaper (fk_device_image_loads) */
    fk_switch fold_teacher;  /* FIGKD_FOLD_TEACHER=1|0: the frozen teacher with BN folded into its
                                convs, fused epilogues and reused buffers; default on */
    bool tune;               /* FIGKD_TUNE != 0: train and bench read the device's tune cache */
    char tune_file[1024];    /* FIGKD_TUNE=FILE (not 0 or 1): that file, else "" for the default
                                ($XDG_CACHE_HOME/figkd-cl, else ~/.cache/figkd-cl, tune-DEVICE.ini) */
    char tune_dir[1024];     /* the default file's folder ("" when neither variable is set) */
    fk_switch fuse;          /* FIGKD_FUSE=1|0: a train or eval plan runs each in-place ReLU after a BN or
                                a residual add inside that BN's or add's kernels; default on */
} fk_runtime_options;

/* The only reader of the environment in the library. A value outside its
 * choices (FIGKD_CONV_PATH=bogus) is FK_ERR_ARG naming the variable and
 * the choices; an empty value counts as unset. */
fk_status fk_runtime_options_from_env(fk_runtime_options *o);
/* Whether an MPI launcher (mpirun, mpiexec, srun with PMI) started the
 * process: its variables are set (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_RANK). */
bool fk_env_mpi_launched(void);
/* The device spec of local rank r from a FIGKD_DEVICE value: the r-th entry
 * of a comma list (too few entries is an error), else the value itself. */
fk_status fk_device_spec_for_rank(const char *device, int r, char *out, size_t n);

/* ---- runtime -------------------------------------------------------- */

typedef struct fk_program_entry fk_program_entry;
typedef struct fk_kernel_variant fk_kernel_variant;
typedef struct fk_tune_entry fk_tune_entry;

#define FK_VIEWS_HELD 3 /* image views a caller may hold at once for one launch (fk_buffer_image) */

typedef struct fk_runtime {
    fk_device_info dev;
    cl_context ctx;
    cl_command_queue queue;
    fk_runtime_options opts;
    fk_program_entry *programs;
    cl_kernel kernels[FK_K_COUNT];   /* by id, resolved on first use (fk_kernel) */
    fk_kernel_variant *variants;     /* kernels built with per-shape -D values (fk_kernel_defs) */
    int nvariants, capvariants;
    /* statistics, for tests and `figkd-cl devices -v` */
    int builds, disk_hits, memory_hits, cache_rejects;
    bool loops_probed;       /* fk_device_loop_limit has run */
    long loop_limit;         /* its result */
    int image_loads;         /* fk_device_image_loads: 0 not yet, 1 no, 2 yes */
    int fill_way;            /* fk_buffer_fill: 0 not chosen yet, 1 fill_f32, 2 clEnqueueFillBuffer */
    struct fk_image_view {   /* float 1D image views of buffers (fk_buffer_image, fk_buffer_image4), oldest replaced */
        cl_mem buf, img;
        int channels;        /* 1: CL_R, 4: CL_RGBA */
    } views[16];
    int nviews, next_view;
    int held[FK_VIEWS_HELD]; /* the slots (+ 1; 0: none) of the views returned last, newest first: never replaced */
    fk_tune_entry *tune;     /* per-shape conv choices (fk_tune_load, fk_tune_set); NULL: the defaults */
    int ntune, captune;
    fk_blas_params blas[2];  /* CLBlast's tuned kernels (fk_tune_set_blas), applied by fk_tune_load */
    int nblas;
} fk_runtime;

/* Create with the options of the environment (fk_runtime_options_from_env). */
fk_status fk_runtime_create(fk_runtime **out);
/* The same on a device spec given directly (NULL = default rules). */
fk_status fk_runtime_create_spec(const char *spec, fk_runtime **out);
/* Create with options given directly. */
fk_status fk_runtime_create_opts(const fk_runtime_options *opts, fk_runtime **out);
void fk_runtime_free(fk_runtime *rt);
fk_status fk_runtime_finish(fk_runtime *rt);

/* Iterations after which the device silently leaves a loop (measured once
 * with a kernel of cl/probe.cl; Mesa's llvmpipe: 65535), 0 when it ran
 * the probe's 2^20 in full. */
fk_status fk_device_loop_limit(fk_runtime *rt, long *limit);
/* Whether the implicit GEMMs read through image views (fk_buffer_image):
 * FIGKD_IMAGES=1|0, else where the device has images and a probe of
 * cl/probe_images.cl reads through a CL_RGBA view in under 0.8x the time of
 * the same vload4s (llvmpipe: 0.2-0.3x; PoCL: 14x), measured once per
 * runtime. */
fk_status fk_device_image_loads(fk_runtime *rt, bool *use);

/* FIGKD_PROFILE=1: fk_profile_begin finishes the queue and returns a time;
 * fk_profile_end finishes it again and adds the elapsed time under label.
 * The table is printed to stderr when the runtime is freed. Both are
 * no-ops (returning 0) without FIGKD_PROFILE. */
double fk_profile_begin(fk_runtime *rt);
void fk_profile_end(fk_runtime *rt, const char *label, double t0);
/* Print the table and clear it (fk_runtime_free does). */
void fk_profile_print(void);

/* ---- programs and kernels ------------------------------------------- */

/* Source of an embedded kernel file by name ("conv" for cl/conv.cl), NULL if
 * none. With -Dkernels_from_source=true the file is read from the source
 * tree (the caller frees *owned when it is set). */
const char *fk_kernel_source(const char *name, char **owned);

/* Program built from cl/<name>.cl with build options (e.g. "-DTILE=8"),
 * from the in-memory cache, the disk cache or a fresh build, in that order. */
fk_status fk_program_get(fk_runtime *rt, const char *name, const char *options, cl_program *out);
/* A kernel of that program by name; kernel objects are cached with the
 * program. Ops use fk_kernel / fk_kernel_defs instead. */
fk_status fk_kernel_get(fk_runtime *rt, const char *file, const char *options,
                        const char *kernel, cl_kernel *out);
/* Release every program and kernel (fk_runtime_free does). */
void fk_program_cache_free(fk_runtime *rt);

/* A kernel of the list in figkd/kernels.h: resolved by name once per
 * runtime, then an array index. For a kernel with FK_DEFS_NONE only. */
fk_status fk_kernel(fk_runtime *rt, fk_kernel_id id, cl_kernel *out);
/* A kernel built with -D values (as many as its kind in figkd/kernels.h
 * names, in that order): looked up by (id, values) in a small per-runtime
 * table, formatted and built only the first time. */
fk_status fk_kernel_defs(fk_runtime *rt, fk_kernel_id id, const int *values, cl_kernel *out);

/* ---- launches ------------------------------------------------------- */

/* One kernel argument by value: its size and bytes. Made by FK_A from the
 * C type: int and unsigned -> 4 bytes, long, long long and their unsigned
 * forms (size_t, cl_ulong) -> 8, float -> 4, cl_mem. Any other type (bool,
 * double, char...) does not compile: convert it to the kernel's type. */
typedef struct fk_arg {
    size_t size;
    union {
        cl_int i;
        cl_uint u;
        cl_long l;
        cl_ulong ul;
        cl_float f;
        cl_mem m;
    } v;
} fk_arg;

static inline fk_arg fk_arg_int(int x) { return (fk_arg){sizeof(cl_int), {.i = x}}; }
static inline fk_arg fk_arg_uint(unsigned x) { return (fk_arg){sizeof(cl_uint), {.u = x}}; }
static inline fk_arg fk_arg_long(long long x) { return (fk_arg){sizeof(cl_long), {.l = x}}; }
static inline fk_arg fk_arg_ulong(unsigned long long x) { return (fk_arg){sizeof(cl_ulong), {.ul = x}}; }
static inline fk_arg fk_arg_float(float x) { return (fk_arg){sizeof(cl_float), {.f = x}}; }
static inline fk_arg fk_arg_mem(cl_mem x) { return (fk_arg){sizeof(cl_mem), {.m = x}}; }

/* An argument by its C type. */
#define FK_A(x)                                                                \
    _Generic((x), int: fk_arg_int, unsigned: fk_arg_uint, long: fk_arg_long,   \
             long long: fk_arg_long, unsigned long: fk_arg_ulong,              \
             unsigned long long: fk_arg_ulong, float: fk_arg_float,            \
             cl_mem: fk_arg_mem)(x)
/* A tensor as the kernels take it: buffer, then element offset (ulong). */
#define FK_T(t) fk_arg_mem((t).buf), fk_arg_ulong((t).off)

/* Set the nargs arguments of k (their count must be the kernel's), then
 * enqueue it as fk_launch does. A failed clSetKernelArg (e.g.
 * CL_INVALID_ARG_SIZE: an int given for a ulong) names the kernel, the
 * argument and file:line. */
fk_status fk_run(fk_runtime *rt, cl_kernel k, cl_uint dims, const size_t *global, const size_t *local,
                 int nargs, const fk_arg *args, const char *file, int line);
/* One launch: FK_RUN(rt, k, 1, &global, NULL, FK_T(out), FK_T(in), FK_A(n));
 * the argument count comes from the list itself. */
#define FK_RUN(rt, k, dims, global, local, ...)                                \
    FK_TRY(fk_run((rt), (k), (dims), (global), (local),                        \
                  (int)(sizeof((fk_arg[]){__VA_ARGS__}) / sizeof(fk_arg)),     \
                  (fk_arg[]){__VA_ARGS__}, __FILE__, __LINE__))

/* The common 1-D case: count work-items rounded up to 64, the local size
 * left to the driver. */
#define FK_RUN_1D(rt, k, count, ...)                                           \
    FK_RUN((rt), (k), 1, (size_t[]){fk_round_up((count), 64)}, NULL, __VA_ARGS__)

/* Enqueue an N-dimensional kernel whose arguments are set (local may be
 * NULL); checks the call and, with FIGKD_SYNC=1, finishes the queue and
 * checks again. An empty global size launches nothing. */
fk_status fk_launch(fk_runtime *rt, cl_kernel k, cl_uint dims, const size_t *global,
                    const size_t *local, const char *file, int line);
#define FK_LAUNCH(rt, k, dims, global, local)                                  \
    FK_TRY(fk_launch((rt), (k), (dims), (global), (local), __FILE__, __LINE__))


/* Round n up to a multiple of m. */
static inline size_t fk_round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* ---- buffers -------------------------------------------------------- */

/* A device buffer; on failure the message names the size asked and the
 * device's global memory and maximum allocation. */
fk_status fk_buffer_create(fk_runtime *rt, size_t bytes, cl_mem_flags flags, cl_mem *out);
/* A CL_R float 1D image view of the whole buffer (no copy), kept by the
 * runtime for later calls (the oldest of 16 replaced, never one of the
 * FK_VIEWS_HELD returned last); *img NULL where the
 * buffer has more floats than the device's largest image. */
fk_status fk_buffer_image(fk_runtime *rt, cl_mem buf, cl_mem *img);
/* The same as a CL_RGBA float view: texel i is floats 4i .. 4i + 3 (the
 * bytes past the last whole texel left out). */
fk_status fk_buffer_image4(fk_runtime *rt, cl_mem buf, cl_mem *img);
/* fk_buffer_image4, *img NULL unless the view covers floats [0, end) */
fk_status fk_buffer_image4_to(fk_runtime *rt, cl_mem buf, size_t end, cl_mem *img);
fk_status fk_buffer_write(fk_runtime *rt, cl_mem buf, size_t offset_bytes, size_t bytes, const void *src);
fk_status fk_buffer_read(fk_runtime *rt, cl_mem buf, size_t offset_bytes, size_t bytes, void *dst);
/* Fill `count` floats at element offset with a value: with the driver's
 * clEnqueueFillBuffer unless the fill_f32 kernel measures faster (once per
 * runtime, on 4 MiB). */
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
/* Bytes fk_arena_alloc allocates for the requests made so far (every
 * request aligned; chunking adds none). */
size_t fk_arena_bytes(const fk_arena *a);
/* A tensor view of a planned request (valid after fk_arena_alloc). */
fk_tensor fk_arena_tensor(const fk_arena *a, int req, int ndim, const int *shape);
void fk_arena_free(fk_arena *a);

/* ---- tuned choices (figkd-cl tune) ----------------------------------- */

/* How one pass of a groups=1 conv runs (src/ops/conv.c). */
typedef enum fk_tune_way {
    FK_TUNE_DEFAULT,  /* the device's rule */
    FK_TUNE_COLUMNS,  /* per-sample path: im2col (or the input of a 1x1) and GEMMs */
    FK_TUNE_WINOGRAD, /* per-sample path, Winograd F(2x2, 3x3) (3x3 stride-1 pad-1, >= 8 channels) */
    FK_TUNE_BATCH,    /* whole-batch path (cl/conv_batch.cl) */
} fk_tune_way;

/* One conv shape's choice. Frozen: the frozen teacher's fused forward
 * (fk_conv_forward_fused); else a layer's fk_conv_forward and
 * fk_conv_backward (backward: the data gradient's way; the batch path
 * takes the weight gradient too). Environment switches (FIGKD_CONV_PATH,
 * FIGKD_CONV_GEMM, FIGKD_WINOGRAD) win over an entry. */
struct fk_tune_entry {
    bool frozen;
    int n, c_in, h, w, c_out, k, stride, pad, groups;
    fk_conv_gemm gemm;             /* own | wi | clblast; DEFAULT: the device's rule */
    fk_tune_way forward, backward; /* backward DEFAULT for frozen entries */
    double ms;                     /* the chosen candidate's time when tuned (0: unknown) */
    double default_ms;             /* the device default's time when tuned (0: unknown) */
    int uses;                      /* lookups by convs of this runtime (fk_tune_find) */
};

/* FNV-1a of every kernel file this build runs (embedded, or read from
 * the source tree with -Dkernels_from_source=true), in name order. */
uint64_t fk_kernel_sources_hash(void);
/* The tune cache's path for this runtime's device: opts.tune_file when
 * set, else opts.tune_dir/tune-NAME.ini with the device name's characters
 * outside [A-Za-z0-9._-] as '_'. FK_ERR_ARG when there is no folder. */
fk_status fk_tune_path(const fk_runtime *rt, char *out, size_t n);
/* Read a tune cache into the runtime's table (replacing it), and make
 * CLBlast use its [clblast KERNEL] parameters on this device. Missing
 * file: *count 0, FK_OK. A file written for another device, driver or
 * kernel sources: *count 0, FK_OK, and *stale set (the caller says so).
 * A malformed file: FK_ERR_IO with "FILE:LINE: why" in fk_last_error(). */
fk_status fk_tune_load(fk_runtime *rt, const char *file, int *count, bool *stale);
/* Write the table with this runtime's key, atomically. */
fk_status fk_tune_save(const fk_runtime *rt, const char *file);
/* Add or replace the entry of e's (frozen, shape). */
fk_status fk_tune_set(fk_runtime *rt, const fk_tune_entry *e);
/* Empty the table of conv choices (the CLBlast parameters stay). */
void fk_tune_clear(fk_runtime *rt);
/* Add or replace the CLBlast parameters of p->kernel in what fk_tune_save
 * writes (applying them is fk_blas_override's). */
fk_status fk_tune_set_blas(fk_runtime *rt, const fk_blas_params *p);
/* The entry of (frozen, shape), NULL when none; counts the use. */
fk_tune_entry *fk_tune_find(fk_runtime *rt, bool frozen, int n, int c_in, int h, int w, int c_out, int k,
                            int stride, int pad, int groups);
/* What train and bench do: unless FIGKD_TUNE=0, load the device's cache
 * (fk_tune_path). A stale file is ignored with one line on stderr. *file
 * gets the path read (for the caller's "tuned: ..." line); *count the
 * entries (0: none or disabled). */
fk_status fk_tune_use(fk_runtime *rt, char *file, size_t n, int *count);
/* Entries looked up at least once. */
int fk_tune_used(const fk_runtime *rt);
/* The CLBlast kernels with tuned values in force ("Xgemm, XgemmDirect"; "" none). */
void fk_tune_blas_names(const fk_runtime *rt, char *out, size_t n);

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
