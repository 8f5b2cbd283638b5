/* Data set object: open by kind, balanced subset, accessors, sample access. */
#include "data/data_internal.h"
#include "data/layouts.h"

#include <stdlib.h>
#include <string.h>

void fk_dataset_free(fk_dataset *ds)
{
    if (!ds)
        return;
    free(ds->labels);
    free(ds->pixels);
    if (ds->paths)
        for (long i = 0; i < ds->n; i++)
            free(ds->paths[i]);
    free(ds->paths);
    if (ds->class_names)
        for (int i = 0; i < ds->classes; i++)
            free(ds->class_names[i]);
    free(ds->class_names);
    free(ds);
}

/* Keep the first per-class quota of samples in file order: subset / classes
 * each, the first subset % classes classes one more. */
static fk_status apply_subset(fk_dataset *ds, long subset)
{
    if (subset <= 0 || subset >= ds->n)
        return FK_OK;
    if (subset < ds->classes)
        return fk_error(FK_ERR_ARG, "[data] (test_)subset = %ld: must be at least the number of "
                        "classes (%d) to keep the classes balanced", subset, ds->classes);
    long *want = fk_calloc((size_t)ds->classes, sizeof *want);
    if (!want)
        return FK_ERR_NOMEM;
    for (int k = 0; k < ds->classes; k++)
        want[k] = subset / ds->classes + (k < subset % ds->classes);
    size_t img = (size_t)ds->h * (size_t)ds->w * (size_t)ds->channels;
    long m = 0;
    for (long i = 0; i < ds->n; i++) {
        int y = ds->labels[i];
        if (want[y] == 0) {
            if (ds->paths)
                free(ds->paths[i]);
            continue;
        }
        want[y]--;
        ds->labels[m] = y;
        if (ds->pixels && m != i)
            memcpy(ds->pixels + (size_t)m * img, ds->pixels + (size_t)i * img, img);
        if (ds->paths)
            ds->paths[m] = ds->paths[i];
        m++;
    }
    for (int k = 0; k < ds->classes; k++)
        if (want[k]) {
            long short_by = want[k];
            free(want);
            ds->n = m; /* the paths beyond m were freed or moved */
            return fk_error(FK_ERR_ARG, "[data] (test_)subset = %ld: class %d has %ld images too "
                            "few for a balanced subset", subset, k, short_by);
        }
    free(want);
    ds->n = m;
    return FK_OK;
}

fk_status fk_dataset_open(const fk_data_config *c, int train, fk_dataset **out)
{
    *out = NULL;
    fk_dataset *ds = fk_calloc(1, sizeof *ds);
    if (!ds)
        return FK_ERR_NOMEM;
    ds->kind = c->dataset;
    ds->train = train;
    fk_status s;
    switch (c->dataset) {
    case FK_DATASET_CIFAR100:
    case FK_DATASET_CIFAR10: s = fk_read_cifar_layout(c, train, ds); break;
    case FK_DATASET_FASHION_MNIST:
    case FK_DATASET_MNIST: s = fk_read_idx(c, train, ds); break;
    case FK_DATASET_TINYIMAGENET: s = fk_read_tinyimagenet(c, train, ds); break;
    case FK_DATASET_IMAGEFOLDER: s = fk_read_image_layout(c, train, ds); break;
    default: s = fk_error(FK_ERR_ARG, "[data] dataset: unknown kind %d", (int)c->dataset);
    }
    if (s == FK_OK && c->channels == 1 && ds->channels == 3)
        s = fk_error(FK_ERR_ARG, "[data] channels = 1: %s has colour images; use "
                     "channels = 3 (or leave the key out)", fk_dataset_name(c->dataset));
    if (s == FK_OK)
        s = apply_subset(ds, train ? c->subset : c->test_subset);
    if (s != FK_OK) {
        fk_dataset_free(ds);
        return s;
    }
    *out = ds;
    return FK_OK;
}

long fk_dataset_count(const fk_dataset *ds) { return ds->n; }
int fk_dataset_classes(const fk_dataset *ds) { return ds->classes; }
int fk_dataset_channels(const fk_dataset *ds) { return ds->channels; }
int fk_dataset_height(const fk_dataset *ds) { return ds->h; }
int fk_dataset_width(const fk_dataset *ds) { return ds->w; }
int fk_dataset_label(const fk_dataset *ds, long i) { return ds->labels[i]; }

const char *fk_dataset_class_name(const fk_dataset *ds, int cls)
{
    if (!ds->class_names || cls < 0 || cls >= ds->classes)
        return "";
    return ds->class_names[cls];
}

fk_status fk_dataset_get(const fk_dataset *ds, long i, fk_image *img,
                         uint8_t **scratch, size_t *scratch_size)
{
    if (i < 0 || i >= ds->n)
        return fk_error(FK_ERR_ARG, "sample %ld out of range (0..%ld)", i, ds->n - 1);
    img->label = ds->labels[i];
    img->c = ds->channels;
    if (ds->pixels) {
        img->h = ds->h;
        img->w = ds->w;
        img->pixels = ds->pixels + (size_t)i * (size_t)ds->h * (size_t)ds->w *
                                       (size_t)ds->channels;
        return FK_OK;
    }
    fk_status s = fk_image_decode_rgb(ds->paths[i], scratch, scratch_size, &img->h, &img->w);
    if (s != FK_OK)
        return s;
    img->pixels = *scratch;
    return FK_OK;
}

const char *fk_dataset_layout(const fk_dataset *ds)
{
    if (ds->layout)
        return ds->layout;
    switch (ds->kind) {
    case FK_DATASET_TINYIMAGENET: return "tiny-imagenet-200 (wnids.txt, train/, val/)";
    case FK_DATASET_FASHION_MNIST:
    case FK_DATASET_MNIST: return "IDX files (train-images-idx3-ubyte, ...)";
    default: return fk_dataset_name(ds->kind);
    }
}
