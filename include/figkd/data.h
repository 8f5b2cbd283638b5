/* figkd-cl: data sets as users download them, host-side augmentation, and a
 * threaded loader that fills a ring of normalised float32 batches.
 *
 * Readers ([data] dataset =):
 *   cifar100      root/train.bin, root/test.bin (CIFAR-100 binary version), or
 *                 root/{train,test,meta} (the pickled Python version, as
 *                 torchvision downloads it); either also in
 *                 root/cifar-100-binary/ or root/cifar-100-python/
 *   cifar10       root/data_batch_{1..5}.bin, root/test_batch.bin, or the pickled
 *                 root/data_batch_{1..5}, root/test_batch, root/batches.meta;
 *                 also in root/cifar-10-batches-bin/ or root/cifar-10-batches-py/
 *   tinyimagenet  root/wnids.txt, root/train/<wnid>/images/<name>.JPEG,
 *                 root/val/images/<name>.JPEG + root/val/val_annotations.txt (= test)
 *                 class index = position of the wnid in the *sorted* wnid list,
 *                 as torchvision ImageFolder on root/train gives; decoded once
 *                 to memory, cached in root/figkd-cache-{train,test}.bin
 *   imagefolder   root/{train,test}/<class>/<image> (PNG or JPEG, any size);
 *                 classes = sorted folder names, files sorted by name; decoded
 *                 in the loader threads for every use. Without train/ and
 *                 test/, root may hold an official FGVR layout as downloaded:
 *                 CUB-200-2011, Stanford Dogs, MIT Indoor-67, Stanford 40
 *                 Actions (docs/data.md)
 *   fashion-mnist, mnist  IDX files, gzip'd or plain
 *
 * Standard training augmentation (augment = standard):
 *   cifar*, tinyimagenet: random crop input_size, zero padding input_size/8, flip
 *   fashion-mnist, mnist: random crop 28, zero padding 2, no flip (digits are
 *     not mirror-symmetric; Fashion-MNIST's images all face one way, so flips
 *     make training images of a kind its test set never has)
 *   imagefolder: RandomResizedCrop(input_size) + flip
 * Strong view (loader opts.views = 2, for two-view methods such as mlkd):
 *   the same kind of crop and flip, drawn anew, then MLKD's RandAugment(2, 10)
 *   + Cutout on the 8-bit image (src/data/augment.c, docs/data.md)
 * Evaluation (and augment = none): resize the shorter side to `resize`
 * (default input_size * 8 / 7, i.e. 256 at 224) and center-crop input_size;
 * nothing when the image already is input_size x input_size.
 */
#ifndef FIGKD_DATA_H
#define FIGKD_DATA_H

#include "figkd/common.h"

#include <stddef.h>
#include <stdint.h>

typedef enum fk_dataset_kind {
    FK_DATASET_CIFAR100 = 0,
    FK_DATASET_CIFAR10,
    FK_DATASET_TINYIMAGENET,
    FK_DATASET_IMAGEFOLDER,
    FK_DATASET_FASHION_MNIST,
    FK_DATASET_MNIST,
} fk_dataset_kind;

typedef enum fk_augment {
    FK_AUGMENT_STANDARD = 0,
    FK_AUGMENT_NONE,
} fk_augment;

#define FK_DATA_PATH_MAX 4096

/* The [data] section. Set defaults, then keys, then finish. */
typedef struct fk_data_config {
    fk_dataset_kind dataset;   /* dataset = cifar100 (default) */
    char root[FK_DATA_PATH_MAX]; /* root = ... ("" until finish: per-dataset default) */
    fk_augment augment;        /* augment = standard | none */
    int shuffle;               /* shuffle = true | false (training only) */
    long subset;               /* subset = N first training images, balanced; 0 = all */
    long test_subset;          /* test_subset = N first test images, balanced; 0 = all */
    int input_size;            /* input_size = side of the square model input; 0 = dataset's */
    int resize;                /* resize = shorter side before the eval center crop; 0 = auto */
    int workers;               /* workers = loader threads; 0 = auto (min(4, cores)) */
    int channels;              /* channels = 1 | 3; 0 = the data set's own */
    int cache;                 /* cache = true | false (tinyimagenet decoded cache file) */
    int n_mean, n_std;         /* 0 = per-dataset default; 1 or 3 values given */
    float mean[3], std[3];     /* mean = 0.5, 0.5, 0.5 / std = ... */
} fk_data_config;

void fk_data_config_default(fk_data_config *c);
/* Validate and set one [data] key; FK_ERR_ARG with a message naming the key,
 * the value and the valid choices (or the valid keys). */
fk_status fk_data_config_set(fk_data_config *c, const char *key, const char *value);
/* Per-dataset defaults for root, mean/std and input_size; resolve workers. */
fk_status fk_data_config_finish(fk_data_config *c);
/* "cifar100", ... */
const char *fk_dataset_name(fk_dataset_kind k);

/* ---- data sets ---- */

typedef struct fk_dataset fk_dataset;

/* Open the training (train = 1) or test split. The config must be finished. */
fk_status fk_dataset_open(const fk_data_config *c, int train, fk_dataset **out);
void fk_dataset_free(fk_dataset *ds);
long fk_dataset_count(const fk_dataset *ds);
int fk_dataset_classes(const fk_dataset *ds);
int fk_dataset_channels(const fk_dataset *ds);   /* 1 (grey) or 3 (RGB) */
int fk_dataset_height(const fk_dataset *ds);     /* 0 when sizes vary */
int fk_dataset_width(const fk_dataset *ds);      /* 0 when sizes vary */
int fk_dataset_label(const fk_dataset *ds, long i);
const char *fk_dataset_class_name(const fk_dataset *ds, int cls); /* may be "" */
/* The layout the reader found under root, e.g. "CUB-200-2011 (images.txt, ...)". */
const char *fk_dataset_layout(const fk_dataset *ds);

/* One decoded image, uint8, interleaved HWC. pixels points into the data set
 * or into *scratch (grown with realloc; free it with free()). */
typedef struct fk_image {
    const uint8_t *pixels; /* (H, W, C) */
    int h, w, c;
    int label;
} fk_image;
fk_status fk_dataset_get(const fk_dataset *ds, long i, fk_image *img,
                         uint8_t **scratch, size_t *scratch_size);

/* ---- loader ---- */

/* Allocator for the ring's image buffers (pinned host memory later). */
typedef struct fk_allocator {
    void *(*alloc)(void *ctx, size_t bytes);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} fk_allocator;

typedef struct fk_loader_opts {
    int train;           /* 1: shuffle (if configured), augment, drop the last partial batch */
    int batch;           /* batch size */
    uint64_t seed;
    long epoch;          /* first epoch produced */
    long start_batch;    /* first batch index within that epoch (resume) */
    int ring;            /* batches in flight; 0 = 2 * workers + 1 */
    const fk_allocator *allocator; /* NULL = 64-byte aligned malloc */
    /* Data parallelism: this process's part of the data when `shards` > 1.
     * Training: rows [shard * batch, (shard + 1) * batch) of every global
     * batch of shards * batch images of the epoch's order (the same seed
     * in every process); evaluation: the shard-th of `shards` contiguous
     * parts of the split (the first n % shards one image longer). */
    int shard, shards;
    int views;           /* 2 (training only): each sample also as a strong view (MLKD's
                          * RandAugment(2, 10) + Cutout after its own crop and flip) */
} fk_loader_opts;

void fk_loader_opts_default(fk_loader_opts *o);

typedef struct fk_batch {
    float *images;       /* (N, C, H, W), normalised */
    int32_t *labels;     /* (N) */
    int count;           /* N; 0 at the end of an epoch */
    int c, h, w;
    long epoch;          /* epoch of this batch */
    long index;          /* batch index within the epoch */
    int end_of_epoch;    /* 1: no batch; the epoch `epoch` just ended */
    int slot;            /* ring slot, for fk_loader_release */
    int views;           /* 2: images is (2, N, C, H, W), the weak views then the strong */
} fk_batch;

typedef struct fk_loader fk_loader;

/* The loader keeps a pointer to ds; ds must outlive it. */
fk_status fk_loader_create(fk_dataset *ds, const fk_data_config *c,
                           const fk_loader_opts *o, fk_loader **out);
/* Next batch in order. After the last batch of an epoch, one call returns
 * FK_OK with out->end_of_epoch = 1 and count 0; the next call starts the
 * next epoch. A worker error is returned here with its message, in the
 * batch order where it happened. Each batch must be released. */
fk_status fk_loader_next(fk_loader *l, fk_batch *out);
void fk_loader_release(fk_loader *l, const fk_batch *b);
/* Batches per epoch (training drops the last partial batch). */
long fk_loader_batches_per_epoch(const fk_loader *l);
/* Stops and joins the workers (also mid-epoch) and frees the ring. */
void fk_loader_free(fk_loader *l);

#endif
