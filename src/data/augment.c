/* Counter-based random numbers and the per-sample transforms: random crop
 * with zero padding, horizontal flip, RandomResizedCrop, resize + center crop,
 * normalisation; the geometry follows torchvision's transforms on PIL images. */
#include "data/data_internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

uint64_t fk_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

fk_rng fk_rng_for(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t s = seed;
    uint64_t h = fk_splitmix64(&s);
    s = h ^ (a * 0xd1b54a32d192ed03ull);
    h = fk_splitmix64(&s);
    s = h ^ (b * 0x8cb92ba72f3d8dd7ull);
    h = fk_splitmix64(&s);
    fk_rng r = {h};
    return r;
}

double fk_rng_uniform(fk_rng *r)
{
    return (double)(fk_splitmix64(&r->state) >> 11) * 0x1.0p-53;
}

double fk_rng_uniform_range(fk_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * fk_rng_uniform(r);
}

long fk_rng_int(fk_rng *r, long lo, long hi)
{
    if (hi <= lo + 1)
        return lo;
    double span = (double)(hi - lo);
    long v = (long)(fk_rng_uniform(r) * span); /* 53-bit uniform: exact enough */
    return lo + (v < hi - lo ? v : hi - lo - 1);
}

void fk_permutation(long *perm, long n, uint64_t seed, long epoch)
{
    fk_rng r = fk_rng_for(seed ^ 0x5bd1e995u, (uint64_t)epoch, 0xffffffffffffffffull);
    for (long i = 0; i < n; i++)
        perm[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = fk_rng_int(&r, 0, i + 1);
        long t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

int fk_half_round_even(int x)
{
    int q = x / 2;
    if (x % 2 == 0)
        return q;
    return (q % 2 == 0) ? q : q + 1; /* x/2 = q + 0.5 rounds to the even neighbour */
}

void fk_resize_shorter(int h, int w, int size, int *oh, int *ow)
{
    if (w <= h) {
        *ow = size;
        *oh = (int)((double)size * h / w);
    } else {
        *oh = size;
        *ow = (int)((double)size * w / h);
    }
}

void fk_rrc_params(fk_rng *r, int h, int w, int *i, int *j, int *ch, int *cw)
{
    const double area = (double)h * w;
    const double lr0 = log(3.0 / 4.0), lr1 = log(4.0 / 3.0);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * fk_rng_uniform_range(r, 0.08, 1.0);
        double ar = exp(fk_rng_uniform_range(r, lr0, lr1));
        int tw = (int)nearbyint(sqrt(target * ar)); /* Python round(): half to even */
        int th = (int)nearbyint(sqrt(target / ar));
        if (tw > 0 && tw <= w && th > 0 && th <= h) {
            *i = (int)fk_rng_int(r, 0, h - th + 1);
            *j = (int)fk_rng_int(r, 0, w - tw + 1);
            *ch = th;
            *cw = tw;
            return;
        }
    }
    double in_ratio = (double)w / h;
    int tw, th;
    if (in_ratio < 3.0 / 4.0) {
        tw = w;
        th = (int)nearbyint(tw / (3.0 / 4.0));
    } else if (in_ratio > 4.0 / 3.0) {
        th = h;
        tw = (int)nearbyint(th * (4.0 / 3.0));
    } else {
        tw = w;
        th = h;
    }
    *i = (h - th) / 2;
    *j = (w - tw) / 2;
    *ch = th;
    *cw = tw;
}

/* PIL's precompute_coeffs for the bilinear (triangle) filter over the input
 * range [0, in) mapped to out outputs; only outputs [o0, o0 + on) computed. */
static int coeffs(int in, int out, int o0, int on, int *lo, int *cnt, float *k, int ksize)
{
    double scale = (double)in / out, fs = scale < 1.0 ? 1.0 : scale;
    double support = fs; /* bilinear support 1 */
    double ss = 1.0 / fs;
    for (int o = 0; o < on; o++) {
        double center = (o0 + o + 0.5) * scale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0)
            xmin = 0;
        if (xmax > in)
            xmax = in;
        int n = xmax - xmin;
        if (n > ksize)
            return -1;
        double ww = 0.0, w[512];
        for (int x = 0; x < n; x++) {
            double t = fabs((x + xmin - center + 0.5) * ss);
            w[x] = t < 1.0 ? 1.0 - t : 0.0;
            ww += w[x];
        }
        for (int x = 0; x < n; x++)
            k[o * ksize + x] = (float)(ww != 0.0 ? w[x] / ww : 0.0);
        lo[o] = xmin;
        cnt[o] = n;
    }
    return 0;
}

void fk_resample_bilinear(float *dst, const uint8_t *src, int h, int w, int c,
                          int bx, int by, int bw, int bh, int fh, int fw,
                          int wx, int wy, int ow, int oh, float *tmp)
{
    (void)h;
    double sx = (double)bw / fw, sy = (double)bh / fh;
    int kx = 2 * (int)ceil(sx < 1 ? 1 : sx) + 1, ky = 2 * (int)ceil(sy < 1 ? 1 : sy) + 1;
    if (kx > 512 || ky > 512) { /* a shrink of over 256x: not a real use */
        memset(dst, 0, (size_t)ow * oh * c * sizeof *dst);
        return;
    }
    size_t nint = (size_t)2 * (ow + oh), nflt = (size_t)ow * kx + (size_t)oh * ky;
    int *ib = malloc(nint * sizeof *ib);
    float *fb = malloc(nflt * sizeof *fb);
    if (!ib || !fb) {
        free(ib);
        free(fb);
        memset(dst, 0, (size_t)ow * oh * c * sizeof *dst);
        return;
    }
    int *xlo = ib, *xcnt = ib + ow, *ylo = ib + 2 * ow, *ycnt = ib + 2 * ow + oh;
    float *kxw = fb, *kyw = fb + (size_t)ow * kx;
    coeffs(bw, fw, wx, ow, xlo, xcnt, kxw, kx);
    coeffs(bh, fh, wy, oh, ylo, ycnt, kyw, ky);
    int r0 = ylo[0], r1 = ylo[oh - 1] + ycnt[oh - 1];
    /* horizontal pass over the box rows the window needs: tmp (r1 - r0, ow, c) */
    for (int y = r0; y < r1; y++) {
        const uint8_t *row = src + ((size_t)(by + y) * w + bx) * c;
        float *t = tmp + (size_t)(y - r0) * ow * c;
        for (int x = 0; x < ow; x++) {
            const float *k = kxw + (size_t)x * kx;
            const uint8_t *p = row + (size_t)xlo[x] * c;
            for (int ch = 0; ch < c; ch++) {
                float acc = 0.0f;
                for (int q = 0; q < xcnt[x]; q++)
                    acc += k[q] * p[(size_t)q * c + ch];
                t[x * c + ch] = acc;
            }
        }
    }
    /* vertical pass */
    for (int y = 0; y < oh; y++) {
        const float *k = kyw + (size_t)y * ky;
        float *d = dst + (size_t)y * ow * c;
        for (int i = 0; i < ow * c; i++)
            d[i] = 0.0f;
        for (int q = 0; q < ycnt[y]; q++) {
            const float *t = tmp + (size_t)(ylo[y] + q - r0) * ow * c;
            float kq = k[q];
            for (int i = 0; i < ow * c; i++)
                d[i] += kq * t[i];
        }
    }
    free(ib);
    free(fb);
}

static int is_pad_crop_kind(fk_dataset_kind k)
{
    return k != FK_DATASET_IMAGEFOLDER;
}

void fk_augment_plan(fk_transform *t, const fk_data_config *c, fk_dataset_kind kind,
                     int train, int h, int w, fk_rng *r)
{
    const int S = c->input_size;
    memset(t, 0, sizeof *t);
    t->out = S;
    int augment = train && c->augment == FK_AUGMENT_STANDARD;
    int mnist = kind == FK_DATASET_FASHION_MNIST || kind == FK_DATASET_MNIST;
    if (augment && is_pad_crop_kind(kind)) {
        if (h != S || w != S) { /* squash to S x S first */
            t->resize = 1;
            t->bw = w;
            t->bh = h;
            t->fh = t->fw = S;
        }
        t->pad_crop = 1;
        t->pad = mnist ? 2 : S / 8;
        t->cy = (int)fk_rng_int(r, 0, 2 * t->pad + 1);
        t->cx = (int)fk_rng_int(r, 0, 2 * t->pad + 1);
        t->flip = !mnist && fk_rng_uniform(r) < 0.5;
        return;
    }
    if (augment) { /* imagefolder: RandomResizedCrop + flip */
        int i, j, ch, cw;
        fk_rrc_params(r, h, w, &i, &j, &ch, &cw);
        t->resize = 1;
        t->by = i;
        t->bx = j;
        t->bh = ch;
        t->bw = cw;
        t->fh = t->fw = S;
        t->flip = fk_rng_uniform(r) < 0.5;
        return;
    }
    if (h == S && w == S)
        return;
    /* Resize(shorter side) + CenterCrop(S) */
    int size = is_pad_crop_kind(kind) ? S : c->resize, fh, fw;
    fk_resize_shorter(h, w, size, &fh, &fw);
    t->resize = 1;
    t->bw = w;
    t->bh = h;
    t->fh = fh;
    t->fw = fw;
    t->wy = fk_half_round_even(fh - S);
    t->wx = fk_half_round_even(fw - S);
}

size_t fk_augment_work_floats(int h, int w, int c, int out)
{
    (void)w;
    /* geometry, resample window, resample rows, and the strong view's two
     * 8-bit images (in floats' room) */
    return (size_t)out * out * c * 3 + (size_t)h * out * c;
}

/* The geometry of t (crop, resize; not the flip) into work: (S, S, c)
 * floats 0..255; returns that image. */
static const float *geometry(const fk_image *img, const fk_transform *t, float *work)
{
    const int S = t->out, c = img->c;
    float *g = work, *rs = work + (size_t)S * S * c, *tmp = rs + (size_t)S * S * c;
    const float *fsrc = NULL;
    const uint8_t *usrc = img->pixels;
    int sw = img->w, sh = img->h;
    if (t->resize) {
        int ow = t->pad_crop ? t->fw : S, oh = t->pad_crop ? t->fh : S;
        fk_resample_bilinear(t->pad_crop ? rs : g, img->pixels, img->h, img->w, c, t->bx,
                             t->by, t->bw, t->bh, t->fh, t->fw, t->wx, t->wy, ow, oh, tmp);
        fsrc = rs;
        sw = ow;
        sh = oh;
    }
    if (t->pad_crop) {
        for (int y = 0; y < S; y++) {
            int sy = y + t->cy - t->pad;
            for (int x = 0; x < S; x++) {
                int sx = x + t->cx - t->pad;
                float *d = g + ((size_t)y * S + x) * c;
                int in = sy >= 0 && sy < sh && sx >= 0 && sx < sw;
                size_t o = ((size_t)sy * sw + sx) * c;
                for (int ch = 0; ch < c; ch++)
                    d[ch] = !in ? 0.0f : fsrc ? fsrc[o + ch] : (float)usrc[o + ch];
            }
        }
    } else if (!t->resize) {
        for (size_t i = 0; i < (size_t)S * S * c; i++)
            g[i] = usrc[i];
    }
    return g;
}

/* flip (when set), channel repeat, normalise: g (S, S, c) -> dst (c_out, S, S) */
static void normalise(float *dst, int c_out, const float *g, int S, int c, int flip, const float *mean,
                      const float *std)
{
    for (int co = 0; co < c_out; co++) {
        int ci = c == 1 ? 0 : co;
        float sc = 1.0f / (255.0f * std[co]), off = mean[co] / std[co];
        float *d = dst + (size_t)co * S * S;
        for (int y = 0; y < S; y++) {
            const float *row = g + (size_t)y * S * c;
            for (int x = 0; x < S; x++) {
                int xs = flip ? S - 1 - x : x;
                d[y * S + x] = row[(size_t)xs * c + ci] * sc - off;
            }
        }
    }
}

void fk_augment_apply(float *dst, int c_out, const fk_image *img, const fk_transform *t,
                      const float *mean, const float *std, float *work)
{
    normalise(dst, c_out, geometry(img, t, work), t->out, img->c, t->flip, mean, std);
}

void fk_augment_apply_strong(float *dst, int c_out, const fk_image *img, const fk_transform *t,
                             const fk_randaug *ra, const float *mean, const float *std, float *work)
{
    const int S = t->out, c = img->c;
    const size_t n = (size_t)S * S * c;
    float *g = (float *)geometry(img, t, work);
    /* the crop and flip as an 8-bit image (PIL's: resampled values rounded) */
    uint8_t *u = (uint8_t *)(work + 2 * n), *tmp = u + n;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            const float *p = g + ((size_t)y * S + (t->flip ? S - 1 - x : x)) * c;
            for (int ch = 0; ch < c; ch++) {
                float v = p[ch] + 0.5f;
                u[((size_t)y * S + x) * c + ch] = (uint8_t)(v <= 0.0f ? 0 : v >= 255.0f ? 255 : (int)v);
            }
        }
    fk_randaug_apply(u, S, S, c, ra, tmp);
    for (size_t i = 0; i < n; i++)
        g[i] = u[i];
    normalise(dst, c_out, g, S, c, 0, mean, std);
}

/* ---- the strong view: RandAugment(2, 10) + Cutout ---------------------- */

/* The ops of MLKD's loader (Jin-Ying/Multi-Level-Logit-Distillation,
 * mdistiller/dataset/cifar100.py, augment_list: FixMatch's RandAugment) on
 * 8-bit HWC images, each as Pillow 9 computes it: LUTs (autocontrast,
 * equalize, posterize, solarize), blends with a degenerate image
 * (ImageEnhance: out = (uint8)(deg + (float)v * (img - deg))), and
 * nearest-neighbour affine maps with black fill (rotate, shear, translate:
 * Geometry.c, 16.16 fixed point for rotate and shear). */
static const struct {
    const char *name;
    double lo, hi;
} randaug_ops[FK_RANDAUG_OPS] = {
    {"AutoContrast", 0, 1}, {"Brightness", 0.05, 0.95}, {"Color", 0.05, 0.95}, {"Contrast", 0.05, 0.95},
    {"Equalize", 0, 1},     {"Identity", 0, 1},         {"Posterize", 4, 8},    {"Rotate", -30, 30},
    {"Sharpness", 0.05, 0.95}, {"ShearX", -0.3, 0.3},  {"ShearY", -0.3, 0.3},  {"Solarize", 0, 256},
    {"TranslateX", -0.3, 0.3}, {"TranslateY", -0.3, 0.3},
};

const char *fk_randaug_op_name(int op)
{
    return op >= 0 && op < FK_RANDAUG_OPS ? randaug_ops[op].name : "?";
}

void fk_randaug_plan(fk_randaug *p, fk_rng *r, int w, int h)
{
    for (int i = 0; i < 2; i++) { /* random.choices(k=2), then each value in order */
        p->op[i] = (int)fk_rng_int(r, 0, FK_RANDAUG_OPS);
        p->v[i] = randaug_ops[p->op[i]].lo + (randaug_ops[p->op[i]].hi - randaug_ops[p->op[i]].lo) * fk_rng_uniform(r);
    }
    p->cutout = fk_rng_uniform(r) * 0.5;
    /* np.random.uniform(w): low = w, high = 1.0, as that code calls it */
    p->cx = w + (1.0 - w) * fk_rng_uniform(r);
    p->cy = h + (1.0 - h) * fk_rng_uniform(r);
}

static void apply_lut(uint8_t *img, size_t pixels, int c, uint8_t lut[][256])
{
    for (size_t i = 0; i < pixels; i++)
        for (int ch = 0; ch < c; ch++)
            img[i * c + ch] = lut[ch][img[i * c + ch]];
}

static void histograms(const uint8_t *img, size_t pixels, int c, long hist[][256])
{
    memset(hist, 0, (size_t)c * sizeof *hist);
    for (size_t i = 0; i < pixels; i++)
        for (int ch = 0; ch < c; ch++)
            hist[ch][img[i * c + ch]]++;
}

/* ImageOps.autocontrast (cutoff 0) and ImageOps.equalize */
static void autocontrast(uint8_t *img, size_t pixels, int c, bool equalize)
{
    long hist[3][256];
    uint8_t lut[3][256];
    histograms(img, pixels, c, hist);
    for (int ch = 0; ch < c; ch++) {
        const long *h = hist[ch];
        for (int i = 0; i < 256; i++)
            lut[ch][i] = (uint8_t)i;
        if (!equalize) {
            int lo = 0, hi = 255;
            while (lo < 256 && !h[lo])
                lo++;
            while (hi >= 0 && !h[hi])
                hi--;
            if (hi <= lo)
                continue;
            double scale = 255.0 / (hi - lo), offset = -lo * scale;
            for (int i = 0; i < 256; i++) {
                int v = (int)(i * scale + offset);
                lut[ch][i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
            continue;
        }
        long total = 0, last = 0;
        int nonzero = 0;
        for (int i = 0; i < 256; i++)
            if (h[i]) {
                total += h[i];
                last = h[i];
                nonzero++;
            }
        long step = nonzero <= 1 ? 0 : (total - last) / 255;
        if (!step)
            continue;
        long n = step / 2;
        for (int i = 0; i < 256; i++) {
            long v = n / step;
            lut[ch][i] = (uint8_t)(v > 255 ? 255 : v);
            n += h[i];
        }
    }
    apply_lut(img, pixels, c, lut);
}

/* Pillow's "L" of an RGB pixel (ITU-R 601-2, 16-bit fixed point) */
static uint8_t luma(const uint8_t *p)
{
    return (uint8_t)((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
}

/* Image.blend(deg, img, v) for v in [0, 1] */
static void blend(uint8_t *img, const uint8_t *deg, size_t n, double v)
{
    float a = (float)v;
    if (a == 0.0f) {
        memcpy(img, deg, n);
        return;
    }
    if (a == 1.0f)
        return;
    for (size_t i = 0; i < n; i++)
        img[i] = (uint8_t)((float)deg[i] + a * (float)((int)img[i] - (int)deg[i]));
}

/* ImageFilter.SMOOTH (3x3 [1 1 1; 1 5 1; 1 1 1] / 13), borders copied */
static void smooth(uint8_t *out, const uint8_t *in, int h, int w, int c)
{
    const float k1 = (float)(1.0 / 13.0), k5 = (float)(5.0 / 13.0);
    memcpy(out, in, (size_t)h * w * c);
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++)
            for (int ch = 0; ch < c; ch++) {
                const uint8_t *p = in + ((size_t)y * w + x) * c + ch;
                const size_t dx = (size_t)c, dy = (size_t)w * c;
                float ss = 0.5f;
                ss += (float)p[dy - dx] * k1 + (float)p[dy] * k1 + (float)p[dy + dx] * k1;
                ss += (float)p[-dx] * k1 + (float)p[0] * k5 + (float)p[dx] * k1;
                ss += (float)p[-dy - dx] * k1 + (float)p[-dy] * k1 + (float)p[-dy + dx] * k1;
                out[((size_t)y * w + x) * c + ch] = ss <= 0.0f ? 0 : ss >= 255.0f ? 255 : (uint8_t)ss;
            }
}

/* Image.transform(AFFINE, a, NEAREST), black fill: Pillow's
 * ImagingTransformAffine (scale path when a[1] = a[3] = 0, else 16.16
 * fixed point; the images here are far inside its fixed-point range). */
static void affine(uint8_t *out, const uint8_t *in, int h, int w, int c, const double a[6])
{
    memset(out, 0, (size_t)h * w * c);
    if (a[1] == 0 && a[3] == 0) {
        double yo = a[5] + a[4] * 0.5;
        for (int y = 0; y < h; y++, yo += a[4]) {
            int yi = yo < 0.0 ? -1 : (int)yo;
            double xo = a[2] + a[0] * 0.5;
            for (int x = 0; x < w; x++, xo += a[0]) {
                int xi = xo < 0.0 ? -1 : (int)xo;
                if (yi >= 0 && yi < h && xi >= 0 && xi < w)
                    memcpy(out + ((size_t)y * w + x) * c, in + ((size_t)yi * w + xi) * c, (size_t)c);
            }
        }
        return;
    }
#define FIX(v) ((int)floor((v) * 65536.0 + 0.5))
    int a0 = FIX(a[0]), a1 = FIX(a[1]), a3 = FIX(a[3]), a4 = FIX(a[4]);
    int a2 = FIX(a[2] + a[0] * 0.5 + a[1] * 0.5), a5 = FIX(a[5] + a[3] * 0.5 + a[4] * 0.5);
#undef FIX
    for (int y = 0; y < h; y++, a2 += a1, a5 += a4) {
        int xx = a2, yy = a5;
        for (int x = 0; x < w; x++, xx += a0, yy += a3) {
            int xi = xx >> 16, yi = yy >> 16; /* arithmetic shift: floor */
            if (xi >= 0 && xi < w && yi >= 0 && yi < h)
                memcpy(out + ((size_t)y * w + x) * c, in + ((size_t)yi * w + xi) * c, (size_t)c);
        }
    }
}

/* Python's round(x, 15) for the rotation matrix, to the nearest double */
static double round15(double x)
{
    return nearbyint(x * 1e15) / 1e15;
}

void fk_randaug_op(uint8_t *img, int h, int w, int c, int op, double v, uint8_t *tmp)
{
    const size_t pixels = (size_t)h * w, n = pixels * c;
    switch (op) {
    case 0: autocontrast(img, pixels, c, false); return;
    case 4: autocontrast(img, pixels, c, true); return;
    case 5: return;
    case 1: /* Brightness: blend with black */
        memset(tmp, 0, n);
        blend(img, tmp, n, v);
        return;
    case 2: /* Color: blend with the image's grey */
        for (size_t i = 0; i < pixels; i++)
            for (int ch = 0; ch < c; ch++)
                tmp[i * c + ch] = c == 3 ? luma(img + i * c) : img[i];
        blend(img, tmp, n, v);
        return;
    case 3: { /* Contrast: blend with the mean grey level, int(mean + 0.5) */
        long hist[256] = {0}, count = 0;
        double sum = 0;
        for (size_t i = 0; i < pixels; i++)
            hist[c == 3 ? luma(img + i * c) : img[i]]++;
        for (int i = 0; i < 256; i++) {
            sum += (double)i * hist[i];
            count += hist[i];
        }
        memset(tmp, (int)(sum / count + 0.5), n);
        blend(img, tmp, n, v);
        return;
    }
    case 6: { /* Posterize: keep the top int(v) bits */
        int bits = (int)v < 1 ? 1 : (int)v;
        uint8_t mask = (uint8_t)~((1 << (8 - bits)) - 1);
        for (size_t i = 0; i < n; i++)
            img[i] &= mask;
        return;
    }
    case 11: /* Solarize: invert at or above the threshold */
        for (size_t i = 0; i < n; i++)
            img[i] = img[i] < v ? img[i] : (uint8_t)(255 - img[i]);
        return;
    case 8: /* Sharpness: blend with the smoothed image */
        smooth(tmp, img, h, w, c);
        blend(img, tmp, n, v);
        return;
    default:
        break;
    }
    double a[6] = {1, 0, 0, 0, 1, 0};
    if (op == 7) { /* Rotate (Image.rotate: about the centre, angle mod 360) */
        double ang = fmod(v, 360.0);
        if (ang < 0)
            ang += 360.0;
        if (ang == 0.0)
            return;
        double rad = -(ang * (M_PI / 180.0)), cx = w / 2.0, cy = h / 2.0;
        a[0] = round15(cos(rad)), a[1] = round15(sin(rad)), a[3] = round15(-sin(rad)), a[4] = round15(cos(rad));
        a[2] = a[0] * -cx + a[1] * -cy + cx;
        a[5] = a[3] * -cx + a[4] * -cy + cy;
    } else if (op == 9) {
        a[1] = v;
    } else if (op == 10) {
        a[3] = v;
    } else if (op == 12) {
        a[2] = v * w;
    } else if (op == 13) {
        a[5] = v * h;
    } else {
        return;
    }
    affine(tmp, img, h, w, c, a);
    memcpy(img, tmp, n);
}

void fk_cutout(uint8_t *img, int h, int w, int c, double frac, double cx, double cy)
{
    static const uint8_t gray[3] = {125, 123, 114};
    if (frac <= 0.0)
        return;
    double v = frac * w;
    /* x0 = int(max(0, x0 - v / 2)), x1 = min(w, x0 + v); ImageDraw.rectangle
     * truncates the corners and fills both ends inclusive, clipped */
    int x0 = (int)fmax(0.0, cx - v / 2.0), y0 = (int)fmax(0.0, cy - v / 2.0);
    int x1 = (int)fmin((double)w, x0 + v), y1 = (int)fmin((double)h, y0 + v);
    for (int y = y0; y <= y1 && y < h; y++)
        for (int x = x0; x <= x1 && x < w; x++)
            for (int ch = 0; ch < c; ch++)
                img[((size_t)y * w + x) * c + ch] = gray[ch];
}

void fk_randaug_apply(uint8_t *img, int h, int w, int c, const fk_randaug *p, uint8_t *tmp)
{
    for (int i = 0; i < 2; i++)
        fk_randaug_op(img, h, w, c, p->op[i], p->v[i], tmp);
    fk_cutout(img, h, w, c, p->cutout, p->cx, p->cy);
}
