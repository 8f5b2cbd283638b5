/* CIFAR as downloaded: the binary version (readers.c) or the Python version
 * that torchvision's CIFAR10/CIFAR100(download=True) leaves, in [data] root
 * or in the folder the archive extracts to under it. The pickles are read by
 * the opcode walker of pickle.c: a dict with b'data' (numpy uint8, N x 3072,
 * each row the 32x32 R, G and B planes as in the binary version), b'labels'
 * (CIFAR-10) or b'fine_labels' and b'coarse_labels' (CIFAR-100); the meta file
 * gives the class names. */
#include "data/layouts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { CIFAR_NONE, CIFAR_BINARY, CIFAR_PICKLE };

static int is_file(const char *dir, const char *name)
{
    char p[FK_DATA_PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Which form, in which folder: root itself, then the archive's folder in it. */
static int cifar_detect(const fk_data_config *c, char *dir, size_t dir_size)
{
    int c100 = c->dataset == FK_DATASET_CIFAR100;
    static const char *const probe[2][2][2] = {
        /* CIFAR-10: binary, pickle */
        {{"data_batch_1.bin", "test_batch.bin"}, {"data_batch_1", "test_batch"}},
        /* CIFAR-100 */
        {{"train.bin", "test.bin"}, {"train", "test"}},
    };
    static const char *const sub[2][2] = {
        {"cifar-10-batches-bin", "cifar-10-batches-py"},
        {"cifar-100-binary", "cifar-100-python"},
    };
    for (int in_sub = 0; in_sub < 2; in_sub++)
        for (int form = 0; form < 2; form++) {
            if (in_sub)
                snprintf(dir, dir_size, "%s/%s", c->root, sub[c100][form]);
            else
                snprintf(dir, dir_size, "%s", c->root);
            if (is_file(dir, probe[c100][form][0]) || is_file(dir, probe[c100][form][1]))
                return form ? CIFAR_PICKLE : CIFAR_BINARY;
        }
    return CIFAR_NONE;
}

static fk_status cifar_none(const fk_data_config *c)
{
    int c100 = c->dataset == FK_DATASET_CIFAR100;
    const char *r = c->root;
    return fk_error(FK_ERR_IO,
        "%s: no CIFAR-%s files in [data] root = %s. Looked for the binary version (%s/%s, "
        "from https://www.cs.toronto.edu/~kriz/%s) and the Python version as "
        "torchvision's %s(download=True) leaves it (%s/%s, or %s/%s/); download either, "
        "extract it and set root to the extracted folder",
        fk_dataset_name(c->dataset), c100 ? "100" : "10", r, r,
        c100 ? "train.bin, test.bin" : "data_batch_1.bin .. data_batch_5.bin, test_batch.bin",
        c100 ? "cifar-100-binary.tar.gz" : "cifar-10-binary.tar.gz",
        c100 ? "CIFAR100" : "CIFAR10", r,
        c100 ? "train, test, meta" : "data_batch_1 .. data_batch_5, test_batch, batches.meta",
        r, c100 ? "cifar-100-python" : "cifar-10-batches-py");
}

static const fk_pk_node *pk(const fk_pickle *p, int32_t k) { return &p->nodes[k]; }

/* A list of n ints in 0..hi. */
static fk_status check_labels(const fk_pickle *p, int32_t list, const char *key, long n, int hi)
{
    if (list < 0)
        return fk_error(FK_ERR_FORMAT, "%s: the dict has no b'%s'", p->path, key);
    if (fk_pickle_len(p, list) != n)
        return fk_error(FK_ERR_FORMAT, "%s: b'%s' is not a list (or 1-D integer array) of %ld "
                        "labels, one per row of b'data'", p->path, key, n);
    for (long i = 0; i < n; i++) {
        int64_t v;
        if (fk_pickle_int_at(p, list, i, &v) != 0)
            return fk_error(FK_ERR_FORMAT, "%s: b'%s'[%ld] is not an int", p->path, key, i);
        if (v < 0 || v > hi)
            return fk_error(FK_ERR_FORMAT, "%s: b'%s'[%ld] is %lld, out of range 0..%d; "
                            "corrupt file?", p->path, key, i, (long long)v, hi);
    }
    return FK_OK;
}

/* Checks one batch file; *n = its images, *data = the pixel bytes. */
static fk_status check_batch(const fk_pickle *p, int c100, long *n, const uint8_t **data)
{
    const fk_pk_node *root = pk(p, p->root);
    if (root->type != FK_PK_DICT)
        return fk_error(FK_ERR_FORMAT, "%s: the pickle holds no dict; a CIFAR batch is a dict "
                        "with b'data' and b'%s'", p->path, c100 ? "fine_labels" : "labels");
    int32_t a = fk_pickle_dict_get(p, p->root, "data");
    const fk_pk_node *arr = a >= 0 ? pk(p, a) : NULL;
    if (!arr || arr->type != FK_PK_ARRAY || !arr->built)
        return fk_error(FK_ERR_FORMAT, "%s: the dict has no numpy array b'data'", p->path);
    const fk_pk_node *shape = pk(p, arr->shape), *dt = pk(p, arr->dtype);
    const fk_pk_node *rows = shape->n == 2 ? pk(p, shape->items[0]) : NULL;
    const fk_pk_node *cols = shape->n == 2 ? pk(p, shape->items[1]) : NULL;
    int u1 = (dt->len == 2 && !memcmp(dt->s, "u1", 2)) || (dt->len == 3 && !memcmp(dt->s, "|u1", 3));
    if (!rows || rows->type != FK_PK_INT || cols->type != FK_PK_INT || cols->i != 3072 ||
        rows->i <= 0 || rows->i > (1L << 24) || !u1 || arr->fortran)
        return fk_error(FK_ERR_FORMAT, "%s: b'data' is not a C-ordered uint8 array of shape "
                        "(N, 3072) (rows of 32x32 R, G, B planes): shape has %ld dimensions, "
                        "dtype '%.*s'%s", p->path, shape->n, (int)(dt->len < 16 ? dt->len : 16),
                        dt->s, arr->fortran ? ", Fortran order" : "");
    *n = (long)rows->i;
    const fk_pk_node *bytes = pk(p, arr->data);
    if (bytes->len != (size_t)*n * 3072)
        return fk_error(FK_ERR_FORMAT, "%s: b'data' holds %zu bytes, its shape (%ld, 3072) "
                        "needs %zu; truncated or corrupt", p->path, bytes->len, *n,
                        (size_t)*n * 3072);
    *data = bytes->s;
    fk_status s = check_labels(p, fk_pickle_dict_get(p, p->root, c100 ? "fine_labels" : "labels"),
                               c100 ? "fine_labels" : "labels", *n, c100 ? 99 : 9);
    int32_t coarse = c100 ? fk_pickle_dict_get(p, p->root, "coarse_labels") : -1;
    if (s == FK_OK && coarse >= 0)
        s = check_labels(p, coarse, "coarse_labels", *n, 19);
    return s;
}

/* Class names from meta / batches.meta, when the file is there. */
static fk_status read_meta(const char *dir, int c100, fk_dataset *ds)
{
    const char *name = c100 ? "meta" : "batches.meta";
    if (!is_file(dir, name))
        return FK_OK;
    char path[FK_DATA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fk_pickle *p;
    fk_status s = fk_pickle_load(path, &p);
    if (s != FK_OK)
        return s;
    const char *key = c100 ? "fine_label_names" : "label_names";
    int32_t l = fk_pickle_dict_get(p, p->root, key);
    const fk_pk_node *list = l >= 0 ? pk(p, l) : NULL;
    if (!list || list->type != FK_PK_LIST || list->n != ds->classes) {
        s = fk_error(FK_ERR_FORMAT, "%s: no list b'%s' of %d class names", path, key,
                     ds->classes);
    } else if (!(ds->class_names = fk_calloc((size_t)ds->classes, sizeof *ds->class_names))) {
        s = FK_ERR_NOMEM;
    }
    for (int k = 0; s == FK_OK && k < ds->classes; k++) {
        const fk_pk_node *v = pk(p, list->items[k]);
        if (v->type != FK_PK_BYTES && v->type != FK_PK_STR)
            s = fk_error(FK_ERR_FORMAT, "%s: b'%s'[%d] is not a string", path, key, k);
        else if (!(ds->class_names[k] = strndup((const char *)v->s, v->len)))
            s = fk_error(FK_ERR_NOMEM, "out of host memory reading %s", path);
    }
    fk_pickle_free(p);
    return s;
}

static fk_status read_pickles(const fk_data_config *c, const char *dir, int train, fk_dataset *ds)
{
    int c100 = c->dataset == FK_DATASET_CIFAR100;
    char files[5][FK_DATA_PATH_MAX + 64];
    int nf = 0;
    if (c100)
        snprintf(files[nf++], sizeof files[0], "%s/%s", dir, train ? "train" : "test");
    else if (train)
        for (int k = 1; k <= 5; k++)
            snprintf(files[nf++], sizeof files[0], "%s/data_batch_%d", dir, k);
    else
        snprintf(files[nf++], sizeof files[0], "%s/test_batch", dir);
    fk_pickle *pks[5] = {0};
    const uint8_t *data[5];
    long counts[5], total = 0;
    fk_status s = FK_OK;
    for (int f = 0; f < nf && s == FK_OK; f++) {
        s = fk_pickle_load(files[f], &pks[f]);
        if (s == FK_OK)
            s = check_batch(pks[f], c100, &counts[f], &data[f]);
        total += s == FK_OK ? counts[f] : 0;
    }
    if (s == FK_OK) {
        ds->classes = c100 ? 100 : 10;
        ds->channels = 3;
        ds->h = ds->w = 32;
        ds->n = total;
        ds->labels = fk_malloc((size_t)total * sizeof *ds->labels);
        ds->pixels = fk_malloc((size_t)total * 3072);
        if (!ds->labels || !ds->pixels)
            s = FK_ERR_NOMEM;
    }
    long at = 0;
    for (int f = 0; f < nf && s == FK_OK; f++) {
        const fk_pickle *p = pks[f];
        int32_t l = fk_pickle_dict_get(p, p->root, c100 ? "fine_labels" : "labels");
        for (long i = 0; i < counts[f]; i++, at++) {
            const uint8_t *src = data[f] + (size_t)i * 3072;
            uint8_t *dst = ds->pixels + (size_t)at * 3072;
            int64_t y = 0;
            fk_pickle_int_at(p, l, i, &y); /* checked by check_labels */
            ds->labels[at] = (int32_t)y;
            for (int q = 0; q < 1024; q++)
                for (int ch = 0; ch < 3; ch++)
                    dst[3 * q + ch] = src[ch * 1024 + q];
        }
    }
    for (int f = 0; f < nf; f++)
        fk_pickle_free(pks[f]);
    if (s == FK_OK)
        s = read_meta(dir, c100, ds);
    return s;
}

fk_status fk_read_cifar_layout(const fk_data_config *c, int train, fk_dataset *ds)
{
    char dir[FK_DATA_PATH_MAX + 32];
    int c100 = c->dataset == FK_DATASET_CIFAR100;
    switch (cifar_detect(c, dir, sizeof dir)) {
    case CIFAR_BINARY: {
        ds->layout = c100 ? "CIFAR-100 binary version (train.bin, test.bin)"
                          : "CIFAR-10 binary version (data_batch_N.bin, test_batch.bin)";
        if (!strcmp(dir, c->root))
            return fk_read_cifar(c, train, ds);
        fk_data_config *sub = fk_malloc(sizeof *sub);
        if (!sub)
            return FK_ERR_NOMEM;
        *sub = *c;
        size_t k = strlen(dir);
        if (k >= sizeof sub->root) {
            free(sub);
            return fk_error(FK_ERR_ARG, "%s: path too long", dir);
        }
        memcpy(sub->root, dir, k + 1);
        fk_status s = fk_read_cifar(sub, train, ds);
        free(sub);
        return s;
    }
    case CIFAR_PICKLE:
        ds->layout = c100 ? "CIFAR-100 Python version, pickled (cifar-100-python: train, test, meta)"
                          : "CIFAR-10 Python version, pickled (cifar-10-batches-py: data_batch_N, "
                            "test_batch, batches.meta)";
        return read_pickles(c, dir, train, ds);
    default: return cifar_none(c);
    }
}
