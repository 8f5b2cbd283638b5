/* Data readers against broken inputs made here: ImageFolder train and test
 * class folders that differ, gzip'd IDX files with a bit flipped near the end
 * of the deflate stream, in the CRC-32 and in the length, and IDX headers that
 * claim absurd counts, images whose header claims 81 M pixels. */
#include "common.h"
#include "data/data_internal.h"
#include "figkd/data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static char root[512];

#define HAS(sub) CHECK(strstr(fk_last_error(), (sub)) != NULL, "message '%s' lacks '%s'", \
                       fk_last_error(), (sub))

static void touch_dirs(const char *base, const char *split, const char *const *cls, int n)
{
    for (int k = 0; k < n; k++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s/%s", base, split, cls[k]);
        fk_mkdirs(p);
        snprintf(p, sizeof p, "%s/%s/%s/x.png", base, split, cls[k]);
        fk_test_write(p, "", 0); /* listing only: never decoded here */
    }
}

static fk_status open_split(const char *dataset, const char *dir, int train)
{
    fk_data_config c;
    fk_data_config_default(&c);
    fk_data_config_set(&c, "dataset", dataset);
    fk_data_config_set(&c, "root", dir);
    fk_data_config_set(&c, "workers", "1");
    if (fk_data_config_finish(&c) != FK_OK)
        return FK_ERR_ARG;
    fk_dataset *ds = NULL;
    fk_status s = fk_dataset_open(&c, train, &ds);
    fk_dataset_free(ds);
    return s;
}

static void test_imagefolder_classes(void)
{
    const char *train[] = {"apple", "mango", "zebra"};
    const char *renamed[] = {"apple", "melon", "zebra"};
    const char *extra[] = {"apple", "mango", "zebra", "zzz"};
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/same", root);
    touch_dirs(dir, "train", train, 3);
    touch_dirs(dir, "test", train, 3);
    CHECK(open_split("imagefolder", dir, 1) == FK_OK, "same classes: %s", fk_last_error());
    CHECK(open_split("imagefolder", dir, 0) == FK_OK, "same classes: %s", fk_last_error());

    snprintf(dir, sizeof dir, "%s/renamed", root);
    touch_dirs(dir, "train", train, 3);
    touch_dirs(dir, "test", renamed, 3);
    for (int t = 1; t >= 0; t--) {
        CHECK(open_split("imagefolder", dir, t) == FK_ERR_FORMAT, "renamed class accepted");
        HAS("'mango' in train");
        HAS("'melon' in test");
    }
    snprintf(dir, sizeof dir, "%s/extra", root);
    touch_dirs(dir, "train", train, 3);
    touch_dirs(dir, "test", extra, 4);
    for (int t = 1; t >= 0; t--) {
        CHECK(open_split("imagefolder", dir, t) == FK_ERR_FORMAT, "extra test class accepted");
        HAS("'zzz' is only in test");
    }
    snprintf(dir, sizeof dir, "%s/missing", root);
    touch_dirs(dir, "train", extra, 4);
    touch_dirs(dir, "test", train, 3);
    CHECK(open_split("imagefolder", dir, 0) == FK_ERR_FORMAT, "class missing from test accepted");
    HAS("'zzz' is only in train");
    /* an empty folder lists nothing (and sorts nothing) */
    snprintf(dir, sizeof dir, "%s/empty/train/apple", root);
    fk_mkdirs(dir);
    snprintf(dir, sizeof dir, "%s/empty", root);
    CHECK(open_split("imagefolder", dir, 1) == FK_ERR_FORMAT, "empty class folder");
    HAS("no .png/.jpg/.jpeg images");
}

enum { IDX_N = 100, IDX_SIDE = 28 };

/* A one-member gzip file of data, its name field sized so that the 8-byte
 * trailer starts at a multiple of 8192 bytes (zlib's input buffer): a reader
 * that stops at the last data byte then never sees the CRC-32 or length. */
static void write_gz_straddle(const char *path, const uint8_t *data, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    size_t cap = n + n / 100 + 1024;
    uint8_t *def = malloc(cap);
    if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(1);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    z.next_out = def;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        exit(1);
    size_t dn = cap - z.avail_out;
    deflateEnd(&z);
    size_t name = 1;
    while ((10 + name + 1 + dn + 8) % 8192 != 8)
        name++;
    size_t total = 10 + name + 1 + dn + 8;
    uint8_t *b = calloc(total, 1);
    const uint8_t hd[10] = {0x1f, 0x8b, 8, 8 /* FNAME */, 0, 0, 0, 0, 0, 3};
    memcpy(b, hd, 10);
    memset(b + 10, 'a', name);
    memcpy(b + 10 + name + 1, def, dn);
    uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), data, (uInt)n), len = (uint32_t)n;
    for (int i = 0; i < 4; i++) {
        b[total - 8 + i] = (uint8_t)(crc >> (8 * i));
        b[total - 4 + i] = (uint8_t)(len >> (8 * i));
    }
    fk_test_write(path, b, total);
    free(b);
    free(def);
}

/* t10k images and labels in dir; gz: gzip'd, in `members` gzip members. */
static void write_idx(const char *dir, int gz, int members)
{
    fk_mkdirs(dir);
    size_t ni = 16 + (size_t)IDX_N * IDX_SIDE * IDX_SIDE, nl = 8 + IDX_N;
    uint8_t *img = malloc(ni), lab[8 + IDX_N];
    const uint8_t ih[16] = {0, 0, 8, 3, 0, 0, 0, IDX_N, 0, 0, 0, IDX_SIDE, 0, 0, 0, IDX_SIDE};
    const uint8_t lh[8] = {0, 0, 8, 1, 0, 0, 0, IDX_N};
    memcpy(img, ih, 16);
    memcpy(lab, lh, 8);
    uint32_t x = 12345;
    for (size_t i = 16; i < ni; i++) {
        x = x * 1103515245u + 12345u;
        img[i] = (uint8_t)(x >> 16);
    }
    for (int i = 0; i < IDX_N; i++)
        lab[8 + i] = (uint8_t)(i % 10);
    char p[1024];
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    fk_test_write(p, lab, nl);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte%s", dir, gz ? ".gz" : "");
    if (!gz) {
        fk_test_write(p, img, ni);
    } else if (members == 1) {
        write_gz_straddle(p, img, ni);
    } else {
        size_t at = 0;
        for (int m = 0; m < members; m++) {
            size_t end = m == members - 1 ? ni : ni * (size_t)(m + 1) / (size_t)members;
            gzFile g = gzopen(p, m ? "ab" : "wb");
            if (!g || gzwrite(g, img + at, (unsigned)(end - at)) != (int)(end - at) ||
                gzclose(g) != Z_OK) {
                fprintf(stderr, "cannot write %s\n", p);
                exit(1);
            }
            at = end;
        }
    }
    free(img);
}

/* Flip bit `bit` of byte `at` (from the end when negative) of a file. */
static void flip(const char *path, long at, int bit, const uint8_t *orig, size_t n)
{
    uint8_t *b = malloc(n);
    memcpy(b, orig, n);
    size_t i = at < 0 ? n - (size_t)(-at) : (size_t)at;
    b[i] ^= (uint8_t)(1u << bit);
    fk_test_write(path, b, n);
    free(b);
}

static void test_gzip(void)
{
    char dir[1024], gzpath[1100];
    snprintf(dir, sizeof dir, "%s/idx", root);
    write_idx(dir, 1, 1);
    CHECK(open_split("mnist", dir, 0) == FK_OK, "good gz: %s", fk_last_error());
    snprintf(gzpath, sizeof gzpath, "%s/t10k-images-idx3-ubyte.gz", dir);
    size_t n;
    uint8_t *orig = fk_test_read(gzpath, &n);
    CHECK(orig && n > 64, "read back %s", gzpath);
    if (!orig)
        return;
    /* the trailer: CRC-32 at n-8..n-5, ISIZE at n-4..n-1; the deflate data before */
    const long at[] = {-8, -6, -5, -4, -1, -9, -10, -12, -16, -24, -40, -100};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
        for (int bit = 0; bit < 8; bit += 3) {
            flip(gzpath, at[k], bit, orig, n);
            fk_status s = open_split("mnist", dir, 0);
            CHECK(s == FK_ERR_FORMAT, "bit %d of byte %ld from the end flipped: loads (%d)",
                  bit, at[k], (int)s);
            if (s != FK_OK)
                HAS("t10k-images-idx3-ubyte.gz");
        }
    /* cut short anywhere in the trailer or just before it */
    for (size_t cut = 1; cut <= 9; cut++) {
        fk_test_write(gzpath, orig, n - cut);
        CHECK(open_split("mnist", dir, 0) == FK_ERR_FORMAT, "%zu bytes cut off: loads", cut);
        HAS("t10k-images-idx3-ubyte.gz");
    }
    fk_test_write(gzpath, orig, n);
    free(orig);

    /* two gzip members: the first member's CRC checked too */
    snprintf(dir, sizeof dir, "%s/idx2", root);
    write_idx(dir, 1, 2);
    CHECK(open_split("mnist", dir, 0) == FK_OK, "two members: %s", fk_last_error());
    snprintf(gzpath, sizeof gzpath, "%s/t10k-images-idx3-ubyte.gz", dir);
    orig = fk_test_read(gzpath, &n);
    if (!orig)
        return;
    /* find the second member's magic: the first member's trailer is just before */
    size_t second = 0;
    for (size_t i = 10; i + 2 < n && !second; i++)
        if (orig[i] == 0x1f && orig[i + 1] == 0x8b && orig[i + 2] == 8)
            second = i;
    CHECK(second > 8, "second member found");
    if (second > 8) {
        flip(gzpath, (long)second - 7, 2, orig, n);
        CHECK(open_split("mnist", dir, 0) == FK_ERR_FORMAT, "first member's CRC flipped: loads");
        HAS("t10k-images-idx3-ubyte.gz");
    }
    free(orig);
}

static void write_header(const char *dir, uint32_t n, uint32_t side, uint32_t nlab)
{
    fk_mkdirs(dir);
    uint8_t ih[16] = {0, 0, 8, 3}, lh[8] = {0, 0, 8, 1};
    for (int i = 0; i < 4; i++) {
        ih[4 + i] = (uint8_t)(n >> (24 - 8 * i));
        ih[8 + i] = ih[12 + i] = (uint8_t)(side >> (24 - 8 * i));
        lh[4 + i] = (uint8_t)(nlab >> (24 - 8 * i));
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    fk_test_write(p, ih, 16);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", dir);
    fk_test_write(p, lh, 8);
}

static void test_sizes(void)
{
    char dir[1024];
    /* 4e9 images of 4096 x 4096: 2^56 bytes claimed by a 16-byte file */
    snprintf(dir, sizeof dir, "%s/absurd", root);
    write_header(dir, 0xFFFFFFF0u, 4096, 0xFFFFFFF0u);
    CHECK(open_split("mnist", dir, 0) == FK_ERR_FORMAT, "absurd count: not a format error");
    HAS("cannot hold");
    HAS("t10k-images-idx3-ubyte");
    /* a million 28 x 28 images claimed: refused before allocating 784 MB */
    snprintf(dir, sizeof dir, "%s/million", root);
    write_header(dir, 1000000, 28, 1000000);
    CHECK(open_split("mnist", dir, 0) == FK_ERR_FORMAT, "a million images claimed");
    HAS("cannot hold");
    /* plain files: one byte after the last image is an error */
    snprintf(dir, sizeof dir, "%s/plain", root);
    write_idx(dir, 0, 1);
    CHECK(open_split("mnist", dir, 0) == FK_OK, "plain: %s", fk_last_error());
    char p[1100];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    FILE *f = fopen(p, "ab");
    fputc(0, f);
    fclose(f);
    CHECK(open_split("mnist", dir, 0) == FK_ERR_FORMAT, "trailing byte accepted");
    HAS("after the last record");
}

/* A valid small PNG / JPEG of the fuzz corpus with its header's size set to
 * 9000 x 9000 (81 M pixels, over the limit): refused from the header. */
static void test_image_size(void)
{
    const char *src = getenv("FIGKD_SOURCE_ROOT");
    char p[1024];
    size_t n;
    snprintf(p, sizeof p, "%s/tests/fuzz/corpus/image/rgb.jpg", src ? src : ".");
    uint8_t *b = fk_test_read(p, &n);
    CHECK(b != NULL, "read %s", p);
    size_t i = 2;
    while (b && i + 9 < n && !(b[i] == 0xFF && b[i + 1] == 0xC0))
        i++;
    CHECK(b && i + 9 < n, "SOF0 marker");
    if (!b || i + 9 >= n) {
        free(b);
        return;
    }
    b[i + 5] = b[i + 7] = 9000 >> 8; /* height, width (big-endian) */
    b[i + 6] = b[i + 8] = 9000 & 0xFF;
    snprintf(p, sizeof p, "%s/big.jpg", root);
    fk_test_write(p, b, n);
    free(b);
    uint8_t *buf = NULL;
    size_t cap = 0;
    int h = 0, w = 0;
    CHECK(fk_image_decode_rgb(p, &buf, &cap, &h, &w) == FK_ERR_FORMAT, "huge JPEG");
    HAS("JPEG image of 9000x9000 pixels is over the limit");
    CHECK(cap == 0, "a buffer of %zu bytes was allocated", cap);

    snprintf(p, sizeof p, "%s/tests/fuzz/corpus/image/rgb.png", src ? src : ".");
    b = fk_test_read(p, &n);
    CHECK(b && n > 33, "read %s", p);
    if (!b || n <= 33) {
        free(b);
        return;
    }
    /* IHDR: length(4) "IHDR"(4) width(4) height(4) ... crc over type+data */
    for (int k = 0; k < 2; k++) {
        b[16 + 4 * k] = 0;
        b[17 + 4 * k] = 0;
        b[18 + 4 * k] = 9000 >> 8;
        b[19 + 4 * k] = 9000 & 0xFF;
    }
    uint32_t crc = (uint32_t)crc32(0, b + 12, 17);
    for (int k = 0; k < 4; k++)
        b[29 + k] = (uint8_t)(crc >> (24 - 8 * k));
    snprintf(p, sizeof p, "%s/big.png", root);
    fk_test_write(p, b, n);
    free(b);
    CHECK(fk_image_decode_rgb(p, &buf, &cap, &h, &w) == FK_ERR_FORMAT, "huge PNG");
    HAS("PNG image of 9000x9000 pixels is over the limit");
    CHECK(cap == 0, "a buffer of %zu bytes was allocated", cap);
    free(buf);
}

int main(void)
{
    fk_test_mkdir("data-faults");
    snprintf(root, sizeof root, "%s", fk_test_dir());
    fk_error_quiet(1);
    test_imagefolder_classes();
    test_gzip();
    test_sizes();
    test_image_size();
    fk_error_quiet(0);
    if (!fk_test_failures)
        fk_test_rmdir();
    return fk_test_result("data_faults");
}
