/* Counter-based random numbers and the per-sample transforms: random crop
 * with zero padding, horizontal flip, RandomResizedCrop, resize + center crop,
 * normalisation; the geometry follows torchvision's transforms on PIL images. */
#include "data/data_internal.h"

#include <math.h>
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
    return (size_t)out * out * c * 2 + (size_t)h * out * c;
}

void fk_augment_apply(float *dst, int c_out, const fk_image *img, const fk_transform *t,
                      const float *mean, const float *std, float *work)
{
    const int S = t->out, c = img->c;
    float *g = work, *rs = work + (size_t)S * S * c, *tmp = rs + (size_t)S * S * c;
    /* geometry into g (S, S, c), float 0..255 */
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
    /* flip, channel repeat, normalise: dst (c_out, S, S) */
    for (int co = 0; co < c_out; co++) {
        int ci = c == 1 ? 0 : co;
        float sc = 1.0f / (255.0f * std[co]), off = mean[co] / std[co];
        float *d = dst + (size_t)co * S * S;
        for (int y = 0; y < S; y++) {
            const float *row = g + (size_t)y * S * c;
            for (int x = 0; x < S; x++) {
                int xs = t->flip ? S - 1 - x : x;
                d[y * S + x] = row[(size_t)xs * c + ci] * sc - off;
            }
        }
    }
}
