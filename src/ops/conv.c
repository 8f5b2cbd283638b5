/* conv2d forward and backward (PyTorch's F.conv2d with square kernel,
 * stride and padding; any groups; optional bias). Kernels: cl/conv.cl.
 *
 * groups == 1: im2col over the whole batch into `work` as
 * col (N, C_in*KH*KW, HO*WO), then per-sample GEMMs:
 *   forward   out_n (C_out, P) = W (C_out, CKK) * col_n (CKK, P), + bias;
 *   dW        dW += sum over n of dout_n * col_n^T;
 *   dX        col_n = W^T * dout_n (overwrites col), then
 *             din += col2im(col);
 *   dbias     per-channel sums of dout.
 * CPU devices: im2col / col2im with one work-item per (sample, channel,
 * row), plain copy / add loops (per-element index arithmetic made them
 * most of the conv time on PoCL); GPUs: one work-item per element.
 * GEMMs: on CPU devices the register-tiled kernels gemm_nn16 (forward, dX)
 * and gemm_nt16 (dW: one launch for the whole batch, dot products along P,
 * no partial buffers) of cl/conv_gemm.cl; elsewhere CLBlast strided-batched
 * GEMMs (dW: per chunk of samples into work after col, then a reduction).
 * Per-sample col layout: leading dimension P for every GEMM.
 * 1x1 stride-1 unpadded conv uses the input itself as col (no im2col; its
 * data gradient is din_n += W^T * dout_n, batched with beta 1).
 * groups > 1 (grouped, depthwise): direct kernels, no work space. */
#include "figkd/ops.h"
#include "ops/conv_ig.h"
#include "ops/conv_t4.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

fk_status fk_conv_dims_init(fk_conv_dims *d, int n, int c_in, int h, int w, int c_out, int k,
                            int stride, int pad, int groups, bool bias)
{
    if (n <= 0 || c_in <= 0 || h <= 0 || w <= 0 || c_out <= 0 || k <= 0 || stride <= 0 || pad < 0 ||
        groups <= 0)
        return fk_error(FK_ERR_ARG,
                        "conv2d: sizes must be positive (n=%d c_in=%d h=%d w=%d c_out=%d k=%d "
                        "stride=%d groups=%d) and pad >= 0 (pad=%d)",
                        n, c_in, h, w, c_out, k, stride, groups, pad);
    if (c_in % groups || c_out % groups)
        return fk_error(FK_ERR_ARG, "conv2d: c_in=%d and c_out=%d must both be divisible by groups=%d",
                        c_in, c_out, groups);
    if (h + 2 * pad < k || w + 2 * pad < k)
        return fk_error(FK_ERR_ARG, "conv2d: kernel %d larger than the padded input %dx%d (pad %d)", k,
                        h + 2 * pad, w + 2 * pad, pad);
    d->n = n, d->c_in = c_in, d->h = h, d->w = w;
    d->c_out = c_out, d->kh = k, d->kw = k;
    d->stride = stride, d->pad = pad, d->groups = groups;
    d->h_out = (h + 2 * pad - k) / stride + 1;
    d->w_out = (w + 2 * pad - k) / stride + 1;
    d->bias = bias;
    return FK_OK;
}

static bool is_pointwise(const fk_conv_dims *d)
{
    return d->groups == 1 && d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

static size_t col_elems(const fk_conv_dims *d)
{
    return (size_t)d->c_in * d->kh * d->kw * d->n * d->h_out * d->w_out;
}

/* samples per batched weight-gradient GEMM: the parts (chunk, C_out, CKK)
 * take at most as much work space as col, and at least one sample */
static size_t dw_chunk(const fk_conv_dims *d)
{
    size_t part = (size_t)d->c_out * d->c_in * d->kh * d->kw;
    size_t chunk = col_elems(d) / part;
    return chunk < 1 ? 1 : chunk > (size_t)d->n ? (size_t)d->n : chunk;
}

static size_t batch_work(const fk_conv_dims *d);

static bool is_winograd_shape(const fk_conv_dims *d);
static size_t winograd_work(const fk_conv_dims *d, size_t samples);
static bool hwc_wgrad(const fk_conv_dims *d);
static size_t hwc_work(const fk_conv_dims *d, size_t samples);

size_t fk_conv_work(const fk_conv_dims *d)
{
    if (d->groups != 1)
        return 0;
    size_t col = is_pointwise(d) ? 0 : col_elems(d);
    size_t sample = col + dw_chunk(d) * d->c_out * d->c_in * d->kh * d->kw;
    /* the path is chosen per device at run time: room for either */
    size_t most = sample > batch_work(d) ? sample : batch_work(d);
    if (fk_conv_t4_work(d) > most)
        most = fk_conv_t4_work(d);
    /* Winograd runs in chunks of samples that fit the work it is given:
     * room for one sample at least */
    if (is_winograd_shape(d) && winograd_work(d, 1) > most)
        most = winograd_work(d, 1);
    return most;
}

/* How one groups=1 conv runs: an environment switch (FIGKD_CONV_GEMM,
 * FIGKD_CONV_PATH, FIGKD_WINOGRAD) when set, else the tune table's entry
 * for (frozen, shape) when there is one (figkd-cl tune), else the
 * device's rule. Every choice is an exact equivalent of the others (the
 * tests run each against the plain one); only the time differs.
 * Device rules:
 * - GEMMs: the own kernels of cl/conv_gemm.cl on CPU devices (PoCL;
 *   register tiles in float16 vectors, with the row-wise im2col /
 *   col2im), CLBlast elsewhere (with the per-element im2col / col2im).
 *   The own GEMMs' per-work-item variant (gemm_nn_wi, gemm_nt_wi) on
 *   devices that leave long loops early (Mesa's llvmpipe; see
 *   src/runtime/probe.c): gemm_nn16 loops over all of K with 16 rows
 *   inside and would be cut short there, so no choice undoes it.
 * - Path: on GPUs the whole-batch path forward (H100: resnet32x4 forward
 *   at batch 64 11.5 ms against 13.1 per sample) and the per-sample path
 *   backward (5.5 ms against 19.7: the batch path's weight-gradient GEMM,
 *   K = N*P, is slow in CLBlast); on CPUs per sample both ways.
 *   FIGKD_CONV_PATH=batch|sample forces one path for both, =mixed the GPU
 *   rule on any device. The batch path's kernels index in int: a conv
 *   too large for them keeps the per-sample path.
 * - Winograd (3x3 stride-1 pad-1, see below): where the own GEMMs run
 *   (not their per-work-item variant), for the frozen teacher's fused
 *   forward and the data gradient; a training forward keeps the columns.
 *   On the per-work-item devices the implicit GEMMs and columns beat it
 *   (rusticl on llvmpipe, quickstart `bench --steps 2`: step 2009 ms with
 *   Winograd, 1684 without). FIGKD_WINOGRAD=1 takes it for every pass of
 *   every such shape, =0 for none.
 * - Texels (src/ops/conv_t4.c): on the per-work-item devices whose
 *   implicit GEMMs read through images (fk_device_image_loads: llvmpipe),
 *   every groups=1 forward (fused epilogue included), the weight gradient
 *   and the data gradient of power-of-two strides run on channels-last
 *   packs read as CL_RGBA texels, where the work holds them (rusticl,
 *   resnet8's convs at batch 64: 813 -> 425 ms); FIGKD_IMAGES=0 keeps the
 *   implicit GEMMs and columns. */
typedef struct conv_choice {
    bool own, wi;              /* own GEMMs (wi: their per-work-item variant), else CLBlast */
    bool batch_fwd, batch_bwd; /* the whole-batch path */
    bool wino_fwd, wino_bwd;   /* Winograd forward, for the data gradient */
    bool forced_path;          /* FIGKD_CONV_PATH is set */
    bool ig_fwd, ig_dgrad, ig_wgrad; /* the implicit GEMMs (src/ops/conv_ig.c), per-work-item devices */
    bool t4;                   /* texels (src/ops/conv_t4.c): forward, weight gradient, power-of-two-stride data gradient */
} conv_choice;

#define IG_MIN_PLANE 128

static fk_status conv_choose(fk_runtime *rt, const fk_conv_dims *d, bool frozen, conv_choice *c)
{
    const fk_runtime_options *o = &rt->opts;
    memset(c, 0, sizeof *c);
    const fk_tune_entry *e = d->groups == 1 && rt->ntune ? fk_tune_find(rt, frozen, d->n, d->c_in, d->h, d->w,
                                                                        d->c_out, d->kh, d->stride, d->pad, d->groups)
                                                         : NULL;
    const fk_conv_gemm gemm = o->conv_gemm != FK_CONV_GEMM_DEFAULT ? o->conv_gemm : e ? e->gemm : FK_CONV_GEMM_DEFAULT;
    c->own = gemm == FK_CONV_GEMM_DEFAULT ? rt->dev.is_cpu : gemm != FK_CONV_GEMM_CLBLAST;
    long limit;
    FK_TRY(fk_device_loop_limit(rt, &limit));
    c->wi = limit != 0 || gemm == FK_CONV_GEMM_WI || gemm == FK_CONV_GEMM_IG;
    if (d->groups != 1)
        return FK_OK;
    if (c->own && c->wi && !is_pointwise(d)) { /* IG_MIN_PLANE: see its note below */
        const bool all = gemm == FK_CONV_GEMM_IG;
        c->ig_wgrad = true;
        c->ig_fwd = all || (d->stride == 1 && (size_t)d->h_out * d->w_out >= IG_MIN_PLANE);
        c->ig_dgrad = all || (d->stride == 1 && (size_t)d->h * d->w >= IG_MIN_PLANE);
    }
    if (c->own && c->wi) {
        bool images;
        FK_TRY(fk_device_image_loads(rt, &images));
        c->t4 = images;
    }
    const fk_tune_way fwd = e ? e->forward : FK_TUNE_DEFAULT, bwd = e && !frozen ? e->backward : FK_TUNE_DEFAULT;
    c->forced_path = o->conv_path != FK_CONV_PATH_DEFAULT;
    if (o->conv_path == FK_CONV_PATH_BATCH || o->conv_path == FK_CONV_PATH_SAMPLE) {
        c->batch_fwd = c->batch_bwd = o->conv_path == FK_CONV_PATH_BATCH;
    } else if (o->conv_path == FK_CONV_PATH_MIXED) {
        c->batch_fwd = true;
    } else {
        c->batch_fwd = fwd == FK_TUNE_BATCH || (fwd == FK_TUNE_DEFAULT && !rt->dev.is_cpu);
        c->batch_bwd = bwd == FK_TUNE_BATCH;
    }
    if (batch_work(d) >= INT_MAX || (size_t)d->n * d->c_in * d->h * d->w >= INT_MAX)
        c->batch_fwd = c->batch_bwd = false;
    if (is_winograd_shape(d) && o->winograd != FK_SWITCH_OFF) {
        const bool by_default = c->own && !c->wi; /* see "Winograd" above */
        c->wino_fwd = o->winograd == FK_SWITCH_ON || fwd == FK_TUNE_WINOGRAD ||
                      (fwd == FK_TUNE_DEFAULT && frozen && by_default);
        c->wino_bwd = o->winograd == FK_SWITCH_ON || bwd == FK_TUNE_WINOGRAD || (bwd == FK_TUNE_DEFAULT && by_default);
    }
    return FK_OK;
}

void fk_conv_choice_describe(fk_runtime *rt, const fk_conv_dims *d, bool frozen, char *out, size_t n)
{
    conv_choice c;
    if (conv_choose(rt, d, frozen, &c) != FK_OK) {
        snprintf(out, n, "?");
        return;
    }
    const char *gemm = !c.own ? "clblast" : c.t4 ? "t4" : c.wi ? "wi" : "own";
    const char *fwd = c.batch_fwd ? "batch" : c.wino_fwd ? "winograd" : "columns";
    const char *bwd = c.batch_bwd ? "batch" : c.wino_bwd ? "winograd" : "columns";
    snprintf(out, n, "%s %s%s%s", gemm, fwd, frozen ? "" : "/", frozen ? "" : bwd);
}

/* samples per chunk of the CPU path's Winograd and weight-gradient work,
 * fewer where that work would pass WORK_BYTES (64x64 inputs: the columns
 * of a 64-channel 3x3 conv are 9.4 MB per sample; chunks of 1 to 16
 * samples ran a 32x32 batch equally fast) */
#define WORK_CHUNK 16
#define WORK_BYTES ((size_t)40 << 20)

/* Whether a plan gives a conv the work of fk_conv_work (any path of any
 * device): everything but the own GEMMs (not the per-work-item variant)
 * on the per-sample path without FIGKD_CONV_PATH. */
static bool plan_full(const conv_choice *c, bool backward)
{
    return !c->own || c->wi || c->forced_path || c->batch_fwd || (backward && c->batch_bwd);
}

/* The own GEMMs' per-sample passes of one choice in chunks of `chunk`
 * samples: columns (forward, the data gradient without Winograd and the
 * weight gradient's transposed columns are all this size), the weight
 * gradient's channels-last input (hwc_work) or Winograd. */
static size_t chunk_work(const fk_conv_dims *d, const conv_choice *c, bool backward, size_t chunk)
{
    const size_t cols = is_pointwise(d) ? 0 : (size_t)d->c_in * d->kh * d->kw * d->h_out * d->w_out * chunk;
    size_t most = c->wino_fwd ? winograd_work(d, chunk) : cols;
    if (backward) {
        size_t back = c->wino_bwd ? winograd_work(d, chunk) : cols;
        size_t dw = hwc_wgrad(d) ? hwc_work(d, chunk) : cols; /* weight_grad_rows */
        most = back > most ? back : most;
        most = dw > most ? dw : most;
    }
    return most;
}

/* the samples per chunk a plan gives one choice: WORK_CHUNK, halved while
 * its work passes WORK_BYTES */
static size_t plan_chunk(const fk_conv_dims *d, const conv_choice *c, bool backward)
{
    size_t chunk = d->n < WORK_CHUNK ? (size_t)d->n : WORK_CHUNK;
    while (chunk > 1 && chunk_work(d, c, backward, chunk) * sizeof(float) > WORK_BYTES)
        chunk /= 2;
    return chunk;
}

/* The plan asks what its conv's choice runs with (the same conv_choose
 * as the execution). A training plan: the layer's forward and backward.
 * An eval plan serves the frozen teacher's fused forward and a plain
 * forward: the fused choice's chunks, and at least one sample for the
 * plain one (its passes take chunks of the work they are given). */
size_t fk_conv_work_on(fk_runtime *rt, const fk_conv_dims *d, bool train)
{
    conv_choice c, f;
    if (d->groups != 1 || conv_choose(rt, d, false, &c) != FK_OK || plan_full(&c, train))
        return fk_conv_work(d);
    if (train)
        return chunk_work(d, &c, true, plan_chunk(d, &c, true));
    if (conv_choose(rt, d, true, &f) != FK_OK || plan_full(&f, false))
        return fk_conv_work(d);
    size_t fused = chunk_work(d, &f, false, plan_chunk(d, &f, false)), plain = chunk_work(d, &c, false, 1);
    return fused > plain ? fused : plain;
}

/* a kernel of cl/conv.cl built for this layer's shape: the direct
 * kernels take all seven values, im2col and col2im the first four (kind
 * CONV_BATCH: one program per kernel shape, whatever the channels) */
static fk_status conv_kernel(fk_runtime *rt, const fk_conv_dims *d, fk_kernel_id id, cl_kernel *k)
{
    int defs[] = {d->kh, d->kw, d->stride, d->pad, d->c_in / d->groups, d->c_out / d->groups, d->bias ? 1 : 0};
    return fk_kernel_defs(rt, id, defs, k);
}

/* the size arguments of the im2col / col2im kernels */
#define IMAGE_SIZES(d) FK_A((d)->n), FK_A((d)->c_in), FK_A((d)->h), FK_A((d)->w), FK_A((d)->h_out), FK_A((d)->w_out)
/* the size arguments of the direct (grouped) kernels */
#define DIRECT_SIZES(d) FK_A((d)->n), FK_A((d)->h), FK_A((d)->w), FK_A((d)->c_out), FK_A((d)->h_out), FK_A((d)->w_out)

/* With the own GEMMs: im2col and col2im one work-item per (sample,
 * channel, row), im2col's col in panels when asked (gemm_nn16's b_panel);
 * with CLBlast one per element. */
static fk_status im2col(fk_runtime *rt, const conv_choice *c, fk_tensor col, fk_tensor in, const fk_conv_dims *d,
                        bool panels)
{
    const bool rows = c->own;
    cl_kernel k;
    FK_TRY(conv_kernel(rt, d, rows ? FK_K_IM2COL : FK_K_IM2COL_PX, &k));
    size_t global[2] = {fk_round_up((size_t)d->n * d->h_out * d->w_out, 64),
                        (size_t)d->c_in * d->kh * d->kw};
    if (rows)
        global[0] = fk_round_up((size_t)d->n * d->c_in * d->h_out, 64);
    if (rows)
        FK_RUN(rt, k, 1, global, NULL, FK_T(col), FK_T(in), IMAGE_SIZES(d), FK_A(panels ? 1 : 0));
    else
        FK_RUN(rt, k, 2, global, NULL, FK_T(col), FK_T(in), IMAGE_SIZES(d));
    return FK_OK;
}

static fk_status col2im_add(fk_runtime *rt, const conv_choice *c, fk_tensor din, fk_tensor col,
                            const fk_conv_dims *d)
{
    const bool rows = c->own;
    cl_kernel k;
    FK_TRY(conv_kernel(rt, d, rows ? FK_K_COL2IM_ADD : FK_K_COL2IM_ADD_PX, &k));
    FK_RUN_1D(rt, k, (size_t)d->n * d->c_in * d->h * (rows ? 1 : (size_t)d->w), FK_T(din), FK_T(col),
              IMAGE_SIZES(d));
    return FK_OK;
}

/* kernels (dst, dst_off, src, src_off, n, c, p) with count work-items */
static fk_status run_ncp(fk_runtime *rt, fk_kernel_id id, fk_tensor dst, fk_tensor src, int n, int c, int p,
                         size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, id, &k));
    FK_RUN_1D(rt, k, count, FK_T(dst), FK_T(src), FK_A(n), FK_A(c), FK_A(p));
    return FK_OK;
}

static fk_tensor offset_tensor(fk_tensor t, size_t extra)
{
    t.off += extra;
    return t;
}

/* samples whose columns (CKK, P) fit the work, at least one, at most N */
static size_t col_chunk(fk_tensor work, const fk_conv_dims *d)
{
    const size_t per = (size_t)d->c_in * d->kh * d->kw * d->h_out * d->w_out;
    size_t chunk = fk_tensor_numel(&work) / per;
    return chunk < 1 ? 1 : chunk > (size_t)d->n ? (size_t)d->n : chunk;
}

/* Samples per launch for a kernel whose work-item loops over per_sample
 * iterations for each sample (bias_grad, direct_backward_weight): at most
 * LOOP_BUDGET in all, at least one sample. Mesa's llvmpipe leaves a
 * kernel after 65535 loop iterations, counted over all of its loops
 * together (src/runtime/probe.c), so a loop cut into pieces inside the
 * kernel does not avoid it: the host launches slices, each adding its
 * samples' part. */
#define LOOP_BUDGET 16384u

static size_t samples_per_launch(size_t per_sample, size_t n)
{
    size_t per = LOOP_BUDGET / (per_sample ? per_sample : 1);
    return per < 1 ? 1 : per > n ? n : per;
}

/* The register tile of the own GEMMs gemm_nn16, wgrad_nn16 and wino_gemm
 * (TILE_TM rows x TILE_TN columns per work-item, cl/tile.clh) */
#define TILE_TM 8
#define TILE_TN 32
/* fewest work-items of a weight-gradient launch (weight_grad_rows) */
#define WGRAD_ITEMS 16

/* The own GEMMs' per-work-item variant (gemm_nn_wi, gemm_nt_wi of
 * cl/conv_gemm.cl; conv_choose says where): */
#define WI_TM 8          /* rows per work-item (WI_TM of cl/conv_gemm.cl) */
#define WI_TN 8          /* columns per work-item (WI_TN) */
#define WI_COLS 32       /* work-items along the columns rounded up to this */
#define WI_K_SLICE 2048u /* longest loop of a work-item */

/* The per-work-item devices' forward (or data gradient) of a groups == 1
 * conv that is not pointwise: the implicit GEMMs of src/ops/conv_ig.c (no
 * im2col / col2im) where they measured faster on llvmpipe, stride 1 and an
 * output (or input) plane of at least IG_MIN_PLANE pixels (resnet8 at
 * batch 64, 28x28 maps: forward 1.6x, data gradient 2.5x; 14x14 1.2x and
 * 1.3x; slower on 7x7 maps and at stride 2, whose taps mostly miss); the
 * weight gradient implicit on every such conv (1.8x over resnet8's
 * convs). With FIGKD_CONV_GEMM=ig on every such conv. Chosen in
 * conv_choose (IG_MIN_PLANE is defined there). */
/* size of a buffer in floats (the own GEMMs read whole vectors up to it) */
static fk_status buffer_floats(cl_mem m, cl_ulong *len)
{
    size_t bytes = 0;
    FK_CL_CHECK(clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    *len = bytes / sizeof(float);
    return FK_OK;
}

/* C_b (m, n) = op(W) (m, k) * B_b (k, n) (+ C_b when accumulate),
 * batched; trans_w: A = W^T with W stored (k, m), else A = W stored (m, k).
 * b_panel > 0 (the own GEMMs, not their per-work-item variant): B in
 * panels of TILE_TN columns b_panel apart, rows ldb apart inside one. */
static fk_status weight_gemm(fk_runtime *rt, const conv_choice *cc, bool trans_w, size_t m, size_t n, size_t k, fk_tensor w,
                             cl_mem b, size_t b_off, size_t ldb, size_t b_stride, bool accumulate,
                             cl_mem c, size_t c_off, size_t ldc, size_t c_stride, size_t batch, size_t b_panel)
{
    if (!cc->own)
        return fk_gemm_strided_batched(rt, trans_w, false, m, n, k, 1.0f, w.buf, w.off, trans_w ? m : k, 0,
                                       b, b_off, ldb, b_stride, accumulate ? 1.0f : 0.0f, c, c_off, ldc,
                                       c_stride, batch);
    const bool wi = cc->wi;
    cl_kernel kn;
    FK_TRY(fk_kernel(rt, wi ? FK_K_GEMM_NN_WI : FK_K_GEMM_NN16, &kn));
    cl_ulong b_len;
    FK_TRY(buffer_floats(b, &b_len));
    const int lda_r = trans_w ? 1 : (int)k, lda_c = trans_w ? (int)m : 1;
    if (wi) {
        /* K in slices of at most WI_K_SLICE, added into C after the first */
        size_t global[3] = {fk_round_up((n + WI_TN - 1) / WI_TN, WI_COLS), (m + WI_TM - 1) / WI_TM, batch};
        for (size_t k0 = 0; k0 < k; k0 += WI_K_SLICE) {
            int kc = (int)(k - k0 < WI_K_SLICE ? k - k0 : WI_K_SLICE);
            FK_RUN(rt, kn, 3, global, NULL, FK_A(c), FK_A(c_off), FK_A(w.buf), FK_A(w.off + k0 * (size_t)lda_c),
                   FK_A(b), FK_A(b_off + k0 * ldb), FK_A((int)m), FK_A((int)n), FK_A(kc), FK_A(lda_r), FK_A(lda_c),
                   FK_A((int)ldb), FK_A(b_stride), FK_A((int)ldc), FK_A(c_stride), FK_A(accumulate || k0 > 0 ? 1 : 0),
                   FK_A(b_len));
        }
        return FK_OK;
    }
    size_t global[3] = {(n + TILE_TN - 1) / TILE_TN, (m + TILE_TM - 1) / TILE_TM, batch}, local[3] = {1, 1, 1};
    FK_RUN(rt, kn, 3, global, local, FK_A(c), FK_A(c_off), FK_T(w), FK_A(b), FK_A(b_off), FK_A((int)m),
           FK_A((int)n), FK_A((int)k), FK_A(lda_r), FK_A(lda_c), FK_A((int)ldb),
           FK_A(b_stride), FK_A((int)ldc), FK_A(c_stride), FK_A(accumulate ? 1 : 0), FK_A(b_len),
           FK_A((cl_ulong)b_panel));
    return FK_OK;
}

/* dW (m, n) += sum over the batch of A_b (m, k) * B_b (n, k)^T, row-major
 * with leading dimension k (dout_n and col_n) */
static fk_status weight_grad_gemm(fk_runtime *rt, const conv_choice *c, size_t m, size_t n, size_t k, cl_mem a, size_t a_off,
                                  size_t a_stride, cl_mem b, size_t b_off, size_t b_stride, fk_tensor dw,
                                  size_t batch)
{
    const bool wi = c->wi;
    cl_kernel kn;
    FK_TRY(fk_kernel(rt, wi ? FK_K_GEMM_NT_WI : FK_K_GEMM_NT16, &kn));
    cl_ulong a_len, b_len;
    FK_TRY(buffer_floats(a, &a_len));
    FK_TRY(buffer_floats(b, &b_len));
    if (wi) {
        /* at most WI_K_SLICE products per work-item and launch: slices of
         * the samples, and of K when one sample's K is longer */
        size_t global[2] = {fk_round_up((n + WI_TN - 1) / WI_TN, WI_COLS), (m + WI_TM - 1) / WI_TM};
        size_t kslice = k < WI_K_SLICE ? k : WI_K_SLICE, per = WI_K_SLICE / kslice;
        for (size_t s0 = 0; s0 < batch; s0 += per)
            for (size_t k0 = 0; k0 < k; k0 += kslice) {
                int sb = (int)(batch - s0 < per ? batch - s0 : per);
                int kc = (int)(k - k0 < kslice ? k - k0 : kslice);
                FK_RUN(rt, kn, 2, global, NULL, FK_T(dw), FK_A(a), FK_A(a_off + s0 * a_stride + k0), FK_A(b),
                       FK_A(b_off + s0 * b_stride + k0), FK_A((int)m), FK_A((int)n), FK_A(kc), FK_A((int)k),
                       FK_A(a_stride), FK_A((int)k), FK_A(b_stride), FK_A((int)n), FK_A(sb), FK_A(1), FK_A(a_len),
                       FK_A(b_len));
            }
        return FK_OK;
    }
    /* NT_TM x NT_TN = 4 x 4 outputs per work-item */
    size_t global[2] = {(n + 3) / 4, (m + 3) / 4}, local[2] = {1, 1};
    FK_RUN(rt, kn, 2, global, local, FK_T(dw), FK_A(a), FK_A(a_off), FK_A(b), FK_A(b_off), FK_A((int)m),
           FK_A((int)n), FK_A((int)k), FK_A((int)k), FK_A(a_stride), FK_A((int)k), FK_A(b_stride), FK_A((int)n),
           FK_A((int)batch), FK_A(1), FK_A(a_len), FK_A(b_len));
    return FK_OK;
}

/* CKK rows (or C_out rows) of dW per work-item of a weight-gradient
 * launch with `col_tiles` column tiles: all `m` of them (the block of the
 * other operand read once) unless that leaves fewer than WGRAD_ITEMS
 * work-items to share out */
static size_t wgrad_rows(size_t m, size_t col_tiles)
{
    size_t rows = fk_round_up(m, TILE_TM);
    while (rows > TILE_TM && col_tiles * ((m + rows - 1) / rows) < WGRAD_ITEMS)
        rows = fk_round_up(rows / 2, TILE_TM);
    return rows;
}

/* The weight gradient without transposed columns (cl/conv_wgrad.cl,
 * wgrad_hwc) where the input channels are a multiple of the tile's
 * columns */
static bool hwc_wgrad(const fk_conv_dims *d)
{
    return d->c_in % TILE_TN == 0 && !is_pointwise(d);
}

/* Its work: dwt (C_out, CKK), then the input with channels last for as
 * many samples as fit */
static size_t hwc_work(const fk_conv_dims *d, size_t samples)
{
    return (size_t)d->c_out * d->c_in * d->kh * d->kw + (size_t)d->c_in * d->h * d->w * samples;
}

/* dW (C_out, CKK) += the weight gradient, wgrad_hwc: per chunk of samples
 * the input with its channels last, then the tap-major dwt summed over
 * the chunk's positions; at the end dwt added into dW. */
static fk_status weight_grad_hwc(fk_runtime *rt, fk_tensor dweight, fk_tensor dout, fk_tensor in, fk_tensor work,
                                 const fk_conv_dims *d)
{
    const size_t p = (size_t)d->h_out * d->w_out, ckk = (size_t)d->c_in * d->kh * d->kw;
    const size_t hw = (size_t)d->h * d->w, fixed = hwc_work(d, 0), have = fk_tensor_numel(&work);
    const size_t chunk = have > fixed ? (have - fixed) / ((size_t)d->c_in * hw) : 0;
    if (chunk < 1)
        return fk_error(FK_ERR_ARG, "conv2d backward: work of %zu floats, the weight gradient needs %zu",
                        have, hwc_work(d, 1));
    const int defs[] = {d->kh, d->kw, d->stride, d->pad};
    cl_kernel kt, kg, ka;
    FK_TRY(fk_kernel(rt, FK_K_CHW_TO_HWC, &kt));
    FK_TRY(fk_kernel_defs(rt, FK_K_WGRAD_HWC, defs, &kg));
    FK_TRY(fk_kernel_defs(rt, FK_K_WGRAD_HWC_ADD, defs, &ka));
    fk_tensor dwt = work, xt = offset_tensor(work, fixed);
    const size_t col_tiles = ckk / TILE_TN, rows = wgrad_rows((size_t)d->c_out, col_tiles);
    for (size_t s0 = 0; s0 < (size_t)d->n; s0 += chunk) {
        const int cs = (int)((size_t)d->n - s0 < chunk ? (size_t)d->n - s0 : chunk);
        FK_RUN_1D(rt, kt, (size_t)cs * hw, FK_T(xt), FK_T(offset_tensor(in, s0 * d->c_in * hw)), FK_A(cs),
                  FK_A(d->c_in), FK_A((int)hw));
        size_t global[2] = {col_tiles, ((size_t)d->c_out + rows - 1) / rows}, local[2] = {1, 1};
        FK_RUN(rt, kg, 2, global, local, FK_T(dwt), FK_T(offset_tensor(dout, s0 * d->c_out * p)), FK_T(xt),
               FK_A(d->c_out), FK_A(d->c_in), FK_A(d->h), FK_A(d->w), FK_A(d->h_out), FK_A(d->w_out), FK_A(cs),
               FK_A((int)rows), FK_A(s0 == 0 ? 1 : 0));
    }
    FK_RUN_1D(rt, ka, (size_t)d->c_out * ckk, FK_T(dweight), FK_T(dwt), FK_A(d->c_out), FK_A(d->c_in));
    return FK_OK;
}

/* dW (C_out, CKK) += the weight gradient as one GEMM per chunk of samples
 * with K = chunk*P (cl/conv_wgrad.cl): weight_grad_hwc where the input
 * channels allow, else the columns transposed, colT (chunk*P, CKK) in
 * col's place, then register tiles of TILE_TM x TILE_TN dW elements
 * summed over blocks of positions (wgrad_nn16; gemm_nt16's 4 x 4 dot
 * products load more per multiply-add). The chunk is as many samples as
 * the work holds. CPU devices with the own GEMMs, convs that make
 * columns. */
static fk_status weight_grad_rows(fk_runtime *rt, fk_tensor dweight, fk_tensor dout, fk_tensor in, fk_tensor col,
                                  const fk_conv_dims *d)
{
    if (hwc_wgrad(d)) /* its own work, checked there */
        return weight_grad_hwc(rt, dweight, dout, in, col, d);
    const size_t p = (size_t)d->h_out * d->w_out, ckk = (size_t)d->c_in * d->kh * d->kw;
    size_t chunk = fk_tensor_numel(&col) / (ckk * p);
    if (chunk < 1)
        return fk_error(FK_ERR_ARG, "conv2d backward: work of %zu floats, one sample's columns are %zu",
                        fk_tensor_numel(&col), ckk * p);
    cl_kernel ki, kg;
    FK_TRY(fk_kernel_defs(rt, FK_K_IM2COL_T, (int[]){d->kh, d->kw, d->stride, d->pad}, &ki));
    FK_TRY(fk_kernel(rt, FK_K_WGRAD_NN16, &kg));
    const size_t in_img = (size_t)d->c_in * d->h * d->w, out_img = (size_t)d->c_out * p;
    const size_t col_tiles = (ckk + TILE_TN - 1) / TILE_TN, rows = wgrad_rows((size_t)d->c_out, col_tiles);
    for (size_t s0 = 0; s0 < (size_t)d->n; s0 += chunk) {
        const int cs = (int)((size_t)d->n - s0 < chunk ? (size_t)d->n - s0 : chunk);
        FK_RUN_1D(rt, ki, (size_t)cs * p, FK_T(col), FK_T(offset_tensor(in, s0 * in_img)), FK_A(cs),
                  FK_A(d->c_in), FK_A(d->h), FK_A(d->w), FK_A(d->h_out), FK_A(d->w_out));
        size_t global[2] = {col_tiles, ((size_t)d->c_out + rows - 1) / rows}, local[2] = {1, 1};
        FK_RUN(rt, kg, 2, global, local, FK_T(dweight), FK_T(offset_tensor(dout, s0 * out_img)), FK_T(col),
               FK_A(d->c_out), FK_A((int)ckk), FK_A(cs), FK_A((int)p), FK_A((int)rows));
    }
    return FK_OK;
}

/* ---- whole-batch path (GPUs), kernels: cl/conv_batch.cl -----------------
 * The batch is folded into the GEMM columns (NP = N*HO*WO), so each GEMM is
 * one large product instead of N small ones:
 *   forward   col (CKK, NP) = im2col(in); y (C_out, NP) = W * col;
 *             out (N, C_out, HO, WO) = y laid out per sample, + bias;
 *   backward  dy (C_out, NP) = dout with its channel axis first;
 *             dbias += row sums of dy; dW += dy * col^T (one GEMM, K = NP);
 *             col = W^T * dy, din += col2im(col).
 * Work space: col (CKK * NP) then y or dy (C_out * NP). 1x1 convs take the
 * same route (their im2col is the layout change of the input).
 * Where it runs: conv_choose. */
static size_t batch_work(const fk_conv_dims *d)
{
    size_t np = (size_t)d->n * d->h_out * d->w_out;
    return ((size_t)d->c_in * d->kh * d->kw + d->c_out) * np;
}

/* im2col_batch (col <- in) or col2im_batch_add (din += col) */
static fk_status batch_col(fk_runtime *rt, const fk_conv_dims *d, fk_kernel_id id, fk_tensor dst,
                           fk_tensor src, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel_defs(rt, id, (int[]){d->kh, d->kw, d->stride, d->pad}, &k));
    FK_RUN_1D(rt, k, count, FK_T(dst), FK_T(src), IMAGE_SIZES(d));
    return FK_OK;
}

static fk_status batch_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                               const fk_tensor *bias, fk_tensor work, const fk_conv_dims *d)
{
    const size_t p = (size_t)d->h_out * d->w_out, np = d->n * p;
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    fk_tensor col = work, y = offset_tensor(work, ckk * np);
    FK_TRY(batch_col(rt, d, FK_K_IM2COL_BATCH, col, in, d->c_in * np));
    FK_TRY(fk_gemm(rt, false, false, d->c_out, np, ckk, 1.0f, weight.buf, weight.off, ckk, col.buf, col.off,
                   np, 0.0f, y.buf, y.off, np));
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_CM_TO_NCHW_BIAS, &k));
    fk_tensor b = bias ? *bias : weight; /* unused without bias */
    FK_RUN_1D(rt, k, d->c_out * np, FK_T(out), FK_T(y), FK_A(d->n), FK_A(d->c_out), FK_A((int)p), FK_T(b),
              FK_A(bias ? 1 : 0));
    return FK_OK;
}

static fk_status batch_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dweight,
                                const fk_tensor *dbias, fk_tensor dout, fk_tensor in, fk_tensor weight,
                                fk_tensor work, const fk_conv_dims *d)
{
    if (dbias && !d->bias)
        return fk_error(FK_ERR_ARG, "conv2d backward: dbias given for a conv without bias");
    if (!din && !dweight && !dbias)
        return FK_OK;
    const size_t p = (size_t)d->h_out * d->w_out, np = d->n * p;
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    fk_tensor col = work, dy = offset_tensor(work, ckk * np);
    FK_TRY(run_ncp(rt, FK_K_NCHW_TO_CM, dy, dout, d->n, d->c_out, (int)p, d->c_out * np));
    if (dbias) {
        cl_kernel k;
        FK_TRY(fk_kernel(rt, FK_K_ROW_SUM_ADD, &k));
        size_t global = (size_t)d->c_out * 64, local = 64;
        FK_RUN(rt, k, 1, &global, &local, FK_T(*dbias), FK_T(dy), FK_A(d->c_out), FK_A((int)np));
    }
    if (dweight) {
        FK_TRY(batch_col(rt, d, FK_K_IM2COL_BATCH, col, in, d->c_in * np));
        FK_TRY(fk_gemm(rt, false, true, d->c_out, ckk, np, 1.0f, dy.buf, dy.off, np, col.buf, col.off, np,
                       1.0f, dweight->buf, dweight->off, ckk));
    }
    if (din) {
        FK_TRY(fk_gemm(rt, true, false, ckk, np, d->c_out, 1.0f, weight.buf, weight.off, ckk, dy.buf, dy.off,
                       np, 0.0f, col.buf, col.off, np));
        FK_TRY(batch_col(rt, d, FK_K_COL2IM_BATCH_ADD, *din, col, (size_t)d->n * d->c_in * d->h * d->w));
    }
    return FK_OK;
}

/* ---- Winograd F(2x2, 3x3), kernels: cl/winograd.cl ----------------------
 * 3x3 stride-1 pad-1 convs with groups 1 as 16 GEMMs of the transformed
 * weight (O, I) by the transformed input tiles (I, T): 2.25x fewer
 * multiply-adds than the GEMM of the columns, and the transformed input is
 * 4x the input where the columns are 9x. Work: U (16, O, I), then for a
 * chunk of samples V (16, I, T) and M (16, O, T); the chunk is as many
 * samples as fit the work given. The data gradient of a 3x3 stride-1 pad-1
 * conv is the same kind of conv of dout with the weight rotated by 180
 * degrees and transposed, added into din (the output step's residual).
 * Convs with fewer than 8 input or output channels (a first layer on RGB)
 * keep the columns: their GEMMs are too thin to gain. Where it runs:
 * conv_choose. */
static bool is_winograd_shape(const fk_conv_dims *d)
{
    return d->groups == 1 && d->kh == 3 && d->kw == 3 && d->stride == 1 && d->pad == 1 && d->c_in >= 8 &&
           d->c_out >= 8;
}

/* 2x2 output tiles per sample */
static size_t wino_tiles(const fk_conv_dims *d)
{
    return (size_t)((d->h_out + 1) / 2) * (size_t)((d->w_out + 1) / 2);
}

static size_t winograd_work(const fk_conv_dims *d, size_t samples)
{
    return 16 * ((size_t)d->c_out * d->c_in + (size_t)(d->c_in + d->c_out) * wino_tiles(d) * samples);
}

/* What a forward adds after the product: bias (C), a residual like out,
 * then ReLU. */
typedef struct conv_epilogue {
    const fk_tensor *bias, *res;
    bool relu;
} conv_epilogue;

/* out (N, o_ch, H, W) = the 3x3 pad-1 conv of in (N, i_ch, H, W) with
 * weight (flip: the data-gradient form), then the epilogue. */
static fk_status winograd_conv(fk_runtime *rt, const conv_choice *c, fk_tensor out, fk_tensor in, fk_tensor weight, bool flip, int o_ch,
                               int i_ch, const conv_epilogue *e, fk_tensor work, const fk_conv_dims *d)
{
    const int h = d->h_out, w = d->w_out, th = (h + 1) / 2, tw = (w + 1) / 2;
    const size_t tiles = (size_t)th * tw, plane_u = (size_t)o_ch * i_ch;
    const size_t per = 16 * (size_t)(o_ch + i_ch) * tiles, have = fk_tensor_numel(&work);
    if (have < 16 * plane_u + per)
        return fk_error(FK_ERR_ARG, "conv2d: work of %zu floats, Winograd needs %zu", have, 16 * plane_u + per);
    size_t chunk = (have - 16 * plane_u) / per;
    const size_t widest = (size_t)(o_ch > i_ch ? o_ch : i_ch);
    while (chunk > 1 && 16 * widest * tiles * chunk >= INT_MAX)
        chunk /= 2;
    if (chunk > (size_t)d->n)
        chunk = (size_t)d->n;
    /* the own GEMMs: all 16 in one launch (wino_gemm) and the transforms in
     * float16 vectors; else one GEMM each and a work-item per tile */
    const bool own = c->own && !c->wi;
    cl_kernel kw, ki, ko;
    FK_TRY(fk_kernel(rt, FK_K_WINO_WEIGHT, &kw));
    FK_TRY(fk_kernel(rt, own ? FK_K_WINO_INPUT16 : FK_K_WINO_INPUT, &ki));
    FK_TRY(fk_kernel(rt, own ? FK_K_WINO_OUTPUT16 : FK_K_WINO_OUTPUT, &ko));
    cl_kernel kg;
    FK_TRY(fk_kernel(rt, FK_K_WINO_GEMM, &kg));
    cl_ulong v_len;
    FK_TRY(buffer_floats(work.buf, &v_len));
    fk_tensor u = work;
    FK_RUN_1D(rt, kw, plane_u, FK_T(u), FK_T(weight), FK_A(o_ch), FK_A(i_ch), FK_A(flip ? 1 : 0));
    const size_t in_img = (size_t)i_ch * d->h * d->w, out_img = (size_t)o_ch * h * w;
    for (size_t s0 = 0; s0 < (size_t)d->n; s0 += chunk) {
        const size_t cs = (size_t)d->n - s0 < chunk ? (size_t)d->n - s0 : chunk, t = cs * tiles;
        fk_tensor v = offset_tensor(work, 16 * plane_u), m = offset_tensor(v, 16 * (size_t)i_ch * t);
        /* the vector transforms: one work-item per (channel, sample) */
        size_t gi[2] = {(size_t)i_ch, cs}, go[2] = {(size_t)o_ch, cs}, l2[2] = {1, 1};
        if (own)
            FK_RUN(rt, ki, 2, gi, l2, FK_T(v), FK_T(offset_tensor(in, s0 * in_img)), FK_A(i_ch), FK_A(d->h),
                   FK_A(d->w), FK_A(th), FK_A(tw), FK_A((int)t));
        else
            FK_RUN_1D(rt, ki, (size_t)i_ch * t, FK_T(v), FK_T(offset_tensor(in, s0 * in_img)), FK_A(i_ch),
                      FK_A(d->h), FK_A(d->w), FK_A(th), FK_A(tw), FK_A((int)t));
        if (own) {
            size_t global[3] = {(t + TILE_TN - 1) / TILE_TN, ((size_t)o_ch + TILE_TM - 1) / TILE_TM, 16},
                   local[3] = {1, 1, 1};
            /* whole vectors only inside V: M follows it in the work, and
             * other work-items write M while this one reads */
            const cl_ulong v_end = (cl_ulong)(v.off + 16 * (size_t)i_ch * t);
            FK_RUN(rt, kg, 3, global, local, FK_T(m), FK_T(u), FK_T(v), FK_A(o_ch), FK_A((int)t), FK_A(i_ch),
                   FK_A(v_end < v_len ? v_end : v_len));
        } else {
            for (size_t xi = 0; xi < 16; xi++)
                FK_TRY(weight_gemm(rt, c, false, (size_t)o_ch, t, (size_t)i_ch, offset_tensor(u, xi * plane_u), v.buf,
                                   v.off + xi * i_ch * t, t, 0, false, m.buf, m.off + xi * o_ch * t, t, 0, 1, 0));
        }
        fk_tensor oc = offset_tensor(out, s0 * out_img);
        fk_tensor b = e->bias ? *e->bias : m, r = e->res ? offset_tensor(*e->res, s0 * out_img) : m;
        if (own)
            FK_RUN(rt, ko, 2, go, l2, FK_T(oc), FK_T(m), FK_T(b), FK_T(r), FK_A(o_ch), FK_A(h), FK_A(w), FK_A(th),
                   FK_A(tw), FK_A((int)t), FK_A(e->bias ? 1 : 0), FK_A(e->res ? 1 : 0), FK_A(e->relu ? 1 : 0));
        else
            FK_RUN_1D(rt, ko, (size_t)o_ch * t, FK_T(oc), FK_T(m), FK_T(b), FK_T(r), FK_A(o_ch), FK_A(h), FK_A(w),
                      FK_A(th), FK_A(tw), FK_A((int)t), FK_A(e->bias ? 1 : 0), FK_A(e->res ? 1 : 0),
                      FK_A(e->relu ? 1 : 0));
    }
    return FK_OK;
}

/* fk_conv_forward with a choice made */
static fk_status conv_forward(fk_runtime *rt, const conv_choice *c, fk_tensor out, fk_tensor in, fk_tensor weight,
                              const fk_tensor *bias, fk_tensor work, const fk_conv_dims *d)
{
    if (d->bias != (bias != NULL))
        return fk_error(FK_ERR_ARG, "conv2d forward: dims say bias=%d but bias tensor %s", d->bias,
                        bias ? "given" : "missing");
    if (c->batch_fwd)
        return batch_forward(rt, out, in, weight, bias, work, d);
    const size_t p = (size_t)d->h_out * d->w_out;
    if (d->groups != 1) {
        cl_kernel k;
        FK_TRY(conv_kernel(rt, d, FK_K_DIRECT_FORWARD, &k));
        fk_tensor b = bias ? *bias : weight; /* unused without bias */
        FK_RUN_1D(rt, k, (size_t)d->n * d->c_out * p, FK_T(out), FK_T(in), FK_T(weight), FK_T(b),
                  DIRECT_SIZES(d));
        return FK_OK;
    }
    if (c->wino_fwd)
        return winograd_conv(rt, c, out, in, weight, false, d->c_out, d->c_in,
                             &(conv_epilogue){bias, NULL, false}, work, d);
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    bool done = false;
    if (c->t4)
        FK_TRY(fk_conv_t4_forward(rt, out, in, weight, NULL, NULL, false, work, d, &done));
    if (done) {
        /* on texels */
    } else if (is_pointwise(d)) {
        FK_TRY(weight_gemm(rt, c, false, d->c_out, p, d->c_in, weight, in.buf, in.off, p, d->c_in * p, false,
                           out.buf, out.off, p, d->c_out * p, d->n, 0));
    } else if (c->ig_fwd) {
        FK_TRY(fk_conv_ig_forward(rt, out, in, weight, d));
    } else {
        /* in chunks of the samples whose columns the work holds (all of
         * them with fk_conv_work; fk_conv_work_on's plans ask less) */
        const size_t chunk = col_chunk(work, d);
        /* the columns in panels where they divide P (64 x 576 by 576 x
         * 1024 on 2 cores: 98-114 GFLOP/s row-major, 164-174 in panels) */
        const bool panels = c->own && !c->wi && p % TILE_TN == 0;
        fk_conv_dims part = *d;
        for (size_t s0 = 0; s0 < (size_t)d->n; s0 += chunk) {
            part.n = (int)((size_t)d->n - s0 < chunk ? (size_t)d->n - s0 : chunk);
            FK_TRY(im2col(rt, c, work, offset_tensor(in, s0 * d->c_in * d->h * d->w), &part, panels));
            FK_TRY(weight_gemm(rt, c, false, d->c_out, p, ckk, weight, work.buf, work.off, panels ? TILE_TN : p,
                               ckk * p, false, out.buf, out.off + s0 * d->c_out * p, p, d->c_out * p,
                               (size_t)part.n, panels ? ckk * TILE_TN : 0));
        }
    }
    if (bias)
        FK_TRY(run_ncp(rt, FK_K_CONV_BIAS_ADD, out, *bias, d->n, d->c_out, (int)p, d->n * d->c_out * p));
    return FK_OK;
}

fk_status fk_conv_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                          const fk_tensor *bias, fk_tensor work, const fk_conv_dims *d)
{
    conv_choice c;
    FK_TRY(conv_choose(rt, d, false, &c));
    return conv_forward(rt, &c, out, in, weight, bias, work, d);
}

fk_status fk_conv_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dweight,
                           const fk_tensor *dbias, fk_tensor dout, fk_tensor in, fk_tensor weight,
                           fk_tensor work, const fk_conv_dims *d)
{
    conv_choice cc, *c = &cc;
    FK_TRY(conv_choose(rt, d, false, c));
    if (c->batch_bwd)
        return batch_backward(rt, din, dweight, dbias, dout, in, weight, work, d);
    const size_t p = (size_t)d->h_out * d->w_out;
    if (dbias) {
        if (!d->bias)
            return fk_error(FK_ERR_ARG, "conv2d backward: dbias given for a conv without bias");
        const size_t per = samples_per_launch(p + 1, (size_t)d->n);
        for (size_t s0 = 0; s0 < (size_t)d->n; s0 += per)
            FK_TRY(run_ncp(rt, FK_K_CONV_BIAS_GRAD, *dbias, offset_tensor(dout, s0 * d->c_out * p),
                           (int)((size_t)d->n - s0 < per ? (size_t)d->n - s0 : per), d->c_out, (int)p, d->c_out));
    }
    if (d->groups != 1) {
        cl_kernel k;
        if (dweight) {
            FK_TRY(conv_kernel(rt, d, FK_K_DIRECT_BACKWARD_WEIGHT, &k));
            const size_t per = samples_per_launch((size_t)d->h_out * (d->w_out + 1) + 1, (size_t)d->n);
            for (size_t s0 = 0; s0 < (size_t)d->n; s0 += per) {
                fk_conv_dims part = *d;
                part.n = (int)((size_t)d->n - s0 < per ? (size_t)d->n - s0 : per);
                FK_RUN_1D(rt, k, (size_t)d->c_out * (d->c_in / d->groups) * d->kh * d->kw, FK_T(*dweight),
                          FK_T(offset_tensor(dout, s0 * d->c_out * p)),
                          FK_T(offset_tensor(in, s0 * d->c_in * d->h * d->w)), DIRECT_SIZES(&part));
            }
        }
        if (din) {
            FK_TRY(conv_kernel(rt, d, FK_K_DIRECT_BACKWARD_DATA, &k));
            FK_RUN_1D(rt, k, (size_t)d->n * d->c_in * d->h * d->w, FK_T(*din), FK_T(dout), FK_T(weight),
                      DIRECT_SIZES(d));
        }
        return FK_OK;
    }
    const size_t ckk = (size_t)d->c_in * d->kh * d->kw;
    const bool pw = is_pointwise(d);
    /* col and its per-sample stride and leading dimension */
    fk_tensor col = pw ? in : work;
    const size_t col_stride = ckk * p, col_ld = p;
    bool din_done = false, dw_done = false;
    if (c->t4)
        FK_TRY(fk_conv_t4_backward(rt, din, dweight, dout, in, weight, work, d, &din_done, &dw_done));
    if (dw_done) {
        /* on texels, with the data gradient where that ran too */
    } else if (dweight && c->ig_wgrad) {
        FK_TRY(fk_conv_ig_backward_weight(rt, *dweight, dout, in, d));
    } else if (dweight && !pw && c->own && !c->wi) {
        FK_TRY(weight_grad_rows(rt, *dweight, dout, in, col, d));
    } else if (dweight) {
        if (!pw)
            FK_TRY(im2col(rt, c, col, in, d, false));
        if (c->own)
            FK_TRY(weight_grad_gemm(rt, c, d->c_out, ckk, p, dout.buf, dout.off, d->c_out * p, col.buf,
                                    col.off, col_stride, *dweight, d->n));
        fk_tensor part = offset_tensor(work, pw ? 0 : col_elems(d));
        const size_t chunk = dw_chunk(d), len = (size_t)d->c_out * ckk;
        for (size_t s0 = 0; s0 < (size_t)d->n && !c->own; s0 += chunk) {
            size_t b = (size_t)d->n - s0 < chunk ? (size_t)d->n - s0 : chunk;
            FK_TRY(fk_gemm_strided_batched(rt, false, true, d->c_out, ckk, p, 1.0f, dout.buf,
                                           dout.off + s0 * d->c_out * p, p, d->c_out * p, col.buf,
                                           col.off + s0 * col_stride, col_ld, col_stride, 0.0f,
                                           part.buf, part.off, ckk, len, b));
            cl_kernel k;
            FK_TRY(fk_kernel(rt, FK_K_SUM_BATCHES_ADD, &k));
            FK_RUN_1D(rt, k, len, FK_T(*dweight), FK_T(part), FK_A((int)b), FK_A((int)len));
        }
    }
    if (din && !din_done && c->wino_bwd)
        return winograd_conv(rt, c, *din, dout, weight, true, d->c_in, d->c_out, &(conv_epilogue){NULL, din, false},
                             work, d);
    if (din && !din_done) {
        if (pw) {
            FK_TRY(weight_gemm(rt, c, true, d->c_in, p, d->c_out, weight, dout.buf, dout.off, p, d->c_out * p,
                               true, din->buf, din->off, p, d->c_in * p, d->n, 0));
        } else if (c->ig_dgrad) {
            FK_TRY(fk_conv_ig_backward_data(rt, *din, dout, weight, d));
        } else {
            const size_t chunk = col_chunk(work, d);
            fk_conv_dims part = *d;
            for (size_t s0 = 0; s0 < (size_t)d->n; s0 += chunk) {
                part.n = (int)((size_t)d->n - s0 < chunk ? (size_t)d->n - s0 : chunk);
                FK_TRY(weight_gemm(rt, c, true, ckk, p, d->c_out, weight, dout.buf, dout.off + s0 * d->c_out * p, p,
                                   d->c_out * p, false, col.buf, col.off, p, ckk * p, (size_t)part.n, 0));
                FK_TRY(col2im_add(rt, c, offset_tensor(*din, s0 * d->c_in * d->h * d->w), col, &part));
            }
        }
    }
    return FK_OK;
}

fk_status fk_conv_forward_fused(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                                const fk_tensor *bias, const fk_tensor *res, bool relu, fk_tensor work,
                                const fk_conv_dims *d)
{
    conv_choice c;
    FK_TRY(conv_choose(rt, d, true, &c));
    if (!c.batch_fwd && c.wino_fwd)
        return winograd_conv(rt, &c, out, in, weight, false, d->c_out, d->c_in, &(conv_epilogue){bias, res, relu},
                             work, d);
    fk_conv_dims plain = *d;
    plain.bias = false;
    bool done = false;
    if (!c.batch_fwd && c.t4)
        FK_TRY(fk_conv_t4_forward(rt, out, in, weight, bias, res, relu, work, &plain, &done));
    if (!done)
        FK_TRY(conv_forward(rt, &c, out, in, weight, NULL, work, &plain));
    if (done || (!bias && !res && !relu))
        return FK_OK;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_CONV_EPILOGUE, &k));
    const size_t p = (size_t)d->h_out * d->w_out, count = (size_t)d->n * d->c_out * p;
    fk_tensor b = bias ? *bias : out, r = res ? *res : out;
    FK_RUN_1D(rt, k, count, FK_T(out), FK_T(b), FK_T(r), FK_A(d->c_out), FK_A((int)p), FK_A((cl_ulong)count),
              FK_A(bias ? 1 : 0), FK_A(res ? 1 : 0), FK_A(relu ? 1 : 0));
    return FK_OK;
}
