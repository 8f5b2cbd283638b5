/* Readers for the record formats: CIFAR binary and IDX (MNIST, Fashion-MNIST). */
#include "data/data_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---- CIFAR ---- */

static fk_status cifar_missing(const fk_data_config *c, const char *path)
{
    int c100 = c->dataset == FK_DATASET_CIFAR100;
    return fk_error(FK_ERR_IO,
        "%s: cannot open %s: %s. Expected the CIFAR-%s binary version in [data] root = %s "
        "(%s); download %s and extract it, then set root to the extracted folder",
        fk_dataset_name(c->dataset), path, strerror(errno), c100 ? "100" : "10", c->root,
        c100 ? "train.bin, test.bin" : "data_batch_1.bin .. data_batch_5.bin, test_batch.bin",
        c100 ? "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
             : "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
}

/* Planar RGB records -> interleaved HWC. */
static void cifar_planar_to_hwc(uint8_t *dst, const uint8_t *src)
{
    for (int p = 0; p < 1024; p++) {
        dst[3 * p + 0] = src[p];
        dst[3 * p + 1] = src[1024 + p];
        dst[3 * p + 2] = src[2048 + p];
    }
}

fk_status fk_read_cifar(const fk_data_config *c, int train, fk_dataset *ds)
{
    int c100 = c->dataset == FK_DATASET_CIFAR100;
    const int rec = c100 ? 3074 : 3073, lab_bytes = c100 ? 2 : 1;
    char files[5][FK_DATA_PATH_MAX + 32];
    int nfiles = 0;
    if (c100) {
        snprintf(files[nfiles++], sizeof files[0], "%s/%s", c->root,
                 train ? "train.bin" : "test.bin");
    } else if (train) {
        for (int k = 1; k <= 5; k++)
            snprintf(files[nfiles++], sizeof files[0], "%s/data_batch_%d.bin", c->root, k);
    } else {
        snprintf(files[nfiles++], sizeof files[0], "%s/test_batch.bin", c->root);
    }
    size_t counts[5], total = 0;
    for (int f = 0; f < nfiles; f++) {
        struct stat st;
        if (stat(files[f], &st) != 0)
            return cifar_missing(c, files[f]);
        if (st.st_size == 0 || st.st_size % rec != 0)
            return fk_error(FK_ERR_FORMAT,
                            "%s: truncated or not a CIFAR-%s binary file: %lld bytes is not a "
                            "whole number of %d-byte records (record %lld is incomplete)",
                            files[f], c100 ? "100" : "10", (long long)st.st_size, rec,
                            (long long)(st.st_size / rec));
        counts[f] = (size_t)st.st_size / (size_t)rec;
        total += counts[f];
    }
    size_t label_bytes, pixel_bytes;
    if (fk_size_mul(total, sizeof *ds->labels, &label_bytes) ||
        fk_size_mul(total, 3072, &pixel_bytes) || total > (size_t)LONG_MAX)
        return fk_error(FK_ERR_FORMAT, "%s: %zu records is more than this machine can address",
                        files[0], total);
    ds->classes = c100 ? 100 : 10;
    ds->channels = 3;
    ds->h = ds->w = 32;
    ds->n = (long)total;
    ds->labels = fk_malloc(label_bytes);
    ds->pixels = fk_malloc(pixel_bytes);
    size_t buf_recs = total < 1024 ? total : 1024; /* records read at a time */
    uint8_t *buf = fk_malloc((size_t)rec * buf_recs);
    if (!ds->labels || !ds->pixels || !buf) {
        free(buf);
        return FK_ERR_NOMEM;
    }
    size_t at = 0;
    for (int f = 0; f < nfiles; f++) {
        FILE *fp = fopen(files[f], "rb");
        if (!fp) {
            free(buf);
            return cifar_missing(c, files[f]);
        }
        for (size_t r = 0; r < counts[f];) {
            size_t chunk = counts[f] - r < buf_recs ? counts[f] - r : buf_recs;
            size_t got = fread(buf, (size_t)rec, chunk, fp);
            if (got != chunk) {
                fclose(fp);
                free(buf);
                return fk_error(FK_ERR_FORMAT, "%s: read error at record %zu", files[f],
                                r + got);
            }
            for (size_t k = 0; k < chunk; k++) {
                const uint8_t *p = buf + (size_t)k * (size_t)rec;
                int y = p[lab_bytes - 1]; /* the fine label for CIFAR-100 */
                int coarse_bad = c100 && p[0] >= 20;
                if (y >= ds->classes || coarse_bad) {
                    int v = coarse_bad ? p[0] : y, hi = coarse_bad ? 19 : ds->classes - 1;
                    fclose(fp);
                    free(buf);
                    return fk_error(FK_ERR_FORMAT, "%s: record %zu: %slabel %d out of range "
                                    "0..%d; corrupt file?", files[f], r + k,
                                    coarse_bad ? "coarse " : "", v, hi);
                }
                ds->labels[at] = y;
                cifar_planar_to_hwc(ds->pixels + (size_t)at * 3072, p + lab_bytes);
                at++;
            }
            r += chunk;
        }
        fclose(fp);
    }
    free(buf);
    return FK_OK;
}

/* ---- IDX ---- */

/* Open base or base.gz (gzread reads plain files too). */
static gzFile open_idx(const char *root, const char *base, char *path, size_t pathsz)
{
    snprintf(path, pathsz, "%s/%s", root, base);
    gzFile g = gzopen(path, "rb");
    if (g)
        return g;
    snprintf(path, pathsz, "%s/%s.gz", root, base);
    return gzopen(path, "rb");
}

static int read_be32(gzFile g, uint32_t *v)
{
    uint8_t b[4];
    if (gzread(g, b, 4) != 4)
        return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* What zlib says went wrong ("unexpected end of file", "incorrect data
 * check", ...), or "" when it saw nothing wrong (a plain file cut short). */
static const char *gz_why(gzFile g, const char *path)
{
    int err;
    const char *m = gzerror(g, &err);
    if (err == Z_OK || !m)
        return "";
    size_t n = strlen(path); /* zlib's message starts with "PATH: " */
    return !strncmp(m, path, n) && !strncmp(m + n, ": ", 2) ? m + n + 2 : m;
}

/* Read exactly n bytes (in pieces gzread's int can count); the number read. */
static size_t gz_read_all(gzFile g, uint8_t *dst, size_t n)
{
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < ((size_t)1 << 30) ? n - done : ((size_t)1 << 30);
        int r = gzread(g, dst + done, (unsigned)k);
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    return done;
}

/* After the last record: read to the end of the file so that zlib checks the
 * CRC-32 and length of every gzip member; anything left over is an error. */
static fk_status gz_check_end(gzFile g, const char *path)
{
    uint8_t b[256];
    int r = gzread(g, b, sizeof b);
    if (r < 0)
        return fk_error(FK_ERR_FORMAT, "%s: corrupt: %s (the gzip check of the data "
                        "failed after the last record)", path, gz_why(g, path));
    if (r > 0)
        return fk_error(FK_ERR_FORMAT, "%s: corrupt or not an IDX file: data after the "
                        "last record the header counts", path);
    int err;
    gzerror(g, &err);
    if (err != Z_OK)
        return fk_error(FK_ERR_FORMAT, "%s: truncated or corrupt gzip stream: %s", path,
                        gz_why(g, path));
    return FK_OK;
}

/* The header's claim of `need` bytes after `hdr` header bytes must fit the
 * file: exactly, for a plain file; for gzip, within deflate's greatest ratio
 * (1032:1), so that an absurd count is an error and not a huge allocation. */
static fk_status idx_size_check(gzFile g, const char *path, size_t hdr, size_t need,
                                const char *what)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return fk_error(FK_ERR_IO, "%s: %s", path, strerror(errno));
    size_t fsz = (size_t)st.st_size, cap;
    if (gzdirect(g))
        cap = fsz > hdr ? fsz - hdr : 0;
    else if (fk_size_mul(fsz, 1032, &cap))
        cap = SIZE_MAX;
    if (need > cap)
        return fk_error(FK_ERR_FORMAT, "%s: truncated or corrupt: the header claims %s "
                        "(%zu bytes) but the %s file of %zu bytes cannot hold them", path, what,
                        need, gzdirect(g) ? "plain" : "gzip", fsz);
    return FK_OK;
}

static fk_status idx_missing(const fk_data_config *c, const char *base)
{
    int fm = c->dataset == FK_DATASET_FASHION_MNIST;
    return fk_error(FK_ERR_IO,
        "%s: cannot open %s/%s[.gz]. Expected the IDX files train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte "
        "(gzip'd or not) in [data] root = %s; %s",
        fk_dataset_name(c->dataset), c->root, base, c->root,
        fm ? "install Debian's dataset-fashion-mnist package (/usr/share/datasets/"
             "fashion-mnist) or download them from "
             "https://github.com/zalandoresearch/fashion-mnist"
           : "download them from http://yann.lecun.com/exdb/mnist/");
}

fk_status fk_read_idx(const fk_data_config *c, int train, fk_dataset *ds)
{
    char ipath[FK_DATA_PATH_MAX + 64], lpath[FK_DATA_PATH_MAX + 64];
    const char *ibase = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
    const char *lbase = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
    gzFile gi = open_idx(c->root, ibase, ipath, sizeof ipath);
    if (!gi)
        return idx_missing(c, ibase);
    gzFile gl = open_idx(c->root, lbase, lpath, sizeof lpath);
    if (!gl) {
        gzclose(gi);
        return idx_missing(c, lbase);
    }
    fk_status s = FK_OK;
    uint8_t *lab = NULL;
    uint32_t magic, n, h, w, magic_l, n_l;
    if (read_be32(gi, &magic) || magic != 0x803 || read_be32(gi, &n) ||
        read_be32(gi, &h) || read_be32(gi, &w) || h == 0 || w == 0 || h > 4096 || w > 4096) {
        s = *gz_why(gi, ipath)
                ? fk_error(FK_ERR_FORMAT, "%s: corrupt gzip data: %s", ipath, gz_why(gi, ipath))
                : fk_error(FK_ERR_FORMAT, "%s: not an IDX image file (bad or truncated header; "
                           "expected magic 0x00000803 and 3 dimensions)", ipath);
        goto done;
    }
    if (read_be32(gl, &magic_l) || magic_l != 0x801 || read_be32(gl, &n_l)) {
        s = *gz_why(gl, lpath)
                ? fk_error(FK_ERR_FORMAT, "%s: corrupt gzip data: %s", lpath, gz_why(gl, lpath))
                : fk_error(FK_ERR_FORMAT, "%s: not an IDX label file (bad or truncated header; "
                           "expected magic 0x00000801)", lpath);
        goto done;
    }
    if (n != n_l || n == 0) {
        s = fk_error(FK_ERR_FORMAT, "%s has %u images but %s has %u labels", ipath, n,
                     lpath, n_l);
        goto done;
    }
    size_t img = (size_t)h * w, pixel_bytes, label_bytes;
    char what[96];
    snprintf(what, sizeof what, "%u images of %ux%u", n, h, w);
    if (fk_size_mul(n, img, &pixel_bytes) || fk_size_mul(n, sizeof *ds->labels, &label_bytes) ||
        n > (uint32_t)LONG_MAX) {
        s = fk_error(FK_ERR_FORMAT, "%s: the header claims %s, more than this machine can "
                     "address", ipath, what);
        goto done;
    }
    if ((s = idx_size_check(gi, ipath, 16, pixel_bytes, what)) != FK_OK)
        goto done;
    snprintf(what, sizeof what, "%u labels", n);
    if ((s = idx_size_check(gl, lpath, 8, n, what)) != FK_OK)
        goto done;
    ds->classes = 10;
    ds->channels = 1;
    ds->h = (int)h;
    ds->w = (int)w;
    ds->n = (long)n;
    ds->labels = fk_malloc(label_bytes);
    ds->pixels = fk_malloc(pixel_bytes);
    lab = fk_malloc(n);
    if (!ds->labels || !ds->pixels || !lab) {
        s = FK_ERR_NOMEM;
        goto done;
    }
    size_t got = gz_read_all(gl, lab, n);
    if (got != n) {
        s = fk_error(FK_ERR_FORMAT, "%s: truncated or corrupt at label %zu of %u%s%s",
                     lpath, got, n, *gz_why(gl, lpath) ? ": " : "", gz_why(gl, lpath));
        goto done;
    }
    if ((s = gz_check_end(gl, lpath)) != FK_OK)
        goto done;
    for (uint32_t i = 0; i < n; i++) {
        if (lab[i] >= 10) {
            s = fk_error(FK_ERR_FORMAT, "%s: label %u: value %d out of range 0..9", lpath, i,
                         lab[i]);
            goto done;
        }
        ds->labels[i] = lab[i];
    }
    got = gz_read_all(gi, ds->pixels, pixel_bytes);
    if (got != pixel_bytes) {
        s = fk_error(FK_ERR_FORMAT, "%s: truncated or corrupt at image %zu of %u%s%s",
                     ipath, got / img, n, *gz_why(gi, ipath) ? ": " : "", gz_why(gi, ipath));
        goto done;
    }
    s = gz_check_end(gi, ipath);
done:
    free(lab);
    gzclose(gi);
    gzclose(gl);
    return s;
}
