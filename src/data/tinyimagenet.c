/* TinyImageNet (tiny-imagenet-200 as downloaded), decoded once to memory and
 * cached beside the data in root/figkd-cache-{train,test}.bin.
 *
 * Class index = position of the wnid in the sorted wnids.txt list, which is
 * what torchvision ImageFolder on root/train gives (wnids.txt itself is not
 * sorted). Training images in wnid order, files sorted by name; test = the
 * val split, in the order of val/val_annotations.txt.
 *
 * Cache file: header (magic "FKDCACHE", version, n, h, w, c, classes,
 * signature of the source files = FNV-1a over their names, sizes and
 * modification times, CRC-32 of the payload), then labels (int32 x n) and
 * pixels (uint8 x n x 64 x 64 x 3). A cache whose header, signature or
 * checksum does not match is ignored and rewritten. */
#include "data/data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define TIN_SIDE 64
#define CACHE_VERSION 1u

typedef struct cache_header {
    char magic[8];
    uint32_t version, n, h, w, c, classes;
    uint64_t signature;
    uint32_t crc, pad;
} cache_header;

static void free_list(char **v, long n)
{
    if (!v)
        return;
    for (long i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static fk_status missing(const fk_data_config *c, const char *path)
{
    return fk_error(FK_ERR_IO,
        "tinyimagenet: cannot open %s: %s. Expected tiny-imagenet-200 as downloaded in "
        "[data] root = %s (wnids.txt, train/<wnid>/images/<name>.JPEG, val/images/<name>.JPEG, "
        "val/val_annotations.txt); download "
        "http://cs231n.stanford.edu/tiny-imagenet-200.zip and unzip it", path,
        strerror(errno), c->root);
}

static fk_status read_wnids(const fk_data_config *c, char ***out, int *n_out)
{
    char path[FK_DATA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/wnids.txt", c->root);
    FILE *f = fopen(path, "r");
    if (!f)
        return missing(c, path);
    char **v = NULL, *line = NULL;
    size_t line_cap = 0;
    int n = 0, cap = 0;
    fk_status s = FK_OK;
    while (getline(&line, &line_cap, f) >= 0) {
        line[strcspn(line, "\r\n \t")] = '\0';
        if (!line[0])
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) {
                s = fk_error(FK_ERR_NOMEM, "out of host memory reading %s", path);
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(line))) {
            s = fk_error(FK_ERR_NOMEM, "out of host memory reading %s", path);
            break;
        }
        n++;
        if (n == 1 << 24) {
            s = fk_error(FK_ERR_FORMAT, "%s: more than %d class ids", path, n - 1);
            break;
        }
    }
    free(line);
    fclose(f);
    if (s == FK_OK && n == 0)
        s = fk_error(FK_ERR_FORMAT, "%s: no class ids", path);
    if (s != FK_OK) {
        free_list(v, n);
        return s;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    *n_out = n;
    return FK_OK;
}

static int find_wnid(char **wnids, int n, const char *id)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, r = strcmp(id, wnids[mid]);
        if (!r)
            return mid;
        if (r < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

static fk_status push(char ***paths, int32_t **labels, long *n, long *cap, const char *p,
                      int y)
{
    if (*n == *cap) {
        long nc = *cap ? *cap * 2 : 1024;
        char **np = realloc(*paths, (size_t)nc * sizeof *np);
        if (np)
            *paths = np;
        int32_t *nl = realloc(*labels, (size_t)nc * sizeof *nl);
        if (nl)
            *labels = nl;
        if (!np || !nl)
            return fk_error(FK_ERR_NOMEM, "out of host memory listing tinyimagenet");
        *cap = nc;
    }
    if (!((*paths)[*n] = strdup(p)))
        return fk_error(FK_ERR_NOMEM, "out of host memory listing tinyimagenet");
    (*labels)[*n] = y;
    (*n)++;
    return FK_OK;
}

static fk_status list_files(const fk_data_config *c, int train, char **wnids, int nw,
                            char ***paths_out, int32_t **labels_out, long *n_out)
{
    char **paths = NULL;
    int32_t *labels = NULL;
    long n = 0, cap = 0;
    fk_status s = FK_OK;
    char p[FK_DATA_PATH_MAX * 2];
    if (train) {
        for (int k = 0; k < nw && s == FK_OK; k++) {
            char dir[FK_DATA_PATH_MAX + 300];
            snprintf(dir, sizeof dir, "%s/train/%s/images", c->root, wnids[k]);
            strlist files = {0};
            s = fk_list_dir(dir, 0, &files);
            if (s != FK_OK) {
                free_list(files.v, files.n);
                s = missing(c, dir);
                break;
            }
            for (long i = 0; i < files.n && s == FK_OK; i++) {
                snprintf(p, sizeof p, "%s/%s", dir, files.v[i]);
                s = push(&paths, &labels, &n, &cap, p, k);
            }
            free_list(files.v, files.n);
        }
    } else {
        char ann[FK_DATA_PATH_MAX + 64];
        snprintf(ann, sizeof ann, "%s/val/val_annotations.txt", c->root);
        FILE *f = fopen(ann, "r");
        if (!f)
            return missing(c, ann);
        char *line = NULL;
        size_t line_cap = 0;
        long ln = 0;
        while (s == FK_OK && getline(&line, &line_cap, f) >= 0) {
            ln++;
            char *save = NULL, *file = strtok_r(line, "\t \r\n", &save);
            char *id = file ? strtok_r(NULL, "\t \r\n", &save) : NULL;
            if (!file)
                continue;
            int y = id ? find_wnid(wnids, nw, id) : -1;
            if (y < 0) {
                s = fk_error(FK_ERR_FORMAT, "%s:%ld: %s is not a class id of wnids.txt",
                             ann, ln, id ? id : "(missing)");
                break;
            }
            snprintf(p, sizeof p, "%s/val/images/%s", c->root, file);
            s = push(&paths, &labels, &n, &cap, p, y);
        }
        free(line);
        fclose(f);
        if (s == FK_OK && n == 0)
            s = fk_error(FK_ERR_FORMAT, "%s: no images listed", ann);
    }
    if (s != FK_OK) {
        free_list(paths, n);
        free(labels);
        return s;
    }
    *paths_out = paths;
    *labels_out = labels;
    *n_out = n;
    return FK_OK;
}

static uint64_t signature(char **paths, long n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (long i = 0; i < n; i++) {
        struct stat st;
        int64_t meta[2] = {-1, -1};
        if (stat(paths[i], &st) == 0) {
            meta[0] = (int64_t)st.st_size;
            meta[1] = (int64_t)st.st_mtime;
        }
        h = fnv(h, paths[i], strlen(paths[i]) + 1);
        h = fnv(h, meta, sizeof meta);
    }
    return h;
}

static uint32_t crc_of(const int32_t *labels, const uint8_t *pixels, long n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    const uint8_t *parts[2] = {(const uint8_t *)labels, pixels};
    size_t sizes[2] = {(size_t)n * sizeof *labels, (size_t)n * TIN_SIDE * TIN_SIDE * 3};
    for (int p = 0; p < 2; p++)
        for (size_t off = 0; off < sizes[p]; off += 1u << 30) {
            size_t k = sizes[p] - off < (1u << 30) ? sizes[p] - off : (1u << 30);
            crc = crc32(crc, parts[p] + off, (uInt)k);
        }
    return (uint32_t)crc;
}

/* 1: ds filled from the cache; 0: no usable cache (not an error). */
static int load_cache(const char *path, uint64_t sig, long n, int classes, fk_dataset *ds)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    cache_header hd;
    int ok = fread(&hd, sizeof hd, 1, f) == 1 && !memcmp(hd.magic, "FKDCACHE", 8) &&
             hd.version == CACHE_VERSION && hd.n == (uint32_t)n && hd.h == TIN_SIDE &&
             hd.w == TIN_SIDE && hd.c == 3 && hd.classes == (uint32_t)classes &&
             hd.signature == sig;
    /* sizes from the listing (n), checked against the file before any allocation */
    size_t label_bytes = 0, pixel_bytes = 0, total;
    struct stat st;
    ok = ok && !fk_size_mul((size_t)n, sizeof *ds->labels, &label_bytes) &&
         !fk_size_mul((size_t)n, TIN_SIDE * TIN_SIDE * 3, &pixel_bytes) &&
         label_bytes <= SIZE_MAX - sizeof hd - pixel_bytes && fstat(fileno(f), &st) == 0 &&
         (total = sizeof hd + label_bytes + pixel_bytes, (size_t)st.st_size == total);
    if (ok) {
        ds->labels = malloc(label_bytes);
        ds->pixels = malloc(pixel_bytes);
        ok = ds->labels && ds->pixels &&
             fread(ds->labels, sizeof *ds->labels, (size_t)n, f) == (size_t)n &&
             fread(ds->pixels, TIN_SIDE * TIN_SIDE * 3, (size_t)n, f) == (size_t)n &&
             fgetc(f) == EOF && crc_of(ds->labels, ds->pixels, n) == hd.crc;
        for (long i = 0; ok && i < n; i++)
            ok = ds->labels[i] >= 0 && ds->labels[i] < classes;
        if (!ok) {
            free(ds->labels);
            free(ds->pixels);
            ds->labels = NULL;
            ds->pixels = NULL;
        }
    }
    fclose(f);
    if (!ok)
        fprintf(stderr, "figkd-cl: note: %s is stale or corrupt; rebuilding it\n", path);
    return ok;
}

/* Best effort: a read-only root only costs the next run the decoding time. */
static void save_cache(const char *path, uint64_t sig, long n, int classes,
                       const fk_dataset *ds)
{
    char tmp[FK_DATA_PATH_MAX + 128];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "figkd-cl: note: cannot write the cache %s (%s); the next run "
                "decodes the images again\n", tmp, strerror(errno));
        return;
    }
    cache_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, "FKDCACHE", 8);
    hd.version = CACHE_VERSION;
    hd.n = (uint32_t)n;
    hd.h = hd.w = TIN_SIDE;
    hd.c = 3;
    hd.classes = (uint32_t)classes;
    hd.signature = sig;
    hd.crc = crc_of(ds->labels, ds->pixels, n);
    int ok = fwrite(&hd, sizeof hd, 1, f) == 1 &&
             fwrite(ds->labels, sizeof *ds->labels, (size_t)n, f) == (size_t)n &&
             fwrite(ds->pixels, TIN_SIDE * TIN_SIDE * 3, (size_t)n, f) == (size_t)n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "figkd-cl: note: cannot write the cache %s\n", path);
        remove(tmp);
    }
}

fk_status fk_read_tinyimagenet(const fk_data_config *c, int train, fk_dataset *ds)
{
    char **wnids = NULL, **paths = NULL;
    int nw = 0;
    int32_t *labels = NULL;
    long n = 0;
    uint8_t *scratch = NULL;
    size_t scratch_size = 0;
    fk_status s = read_wnids(c, &wnids, &nw);
    if (s != FK_OK)
        return s;
    s = list_files(c, train, wnids, nw, &paths, &labels, &n);
    if (s != FK_OK)
        goto done;
    ds->classes = nw;
    ds->channels = 3;
    ds->h = ds->w = TIN_SIDE;
    ds->n = n;
    ds->class_names = wnids;
    wnids = NULL;
    char cpath[FK_DATA_PATH_MAX + 64];
    snprintf(cpath, sizeof cpath, "%s/figkd-cache-%s.bin", c->root, train ? "train" : "test");
    uint64_t sig = signature(paths, n);
    if (c->cache && load_cache(cpath, sig, n, nw, ds))
        goto done;
    ds->labels = labels;
    labels = NULL;
    ds->pixels = fk_malloc((size_t)n * TIN_SIDE * TIN_SIDE * 3);
    if (!ds->pixels) {
        s = FK_ERR_NOMEM;
        goto done;
    }
    for (long i = 0; i < n; i++) {
        int h, w;
        s = fk_image_decode_rgb(paths[i], &scratch, &scratch_size, &h, &w);
        if (s != FK_OK)
            goto done;
        if (h != TIN_SIDE || w != TIN_SIDE) {
            s = fk_error(FK_ERR_FORMAT, "%s: image is %dx%d, TinyImageNet images are 64x64",
                         paths[i], w, h);
            goto done;
        }
        memcpy(ds->pixels + (size_t)i * TIN_SIDE * TIN_SIDE * 3, scratch,
               TIN_SIDE * TIN_SIDE * 3);
    }
    if (c->cache)
        save_cache(cpath, sig, n, nw, ds);
done:
    if (wnids)
        free_list(wnids, nw);
    free_list(paths, n);
    free(labels);
    free(scratch);
    return s;
}
