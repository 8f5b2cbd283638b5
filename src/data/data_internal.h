/* figkd-cl data module: private types shared by the readers, the
 * augmentation code, the loader and the tests. */
#ifndef FIGKD_DATA_INTERNAL_H
#define FIGKD_DATA_INTERNAL_H

#include "figkd/data.h"

#include <stdint.h>

struct fk_dataset {
    fk_dataset_kind kind;
    int train;
    int classes, channels;
    int h, w;                 /* 0 when sizes vary (imagefolder) */
    long n;                   /* samples in the split (after subset) */
    int32_t *labels;          /* (n) */
    /* in memory: fixed-size images, (n, h, w, channels) */
    uint8_t *pixels;
    /* imagefolder: decoded on demand */
    char **paths;             /* (n) */
    char **class_names;       /* (classes), may be NULL */
    const char *layout;       /* the layout found under root (static text), or NULL */
};

/* *out = a * b; 1 (and *out untouched) when that overflows size_t. */
static inline int fk_size_mul(size_t a, size_t b, size_t *out)
{
    if (b && a > SIZE_MAX / b)
        return 1;
    *out = a * b;
    return 0;
}

/* Readers (readers.c, tinyimagenet.c, imagefolder.c). */
fk_status fk_read_cifar(const fk_data_config *c, int train, fk_dataset *ds);
fk_status fk_read_idx(const fk_data_config *c, int train, fk_dataset *ds);
fk_status fk_read_tinyimagenet(const fk_data_config *c, int train, fk_dataset *ds);
fk_status fk_read_imagefolder(const fk_data_config *c, int train, fk_dataset *ds);

typedef struct strlist {
    char **v;
    long n, cap;
} strlist;
/* Sorted names in dir (dirs = 1: sub-folders; 0: .png/.jpg/.jpeg files). */
fk_status fk_list_dir(const char *dir, int dirs, strlist *out);

/* Decode a PNG or JPEG file to 8-bit RGB, HWC, into *buf (realloc'd).
 * Images over FK_IMAGE_MAX_PIXELS are refused from their header (a few
 * corrupt bytes could otherwise ask for gigabytes). */
#define FK_IMAGE_MAX_PIXELS ((uint64_t)1 << 26)
fk_status fk_image_decode_rgb(const char *path, uint8_t **buf, size_t *size,
                              int *h, int *w);

/* ---- counter-based random numbers (splitmix64) ---- */
typedef struct fk_rng {
    uint64_t state;
} fk_rng;

uint64_t fk_splitmix64(uint64_t *state);
/* Stream for (seed, a, b): every draw of sample b in epoch a comes from here. */
fk_rng fk_rng_for(uint64_t seed, uint64_t a, uint64_t b);
double fk_rng_uniform(fk_rng *r);               /* [0, 1) */
double fk_rng_uniform_range(fk_rng *r, double lo, double hi);
long fk_rng_int(fk_rng *r, long lo, long hi);   /* [lo, hi) */
/* Shuffle permutation of 0..n-1 for (seed, epoch). */
void fk_permutation(long *perm, long n, uint64_t seed, long epoch);

/* ---- geometry ---- */

/* torchvision RandomResizedCrop.get_params with scale (0.08, 1) and ratio
 * (3/4, 4/3): the crop box (top i, left j, height ch, width cw). */
void fk_rrc_params(fk_rng *r, int h, int w, int *i, int *j, int *ch, int *cw);
/* Python's round(x / 2.0) for a non-negative int x (half to even). */
int fk_half_round_even(int x);
/* torchvision Resize(size) for an int size: the shorter side becomes size. */
void fk_resize_shorter(int h, int w, int size, int *oh, int *ow);

/* Resample the box (bx, by, bw, bh) of src (h, w, c; uint8 HWC) to a full
 * output of (fh, fw) with PIL's bilinear filter (antialiased when shrinking,
 * as torchvision's resize of a PIL image), computing only the window rows
 * [wy, wy + oh) and columns [wx, wx + ow) into dst (oh, ow, c; float 0..255).
 * tmp must hold bh * ow * c floats. */
void fk_resample_bilinear(float *dst, const uint8_t *src, int h, int w, int c,
                          int bx, int by, int bw, int bh, int fh, int fw,
                          int wx, int wy, int ow, int oh, float *tmp);

/* Per-sample transform plan, filled by fk_augment_plan. */
typedef struct fk_transform {
    int out;          /* output side */
    int pad_crop;     /* 1: pad by `pad` and crop at (cy, cx) of the padded image */
    int pad, cy, cx;
    int resize;       /* 1: resample box (by, bx, bh, bw) to (fh, fw), window at (wy, wx) */
    int bx, by, bw, bh, fh, fw, wx, wy;
    int flip;
} fk_transform;

/* Decide the transform of one image of (h, w) for train/eval under the config.
 * Draws come from r, in torchvision's order (crop, then flip). */
void fk_augment_plan(fk_transform *t, const fk_data_config *c, fk_dataset_kind kind,
                     int train, int h, int w, fk_rng *r);
/* Apply t to img, normalise, write (C_out, out, out) floats into dst.
 * work must hold fk_augment_work_floats(...) floats. */
size_t fk_augment_work_floats(int h, int w, int c, int out);
void fk_augment_apply(float *dst, int c_out, const fk_image *img, const fk_transform *t,
                      const float *mean, const float *std, float *work);

/* ---- the strong view of two-view methods (MLKD's loader) ---- */

/* RandAugment(2, 10) + Cutout as mdistiller/dataset/cifar100.py of the
 * MLKD code applies it after the random crop and flip: two ops drawn with
 * replacement from FK_RANDAUG_OPS, each with a value uniform in its range
 * (fk_randaug_op_name), then a gray (125, 123, 114) square of side
 * cutout * w (cutout uniform in [0, 0.5)) around (cx, cy). */
#define FK_RANDAUG_OPS 14
#define FK_STRONG_VIEW_SALT 0x6d6c6b64ull /* the strong view's random stream: seed ^ this */
typedef struct fk_randaug {
    int op[2];
    double v[2];
    double cutout, cx, cy;
} fk_randaug;

const char *fk_randaug_op_name(int op);
/* Draw the ops, values and cutout of one image of w x h from r. */
void fk_randaug_plan(fk_randaug *p, fk_rng *r, int w, int h);
/* One op with value v on an 8-bit (h, w, c) image in place, as Pillow 9
 * computes it on an "RGB" (c = 3) or "L" (c = 1) image; tmp holds h*w*c
 * bytes. */
void fk_randaug_op(uint8_t *img, int h, int w, int c, int op, double v, uint8_t *tmp);
/* Cutout of side frac * w at (cx, cy) (c = 1 takes the gray's first value). */
void fk_cutout(uint8_t *img, int h, int w, int c, double frac, double cx, double cy);
/* Both ops, then the cutout. */
void fk_randaug_apply(uint8_t *img, int h, int w, int c, const fk_randaug *p, uint8_t *tmp);
/* The strong view: t's crop, resize and flip as an 8-bit image, then ra,
 * then normalised as fk_augment_apply does. */
void fk_augment_apply_strong(float *dst, int c_out, const fk_image *img, const fk_transform *t,
                             const fk_randaug *ra, const float *mean, const float *std, float *work);

#endif
