/* figkd-cl: weight and fixture files.
 *
 * - safetensors (https://github.com/huggingface/safetensors): an 8-byte
 *   little-endian header length N, N bytes of JSON header padded with spaces
 *   to a multiple of 8, then the tensor data. The header maps each tensor name
 *   to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to
 *   the data start) and may hold "__metadata__": {string: string}.
 *   figkd-cl reads and writes the dtypes F32 and I64 (PyTorch float32 and
 *   int64, e.g. BatchNorm's num_batches_tracked).
 * - npy (NumPy format 1.0): float32, C order.
 * - atomic file replacement used by both (and by checkpoints and logs):
 *   write `path.tmp.<pid>`, fsync, rename over path, fsync the directory.
 *
 * Every failure is reported with fk_error() and a message naming the file
 * and, where there is one, the tensor. Host byte order must be little-endian
 * (x86, ARM); other hosts get FK_ERR_FORMAT. */
#ifndef FIGKD_IO_H
#define FIGKD_IO_H

#include "figkd/common.h"

#include <stddef.h>
#include <stdint.h>

#define FK_ST_MAX_DIMS 8
/* A header above this size is treated as corrupt, not allocated. */
#define FK_ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

typedef enum fk_dtype {
    FK_DT_F32, /* "F32": float */
    FK_DT_I64, /* "I64": int64_t */
} fk_dtype;

/* "F32" / "I64" (the safetensors names); "?" for anything else. */
const char *fk_dtype_name(fk_dtype dt);
/* Bytes per element: 4 / 8; 0 for anything else. */
size_t fk_dtype_size(fk_dtype dt);

typedef struct fk_st_tensor {
    const char *name;               /* NUL-terminated UTF-8; owned by fk_st_file after a read */
    fk_dtype dtype;
    int ndim;                       /* 0 (scalar) .. FK_ST_MAX_DIMS */
    int64_t shape[FK_ST_MAX_DIMS];  /* shape[0..ndim-1], each >= 0 */
    size_t nbytes;                  /* product(shape) * fk_dtype_size(dtype) */
    void *data;                     /* nbytes bytes, host order; may be NULL when nbytes == 0 */
} fk_st_tensor;

typedef struct fk_st_file {
    size_t count;
    fk_st_tensor *tensors;          /* sorted by name (strcmp order), names unique */
    size_t meta_count;
    char **meta_keys;               /* "__metadata__" entries, in file order */
    char **meta_values;
} fk_st_file;

/* Read a whole safetensors file. On success *out owns everything (release
 * with fk_st_free); each tensor's data is its own allocation, aligned for its
 * dtype. On failure *out is left empty (fk_st_free on it is harmless) and the
 * status is FK_ERR_IO (cannot open/read), FK_ERR_FORMAT (truncated, corrupt,
 * unsupported dtype, ...) or FK_ERR_NOMEM.
 * Checked: header length vs file size and FK_ST_MAX_HEADER; strict JSON
 * (RFC 8259, UTF-8; the error names the header byte); dtype; shape vs
 * data_offsets; offsets inside the data, non-overlapping and covering it
 * without gaps (as the reference implementation requires); unique names.
 * "\u0000" in a string is rejected (names are C strings). */
fk_status fk_st_read(const char *path, fk_st_file *out);
/* The header alone (checked as fk_st_read checks it): the metadata for
 * fk_st_meta, no tensors (count 0). For a model's name without reading its
 * weights. */
fk_status fk_st_read_meta(const char *path, fk_st_file *out);
/* The tensor called name, or NULL (binary search). */
const fk_st_tensor *fk_st_find(const fk_st_file *f, const char *name);
/* The metadata value for key, or NULL. */
const char *fk_st_meta(const fk_st_file *f, const char *key);
void fk_st_free(fk_st_file *f);

/* Write n tensors and n_meta metadata pairs atomically (see fk_atomic_open):
 * on any failure the file previously at path is untouched and no temporary
 * file is left behind. Tensors are laid out I64 first, then F32, each group
 * by name, so every tensor is aligned to its element size in the file.
 * Names must be non-empty, unique, not "__metadata__", valid UTF-8;
 * nbytes must match the shape. meta_keys/meta_values may be NULL when
 * n_meta == 0; keys must be unique; values may hold any UTF-8 text
 * (newlines, quotes, backslashes are escaped). */
fk_status fk_st_write(const char *path, const fk_st_tensor *tensors, size_t n,
    const char *const *meta_keys, const char *const *meta_values, size_t n_meta);

/* Check that f holds exactly the n expected tensors (name, dtype, shape;
 * expected[i].data and .nbytes are ignored). The first mismatch is reported
 * as FK_ERR_FORMAT naming path and the tensor: expected tensors are checked
 * in the given order (missing, wrong dtype, wrong shape), then tensors in f
 * that were not expected (unexpected), in name order. */
fk_status fk_st_check(const fk_st_file *f, const fk_st_tensor *expected, size_t n,
    const char *path);

/* npy, float32 C order. Write: format 1.0, descr '<f4', fortran_order False,
 * header padded so data starts at a multiple of 64 (as NumPy does), atomic.
 * ndim 0..FK_ST_MAX_DIMS; data may be NULL when the array is empty. */
fk_status fk_npy_write(const char *path, const float *data, int ndim, const int64_t *shape);
/* The same for int64 data (descr '<i8'): labels. */
fk_status fk_npy_write_i64(const char *path, const int64_t *data, int ndim, const int64_t *shape);
/* Read: format 1.0, 2.0 or 3.0 with descr '<f4' and fortran_order False.
 * *data is a fresh allocation (free() it; never NULL on success), *ndim and
 * shape[0..*ndim-1] describe it. */
fk_status fk_npy_read(const char *path, float **data, int *ndim, int64_t shape[FK_ST_MAX_DIMS]);

/* Atomic replacement of a file. fk_atomic_open creates `path.tmp.<pid>`
 * (truncating a stale one); fk_atomic_write appends; fk_atomic_commit
 * fsyncs, closes, renames over path and fsyncs the directory;
 * fk_atomic_abort closes and removes the temporary file. A failed write or
 * commit aborts by itself; abort is harmless after commit or a failure.
 * fk_atomic_open also removes `path.tmp.<pid>` files of processes that no
 * longer run (a save that was killed). */
typedef struct fk_atomic_file {
    int fd;           /* -1 when closed */
    char *path;       /* final name */
    char *tmp_path;   /* temporary name, NULL once renamed or removed */
} fk_atomic_file;

fk_status fk_atomic_open(fk_atomic_file *af, const char *path);
fk_status fk_atomic_write(fk_atomic_file *af, const void *buf, size_t n);
fk_status fk_atomic_commit(fk_atomic_file *af);
void fk_atomic_abort(fk_atomic_file *af);

/* Keep other processes out of a directory (a run's out_dir): an exclusive,
 * non-blocking flock on DIR/figkd.lock, which then holds this pid. When
 * another process holds it: FK_ERR_IO, "DIR is already in use by pid N".
 * *fd_out is the lock's descriptor (-1 on failure); fk_dir_unlock(fd)
 * releases it (as does the process's end, however it ends). */
#define FK_DIR_LOCK_NAME "figkd.lock"
fk_status fk_dir_lock(const char *dir, int *fd_out);
void fk_dir_unlock(int fd);

#endif
