/* Convolution on four-channel texels (cl/conv_t4.cl) for the devices
 * whose implicit GEMMs read through image views (fk_device_image_loads:
 * Mesa's llvmpipe). Each pass packs its source channels-last with its
 * zero border, and its weights in texels of four output channels, into
 * the conv's work; conv_fwd_t4 reads both through one CL_RGBA view of the
 * work buffer. The data gradient is the same forward (stride 1) on the
 * output gradient with border KH - 1 - PAD, STRIDE - 1 zeros between its
 * pixels, and the weights flipped and transposed. */
#include "ops/conv_t4.h"

#include <limits.h>

#define T4_TP 8          /* output pixels per work-item (T4_TP of cl/conv_t4.cl) */
#define T4_LOCAL 8       /* work-items per group along the pixels */
#define T4_PACK_LOCAL 32 /* t4_pack's work-items per group */
#define T4_BUDGET 16384u /* loop iterations per work-item (llvmpipe leaves after 65535) */

/* one pass as a forward conv of the packed source */
typedef struct t4_pass {
    int n, c_in, h, w, pad, c_out, ho, wo, stride, kh, kw;
    int shift;                  /* the source's pixels spread 1 << shift apart (the data gradient's stride) */
    bool flip;                  /* the data gradient's weights */
    int c4, hp, wp, co4;        /* texels per pixel, packed size, output texels (even) */
    size_t packed, weights;     /* floats of the packed source and weights */
} t4_pass;

static t4_pass pass_of(const fk_conv_dims *d, bool data_grad)
{
    t4_pass p = {d->n, d->c_in, d->h, d->w, d->pad, d->c_out, d->h_out, d->w_out, d->stride, d->kh, d->kw,
                 0, false, 0, 0, 0, 0, 0, 0};
    p.hp = p.h + 2 * p.pad, p.wp = p.w + 2 * p.pad;
    if (data_grad) { /* a stride-1 conv of the output gradient, its pixels spread `stride` apart */
        p.c_in = d->c_out, p.h = d->h_out, p.w = d->w_out, p.pad = d->kh - 1 - d->pad;
        p.c_out = d->c_in, p.ho = d->h, p.wo = d->w, p.stride = 1, p.flip = true;
        p.hp = d->h + d->kh - 1, p.wp = d->w + d->kw - 1;
        while (1 << p.shift < d->stride)
            p.shift++;
    }
    p.c4 = (p.c_in + 3) / 4;
    p.co4 = (p.c_out + 7) / 8 * 2;
    p.packed = (size_t)p.n * p.hp * p.wp * p.c4 * 4;
    p.weights = (size_t)p.kh * p.kw * p.c4 * 4 * p.co4 * 4;
    return p;
}

/* Whether the data gradient runs here: a power-of-two stride (the zeros
 * between the packed pixels), and a kernel wider than the stride (a
 * strided 1x1 conv would multiply zeros three times in four and keeps
 * its GEMM). */
static bool dgrad_fits(const fk_conv_dims *d)
{
    return d->kh == d->kw && d->pad < d->kh && (d->stride & (d->stride - 1)) == 0 && d->stride <= 8 &&
           (d->stride == 1 || d->kh > d->stride);
}

/* floats of work a pass takes: its start rounded up to a texel, then the
 * packed source and the weights */
static size_t pass_work(const t4_pass *p)
{
    return 3 + p->packed + p->weights;
}

/* The weight gradient: the image packed with its border, in an even
 * number of texels per pixel (8-channel tiles), and one partial gradient
 * per slice of samples (the output gradient: t4_back). */
typedef struct t4_wgrad {
    int c4, co4, items, per_slice, slices;
    size_t image, parts; /* floats */
} t4_wgrad;

#define T4_WGRAD_ITEMS 1024 /* fewest work-items the slices aim at */

static t4_wgrad wgrad_of(const fk_conv_dims *d)
{
    t4_wgrad w;
    w.c4 = (d->c_in + 7) / 8 * 2, w.co4 = (d->c_out + 7) / 8 * 2;
    w.items = w.co4 / 2 * (w.c4 / 2) * d->kh * d->kw;
    const int per_sample = d->h_out * (d->w_out + 1) + 1, most = (int)(T4_BUDGET / (unsigned)per_sample);
    const int wanted = (T4_WGRAD_ITEMS + w.items - 1) / w.items;
    w.per_slice = (d->n + wanted - 1) / wanted;
    w.per_slice = w.per_slice > most ? most : w.per_slice;
    w.per_slice = w.per_slice < 1 ? 1 : w.per_slice;
    w.slices = (d->n + w.per_slice - 1) / w.per_slice;
    w.image = (size_t)d->n * (d->h + 2 * d->pad) * (d->w + 2 * d->pad) * w.c4 * 4;
    w.parts = (size_t)w.slices * d->c_out * d->c_in * d->kh * d->kw;
    return w;
}

static bool wgrad_fits(const fk_conv_dims *d)
{
    return (size_t)d->h_out * (d->w_out + 1) + 2 <= T4_BUDGET;
}


/* the CL_RGBA view of work's buffer, NULL where it has none or does not
 * reach float `end` */
static fk_status work_view(fk_runtime *rt, fk_tensor work, size_t end, cl_mem *view)
{
    *view = NULL;
    if (end > work.off + fk_tensor_numel(&work))
        return FK_OK;
    return fk_buffer_image4_to(rt, work.buf, end, view);
}

/* the weights t4_pack packs in the same launch: weight (c_out, c_in,
 * taps; flip: the data gradient's) to co4 texels of output channels at
 * float `at` of the work; none with count 0 */
typedef struct t4_weights {
    fk_tensor weight;
    size_t at;
    int c_out, c_in, c4, co4, taps, flip, count; /* count: texels */
} t4_weights;

/* the texels from float `at` of work = src (n, c, h, w) packed as t4_pack
 * does (border pad, pixels 1 << shift apart, c4 texels per pixel, hp x wp),
 * reading src through its CL_R view where it has one; and w's texels */
static fk_status pack(fk_runtime *rt, fk_tensor work, size_t at, fk_tensor src, int n, int c, int h, int w, int pad,
                      int shift, int hp, int wp, int c4, const t4_weights *wt)
{
    cl_mem img;
    FK_TRY(fk_buffer_image(rt, src.buf, &img));
    if (img)
        src.buf = img;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, img ? FK_K_T4_PACK_IMAGE : FK_K_T4_PACK, &k));
    const size_t gx = fk_round_up((size_t)wp, T4_PACK_LOCAL), plane = gx * (size_t)hp;
    const t4_weights none = {work, 0, 0, 0, 1, 1, 1, 0, 0}; /* work: any buffer */
    if (!wt)
        wt = &none;
    size_t global[3] = {gx, (size_t)hp, (size_t)n + ((size_t)wt->count + plane - 1) / plane};
    size_t local[3] = {T4_PACK_LOCAL, 1, 1};
    FK_RUN(rt, k, 3, global, local, fk_arg_mem(work.buf), fk_arg_ulong(at), FK_T(src), FK_A(n), FK_A(c), FK_A(h),
           FK_A(w), FK_A(pad), FK_A(shift), FK_A(hp), FK_A(wp), FK_A(c4), fk_arg_ulong(wt->at), FK_T(wt->weight),
           FK_A(wt->c_out), FK_A(wt->c_in), FK_A(wt->c4), FK_A(wt->co4), FK_A(wt->flip), FK_A(wt->taps),
           FK_A(wt->count));
    return FK_OK;
}

/* conv_fwd_t4's epilogue bits (cl/conv_t4.cl; its -D EPILOGUE) */
#define T4_BIAS 1
#define T4_ACCUMULATE 2
#define T4_RES 4
#define T4_RELU 8

/* Whether conv_fwd_t4 takes pass p: loops short enough for llvmpipe,
 * pixels in int */
static bool pass_fits(const t4_pass *p)
{
    const unsigned loops = (unsigned)p->kh * ((unsigned)p->kw * ((unsigned)p->c4 + 1) + 1);
    return loops <= T4_BUDGET && (size_t)p->ho * p->wo <= INT_MAX / 2;
}

/* the packed source and weights t4_pack wrote for pass p (floats `at` and
 * `wat` of the view's buffer) packed in the same launch */
static t4_weights pass_weights(const t4_pass *p, fk_tensor weight, size_t wat)
{
    return (t4_weights){weight, wat, p->c_out, p->c_in, p->c4, p->co4, p->kh * p->kw, p->flip ? 1 : 0,
                        (int)(p->weights / 4)};
}

/* The view of work again just before a launch that reads it: a view
 * made since (t4_pack's CL_R view of its source) may have replaced it in
 * the runtime's cache, which keeps only the last one returned. */
static fk_status view_again(fk_runtime *rt, fk_tensor work, size_t end, cl_mem *view)
{
    FK_TRY(work_view(rt, work, end, view));
    return *view ? FK_OK : fk_error(FK_ERR_CL, "conv on texels: the work buffer's image view is gone");
}

/* out = conv_fwd_t4 of the source and weights packed for p at floats at
 * and wat of work (their end: wat + p's weights), then the epilogue */
static fk_status conv_packed(fk_runtime *rt, fk_tensor out, fk_tensor work, size_t at, size_t wat, const t4_pass *p,
                             const fk_tensor *bias, const fk_tensor *res, int epilogue)
{
    cl_mem view;
    FK_TRY(view_again(rt, work, wat + p->weights, &view));
    /* a row's taps share their reads where the kernel is 3 wide, stride 1 */
    const bool row = p->stride == 1 && p->kw == 3;
    cl_kernel k;
    FK_TRY(fk_kernel_defs(rt, row ? FK_K_CONV_FWD_T4_ROW : FK_K_CONV_FWD_T4,
                          (int[]){p->kh, p->kw, p->stride, epilogue}, &k));
    const size_t tiles = row ? (size_t)(p->wo + T4_TP - 1) / T4_TP * p->ho : ((size_t)p->ho * p->wo + T4_TP - 1) / T4_TP;
    size_t global[3] = {fk_round_up(tiles, T4_LOCAL), (size_t)p->co4 / 2, (size_t)p->n};
    size_t local[3] = {T4_LOCAL, 1, 1};
    FK_RUN(rt, k, 3, global, local, FK_T(out), FK_A(view), FK_A((int)(at / 4)), FK_A(view), FK_A((int)(wat / 4)),
           FK_A(p->c4), FK_A(p->hp), FK_A(p->wp), FK_A(p->c_out), FK_A(p->ho), FK_A(p->wo), FK_A(p->co4),
           FK_T(bias ? *bias : out), FK_T(res ? *res : out));
    return FK_OK;
}

fk_status fk_conv_t4_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight, const fk_tensor *bias,
                             const fk_tensor *res, bool relu, fk_tensor work, const fk_conv_dims *d, bool *done)
{
    *done = false;
    if (d->groups != 1)
        return FK_OK;
    const t4_pass p = pass_of(d, false);
    const size_t start = (work.off + 3) / 4 * 4;
    cl_mem view = NULL;
    if (pass_fits(&p))
        FK_TRY(work_view(rt, work, start + p.packed + p.weights, &view));
    if (!view)
        return FK_OK;
    const t4_weights wt = pass_weights(&p, weight, start + p.packed);
    FK_TRY(pack(rt, work, start, in, p.n, p.c_in, p.h, p.w, p.pad, p.shift, p.hp, p.wp, p.c4, &wt));
    FK_TRY(conv_packed(rt, out, work, start, start + p.packed, &p, bias, res,
                       (bias ? T4_BIAS : 0) | (res ? T4_RES : 0) | (relu ? T4_RELU : 0)));
    *done = true;
    return FK_OK;
}

/* The backward's floats in the work, from its start rounded up to a
 * texel: the output gradient packed once for both gradients (with the
 * data gradient's border and spacing where that runs here, else as it
 * is; an even number of texels per pixel for the weight gradient's
 * 8-channel tiles), the data gradient's weights, the image packed, the
 * weight gradient's partial sums. */
typedef struct t4_back {
    bool data, weights;   /* which gradients run here */
    t4_pass dg;           /* the data gradient's conv */
    t4_wgrad w;           /* the weight gradient */
    int gb, gstep;        /* the packed gradient: border, pixel spacing */
    size_t grad, dweights, image, parts, end;
} t4_back;

static t4_back back_of(const fk_conv_dims *d, bool data, bool weights)
{
    t4_back b;
    b.data = data && dgrad_fits(d);
    b.weights = weights && wgrad_fits(d);
    b.w = wgrad_of(d);
    b.dg = pass_of(d, true);
    b.dg.c4 = b.w.co4;
    b.dg.packed = (size_t)b.dg.n * b.dg.hp * b.dg.wp * b.dg.c4 * 4;
    b.dg.weights = (size_t)b.dg.kh * b.dg.kw * b.dg.c4 * 4 * b.dg.co4 * 4;
    if (!b.data) { /* the gradient as it is */
        b.dg.pad = 0, b.dg.shift = 0, b.dg.hp = d->h_out, b.dg.wp = d->w_out;
        b.dg.packed = (size_t)d->n * d->h_out * d->w_out * b.w.co4 * 4;
    }
    b.data = b.data && pass_fits(&b.dg);
    b.gb = b.dg.pad, b.gstep = 1 << b.dg.shift;
    b.grad = 0;
    b.dweights = b.grad + b.dg.packed;
    b.image = b.dweights + (b.data ? b.dg.weights : 0);
    b.parts = b.image + (b.weights ? b.w.image : 0);
    b.end = b.parts + (b.weights ? b.w.parts : 0);
    return b;
}

size_t fk_conv_t4_work(const fk_conv_dims *d)
{
    if (d->groups != 1)
        return 0;
    t4_pass f = pass_of(d, false);
    t4_back b = back_of(d, true, true);
    return pass_work(&f) > 3 + b.end ? pass_work(&f) : 3 + b.end;
}

fk_status fk_conv_t4_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dweight, fk_tensor dout,
                              fk_tensor in, fk_tensor weight, fk_tensor work, const fk_conv_dims *d, bool *din_done,
                              bool *dw_done)
{
    *din_done = *dw_done = false;
    if (d->groups != 1)
        return FK_OK;
    const t4_back b = back_of(d, din != NULL, dweight != NULL);
    if (!b.data && !b.weights)
        return FK_OK;
    const size_t start = (work.off + 3) / 4 * 4;
    cl_mem view;
    FK_TRY(work_view(rt, work, start + b.end, &view));
    if (!view)
        return FK_OK;
    const t4_pass *p = &b.dg;
    const t4_weights wt = pass_weights(p, weight, start + b.dweights);
    FK_TRY(pack(rt, work, start + b.grad, dout, d->n, d->c_out, d->h_out, d->w_out, p->pad, p->shift, p->hp, p->wp,
                p->c4, b.data ? &wt : NULL));
    if (b.data)
        FK_TRY(conv_packed(rt, *din, work, start + b.grad, start + b.dweights, p, NULL, NULL, T4_ACCUMULATE));
    if (b.weights) {
        const t4_wgrad *w = &b.w;
        FK_TRY(pack(rt, work, start + b.image, in, d->n, d->c_in, d->h, d->w, d->pad, 0, d->h + 2 * d->pad,
                    d->w + 2 * d->pad, w->c4, NULL));
        FK_TRY(view_again(rt, work, start + b.end, &view));
        cl_kernel k;
        FK_TRY(fk_kernel_defs(rt, FK_K_CONV_WGRAD_T4, (int[]){d->kh, d->kw, d->stride, 0}, &k));
        size_t global[2] = {fk_round_up((size_t)w->items, T4_LOCAL), (size_t)w->slices};
        size_t local[2] = {T4_LOCAL, 1};
        FK_RUN(rt, k, 2, global, local, fk_arg_mem(work.buf), fk_arg_ulong(start + b.parts), FK_A(view),
               FK_A((int)((start + b.grad) / 4)), FK_A(p->hp), FK_A(p->wp), FK_A(b.gb), FK_A(b.gstep), FK_A(view),
               FK_A((int)((start + b.image) / 4)), FK_A(w->c4), FK_A(d->h + 2 * d->pad), FK_A(d->w + 2 * d->pad),
               FK_A(d->c_in), FK_A(w->co4), FK_A(d->h_out), FK_A(d->w_out), FK_A(d->c_out), FK_A(w->per_slice),
               FK_A(d->n), FK_A(w->items));
        const int len = d->c_out * d->c_in * d->kh * d->kw;
        FK_TRY(fk_kernel(rt, FK_K_SUM_BATCHES_ADD, &k));
        FK_RUN_1D(rt, k, (size_t)len, FK_T(*dweight), fk_arg_mem(work.buf), fk_arg_ulong(start + b.parts),
                  FK_A(w->slices), FK_A(len));
    }
    *din_done = b.data;
    *dw_done = b.weights;
    return FK_OK;
}
