/* figkd-cl data module: the data sets' layouts as downloaded. Detection by
 * the files under [data] root, and the small format parsers they need: a
 * pickle opcode walker (torchvision's CIFAR pickles) and a MATLAB v5 reader
 * (Stanford Dogs' split lists). Private to src/data and the tests. */
#ifndef FIGKD_DATA_LAYOUTS_H
#define FIGKD_DATA_LAYOUTS_H

#include "data/data_internal.h"

#include <stddef.h>
#include <stdint.h>

/* cifar_pickle.c: dataset = cifar100 | cifar10, binary or Python version,
 * in root or in its cifar-100-python/ (cifar-10-batches-py/, ...) folder. */
fk_status fk_read_cifar_layout(const fk_data_config *c, int train, fk_dataset *ds);
/* fgvr.c: dataset = imagefolder: train/ + test/ trees, or the official
 * layouts of CUB-200-2011, Stanford Dogs, MIT Indoor-67, Stanford 40 Actions. */
fk_status fk_read_image_layout(const fk_data_config *c, int train, fk_dataset *ds);

/* ---- pickle (pickle.c) ----
 * Walks the opcodes of a protocol 0-2 pickle and builds a tree of plain
 * values; nothing is executed. The only globals accepted are the ones a
 * pickled dict of numpy arrays, lists and (byte) strings uses:
 * numpy.core.multiarray._reconstruct and .scalar (or numpy._core...),
 * numpy.ndarray, numpy.dtype, and _codecs.encode / __builtin__.bytes (Python
 * 3's way of writing bytes at protocol 2); each is evaluated by the walker
 * itself (scalar: little-endian integers only). */
typedef enum fk_pk_type {
    FK_PK_NONE = 0, FK_PK_BOOL, FK_PK_INT, FK_PK_BYTES, FK_PK_STR, FK_PK_TUPLE,
    FK_PK_LIST, FK_PK_DICT, FK_PK_GLOBAL, FK_PK_ARRAY, FK_PK_DTYPE, FK_PK_MARK,
} fk_pk_type;

typedef struct fk_pk_node {
    fk_pk_type type;
    int64_t i;                /* INT, BOOL */
    const uint8_t *s;         /* BYTES, STR (UTF-8), DTYPE ("u1"), GLOBAL ("module name") */
    size_t len;
    int32_t *items;           /* TUPLE, LIST: values; DICT: key, value pairs */
    long n, cap;
    /* ARRAY after BUILD: node indices of shape tuple, dtype, data bytes */
    int built, fortran;
    int32_t shape, dtype, data;
    char endian;              /* DTYPE after BUILD: '|', '<', '>', '=' */
} fk_pk_node;

typedef struct fk_pickle {
    char path[FK_DATA_PATH_MAX];
    fk_pk_node *nodes;
    long n_nodes, cap_nodes;
    int32_t root;
    uint8_t **owned;          /* buffers decoded from UTF-8 (Python 3 bytes) */
    long n_owned, cap_owned;
    void *map;                /* mmap of the file (fk_pickle_load) */
    size_t map_len;
} fk_pickle;

/* Parse buf[0..n) (kept referenced; name is used in the messages). */
fk_status fk_pickle_parse(const char *name, const uint8_t *buf, size_t n, fk_pickle **out);
/* Map path and parse it; the mapping lives until fk_pickle_free. */
fk_status fk_pickle_load(const char *path, fk_pickle **out);
void fk_pickle_free(fk_pickle *p);
/* Value of key (a byte string or str equal to key) in dict node d; -1 if absent. */
int32_t fk_pickle_dict_get(const fk_pickle *p, int32_t d, const char *key);
/* Length of a list or tuple, or of a 1-D integer numpy array; -1 for anything
 * else (or seq < 0). */
long fk_pickle_len(const fk_pickle *p, int32_t seq);
/* Element i (< fk_pickle_len) as an integer: 0, or -1 when it is not one. */
int fk_pickle_int_at(const fk_pickle *p, int32_t seq, long i, int64_t *v);

/* ---- MATLAB v5 MAT-file (matv5.c) ----
 * Finds one variable by name at the top level (compressed with zlib or not)
 * and returns it as a cell array of char strings or as a numeric vector. */
typedef struct fk_mat_var {
    long n;                   /* elements */
    char **strings;           /* (n): cell of char arrays */
    double *values;           /* (n): numeric array, any MATLAB class */
} fk_mat_var;

fk_status fk_mat_read(const char *path, const char *name, fk_mat_var *out);
/* The same on a file's bytes (path is only named in messages). */
fk_status fk_mat_parse(const char *path, const uint8_t *buf, size_t n, const char *name,
                       fk_mat_var *out);
void fk_mat_var_free(fk_mat_var *v);

#endif
