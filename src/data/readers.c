/* Readers for the record formats: CIFAR binary and IDX (MNIST, Fashion-MNIST). */
#include "data/data_internal.h"

#include <errno.h>
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
    long counts[5], total = 0;
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
        counts[f] = (long)(st.st_size / rec);
        total += counts[f];
    }
    ds->classes = c100 ? 100 : 10;
    ds->channels = 3;
    ds->h = ds->w = 32;
    ds->n = total;
    ds->labels = fk_malloc((size_t)total * sizeof *ds->labels);
    ds->pixels = fk_malloc((size_t)total * 3072);
    uint8_t *buf = fk_malloc((size_t)rec * 1024);
    if (!ds->labels || !ds->pixels || !buf) {
        free(buf);
        return FK_ERR_NOMEM;
    }
    long at = 0;
    for (int f = 0; f < nfiles; f++) {
        FILE *fp = fopen(files[f], "rb");
        if (!fp) {
            free(buf);
            return cifar_missing(c, files[f]);
        }
        for (long r = 0; r < counts[f];) {
            long chunk = counts[f] - r < 1024 ? counts[f] - r : 1024;
            size_t got = fread(buf, (size_t)rec, (size_t)chunk, fp);
            if (got != (size_t)chunk) {
                fclose(fp);
                free(buf);
                return fk_error(FK_ERR_FORMAT, "%s: read error at record %ld", files[f],
                                r + (long)got);
            }
            for (long k = 0; k < chunk; k++) {
                const uint8_t *p = buf + (size_t)k * (size_t)rec;
                int y = p[lab_bytes - 1]; /* the fine label for CIFAR-100 */
                int coarse_bad = c100 && p[0] >= 20;
                if (y >= ds->classes || coarse_bad) {
                    int v = coarse_bad ? p[0] : y, hi = coarse_bad ? 19 : ds->classes - 1;
                    fclose(fp);
                    free(buf);
                    return fk_error(FK_ERR_FORMAT, "%s: record %ld: %slabel %d out of range "
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
    uint32_t magic, n, h, w, magic_l, n_l;
    if (read_be32(gi, &magic) || magic != 0x803 || read_be32(gi, &n) ||
        read_be32(gi, &h) || read_be32(gi, &w) || h == 0 || w == 0 || h > 4096 || w > 4096) {
        s = fk_error(FK_ERR_FORMAT, "%s: not an IDX image file (bad or truncated header; "
                     "expected magic 0x00000803 and 3 dimensions)", ipath);
        goto done;
    }
    if (read_be32(gl, &magic_l) || magic_l != 0x801 || read_be32(gl, &n_l)) {
        s = fk_error(FK_ERR_FORMAT, "%s: not an IDX label file (bad or truncated header; "
                     "expected magic 0x00000801)", lpath);
        goto done;
    }
    if (n != n_l || n == 0) {
        s = fk_error(FK_ERR_FORMAT, "%s has %u images but %s has %u labels", ipath, n,
                     lpath, n_l);
        goto done;
    }
    ds->classes = 10;
    ds->channels = 1;
    ds->h = (int)h;
    ds->w = (int)w;
    ds->n = n;
    ds->labels = fk_malloc((size_t)n * sizeof *ds->labels);
    ds->pixels = fk_malloc((size_t)n * h * w);
    uint8_t *lab = fk_malloc(n);
    if (!ds->labels || !ds->pixels || !lab) {
        free(lab);
        s = FK_ERR_NOMEM;
        goto done;
    }
    int got = gzread(gl, lab, n);
    if (got != (int)n) {
        free(lab);
        s = fk_error(FK_ERR_FORMAT, "%s: truncated or corrupt at label %d of %u",
                     lpath, got < 0 ? 0 : got, n);
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (lab[i] >= 10) {
            s = fk_error(FK_ERR_FORMAT, "%s: label %u: value %d out of range 0..9", lpath, i,
                         lab[i]);
            free(lab);
            goto done;
        }
        ds->labels[i] = lab[i];
    }
    free(lab);
    size_t img = (size_t)h * w, chunk = 4096;
    for (size_t i = 0; i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        int r = gzread(gi, ds->pixels + i * img, (unsigned)(k * img));
        if (r != (int)(k * img)) {
            size_t whole = r < 0 ? 0 : (size_t)r / img;
            s = fk_error(FK_ERR_FORMAT, "%s: truncated or corrupt at image %zu of %u",
                         ipath, i + whole, n);
            goto done;
        }
    }
done:
    gzclose(gi);
    gzclose(gl);
    return s;
}
