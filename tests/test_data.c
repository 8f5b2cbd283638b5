/* Data module tests on small files in each real format (tests/data_fixtures.py).
 * usage: test_data FIXTURE_DIR TEST; returns 0 on pass, 1 on failure, 77 skip. */
#include "common.h"
#include "data/data_internal.h"
#include "figkd/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *fx;

#define HAS(msg, sub) CHECK(strstr((msg), (sub)) != NULL, "message '%s' lacks '%s'", (msg), (sub))

static void cfg_for(fk_data_config *c, const char *dataset, const char *sub)
{
    fk_data_config_default(c);
    if (fk_data_config_set(c, "dataset", dataset) != FK_OK)
        abort();
    if (sub) {
        char root[FK_DATA_PATH_MAX];
        snprintf(root, sizeof root, "%s/%s", fx, sub);
        fk_data_config_set(c, "root", root);
    }
    fk_data_config_set(c, "workers", "2");
    if (fk_data_config_finish(c) != FK_OK)
        abort();
}

/* cfg_for, then fk_dataset_open of the train (1) or test (0) split. */
static fk_status open_as(fk_data_config *c, const char *dataset, const char *sub, int train, fk_dataset **ds)
{
    cfg_for(c, dataset, sub);
    return fk_dataset_open(c, train, ds);
}

/* open_as the train split, expected to succeed (NULL, with a failed check,
 * otherwise). */
static fk_dataset *open_ok(fk_data_config *c, const char *dataset, const char *sub)
{
    fk_dataset *ds = NULL;
    CHECK(open_as(c, dataset, sub, 1, &ds) == FK_OK, "open %s: %s", sub, fk_last_error());
    return ds;
}

static int cifar_pixel(int i, int ch, int y, int x) { return (i * 31 + ch * 67 + y * 8 + x * 3) % 256; }
static int idx_pixel(int i, int y, int x) { return (i * 7 + y * 28 + x) % 256; }

/* ---- config ---- */
static void test_config(void)
{
    fk_data_config c;
    fk_data_config_default(&c);
    CHECK(fk_data_config_set(&c, "dataset", "cifar1000") == FK_ERR_ARG, "bad dataset");
    HAS(fk_last_error(), "dataset");
    HAS(fk_last_error(), "cifar1000");
    HAS(fk_last_error(), "tinyimagenet");
    CHECK(fk_data_config_set(&c, "augment", "heavy") == FK_ERR_ARG, "bad augment");
    HAS(fk_last_error(), "standard or none");
    CHECK(fk_data_config_set(&c, "workers", "two") == FK_ERR_ARG, "bad workers");
    HAS(fk_last_error(), "workers = 'two'");
    CHECK(fk_data_config_set(&c, "mean", "0.1, 0.2") == FK_ERR_ARG, "two means");
    CHECK(fk_data_config_set(&c, "std", "0.1, 0, 0.3") == FK_ERR_ARG, "zero std");
    CHECK(fk_data_config_set(&c, "channels", "2") == FK_ERR_ARG, "channels 2");
    CHECK(fk_data_config_set(&c, "colour", "yes") == FK_ERR_ARG, "unknown key");
    HAS(fk_last_error(), "colour");
    HAS(fk_last_error(), "input_size");
    CHECK(fk_data_config_set(&c, "mean", "0.1,0.2 , 0.3") == FK_OK, "mean list");
    CHECK(c.n_mean == 3 && fabsf(c.mean[1] - 0.2f) < 1e-7f, "mean parsed");
    CHECK(fk_data_config_set(&c, "shuffle", "false") == FK_OK && !c.shuffle, "shuffle");
    CHECK(fk_data_config_set(&c, "dataset", "fashion-mnist") == FK_OK, "fm");
    c.n_mean = 0;
    CHECK(fk_data_config_finish(&c) == FK_OK, "finish");
    CHECK(!strcmp(c.root, "/usr/share/datasets/fashion-mnist"), "root %s", c.root);
    CHECK(c.input_size == 28 && c.n_mean == 1 && fabsf(c.mean[0] - 0.2860f) < 1e-7f &&
              fabsf(c.std[0] - 0.3530f) < 1e-7f, "fm defaults");
    fk_data_config_default(&c);
    fk_data_config_set(&c, "dataset", "imagefolder");
    CHECK(fk_data_config_finish(&c) == FK_ERR_ARG, "imagefolder needs root");
    HAS(fk_last_error(), "root");
    fk_data_config_set(&c, "root", "/x");
    CHECK(fk_data_config_finish(&c) == FK_OK && c.input_size == 224 && c.resize == 256 &&
              fabsf(c.std[2] - 0.225f) < 1e-7f, "imagefolder defaults");
}

/* ---- readers ---- */
static void test_cifar(void)
{
    fk_data_config c;
    fk_dataset *ds = open_ok(&c, "cifar100", "cifar100");
    if (!ds)
        return;
    CHECK(fk_dataset_count(ds) == 40 && fk_dataset_classes(ds) == 100 &&
              fk_dataset_channels(ds) == 3 && fk_dataset_height(ds) == 32, "shape");
    int bad = 0;
    for (long i = 0; i < 40; i++) {
        fk_image im;
        fk_dataset_get(ds, i, &im, NULL, NULL);
        bad += im.label != (int)(i % 4) * 25;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                for (int ch = 0; ch < 3; ch++)
                    bad += im.pixels[(y * 32 + x) * 3 + ch] != cifar_pixel((int)i, ch, y, x);
    }
    CHECK(bad == 0, "%d wrong labels/pixels", bad);
    fk_dataset_free(ds);
    CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK && fk_dataset_count(ds) == 10 &&
              fk_dataset_label(ds, 3) == 96, "test split");
    fk_dataset_free(ds);

    CHECK(open_as(&c, "cifar10", "cifar10", 1, &ds) == FK_OK && fk_dataset_count(ds) == 20 &&
              fk_dataset_classes(ds) == 10, "cifar10");
    if (ds) {
        CHECK(fk_dataset_label(ds, 0) == 0 && fk_dataset_label(ds, 4) == 4 &&
                  fk_dataset_label(ds, 10) == 0 && fk_dataset_label(ds, 19) == 9,
              "cifar10 batch order");
        fk_image im;
        fk_dataset_get(ds, 5, &im, NULL, NULL);
        CHECK(im.pixels[(2 * 32 + 3) * 3 + 1] == cifar_pixel(1, 1, 2, 3), "cifar10 pixel");
    }
    fk_dataset_free(ds);
    CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK && fk_dataset_count(ds) == 3, "cifar10 test");
    fk_dataset_free(ds);

    fk_error_quiet(1);
    CHECK(open_as(&c, "cifar100", "cifar100_trunc", 1, &ds) == FK_ERR_FORMAT && !ds, "truncated");
    HAS(fk_last_error(), "cifar100_trunc/train.bin");
    HAS(fk_last_error(), "record 3");
    CHECK(open_as(&c, "cifar100", "cifar100_badlabel", 0, &ds) == FK_ERR_FORMAT, "bad label");
    HAS(fk_last_error(), "test.bin: record 3");
    CHECK(open_as(&c, "cifar100", "no-such-dir", 1, &ds) == FK_ERR_IO, "missing");
    HAS(fk_last_error(), "no-such-dir/train.bin");
    HAS(fk_last_error(), "cifar-100-binary.tar.gz");
    CHECK(open_as(&c, "cifar10", "no-such-dir", 1, &ds) == FK_ERR_IO, "missing c10");
    HAS(fk_last_error(), "data_batch_1.bin");
    fk_error_quiet(0);
}

static void test_idx(void)
{
    const char *dirs[] = {"idx_plain", "idx_gz"};
    for (int d = 0; d < 2; d++) {
        fk_data_config c;
        fk_dataset *ds;
        CHECK(open_as(&c, "mnist", dirs[d], 1, &ds) == FK_OK, "%s: %s", dirs[d], fk_last_error());
        if (!ds)
            continue;
        CHECK(fk_dataset_count(ds) == 50 && fk_dataset_channels(ds) == 1 &&
                  fk_dataset_height(ds) == 28 && fk_dataset_width(ds) == 28, "shape");
        int bad = 0;
        for (int i = 0; i < 50; i++) {
            fk_image im;
            fk_dataset_get(ds, i, &im, NULL, NULL);
            bad += im.label != (i * 3) % 10;
            for (int p = 0; p < 784; p++)
                bad += im.pixels[p] != idx_pixel(i, p / 28, p % 28);
        }
        CHECK(bad == 0, "%s: %d wrong", dirs[d], bad);
        fk_dataset_free(ds);
        CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK && fk_dataset_count(ds) == 20, "t10k");
        fk_dataset_free(ds);
    }
    fk_data_config c;
    fk_dataset *ds;
    fk_error_quiet(1);
    CHECK(open_as(&c, "mnist", "idx_trunc", 1, &ds) == FK_ERR_FORMAT && !ds, "truncated");
    HAS(fk_last_error(), "idx_trunc/train-images-idx3-ubyte.gz");
    HAS(fk_last_error(), "image 12");
    CHECK(open_as(&c, "mnist", "idx_corrupt", 1, &ds) == FK_ERR_FORMAT && !ds, "corrupt");
    HAS(fk_last_error(), "idx_corrupt/train-images-idx3-ubyte.gz");
    CHECK(open_as(&c, "fashion-mnist", "no-such-dir", 1, &ds) == FK_ERR_IO, "missing");
    HAS(fk_last_error(), "train-images-idx3-ubyte");
    HAS(fk_last_error(), "dataset-fashion-mnist");
    fk_error_quiet(0);
}

/* expect/<name>.rgb: "h w\n" + bytes */
static uint8_t *read_expect(const char *name, int *h, int *w)
{
    char p[FK_DATA_PATH_MAX];
    snprintf(p, sizeof p, "%s/expect/%s.rgb", fx, name);
    FILE *f = fopen(p, "rb");
    if (!f || fscanf(f, "%d %d", h, w) != 2 || fgetc(f) != '\n') {
        fprintf(stderr, "cannot read %s\n", p);
        if (f)
            fclose(f);
        return NULL;
    }
    size_t n = (size_t)*h * *w * 3;
    uint8_t *b = malloc(n);
    if (fread(b, 1, n, f) != n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static void test_imagefolder(void)
{
    fk_data_config c;
    fk_dataset *ds = open_ok(&c, "imagefolder", "folder");
    if (!ds)
        return;
    CHECK(fk_dataset_count(ds) == 9 && fk_dataset_classes(ds) == 3 &&
              fk_dataset_height(ds) == 0, "count %ld", fk_dataset_count(ds));
    CHECK(!strcmp(fk_dataset_class_name(ds, 0), "apple") &&
              !strcmp(fk_dataset_class_name(ds, 2), "zebra"), "sorted classes");
    const char *cls[] = {"apple", "mango", "zebra"};
    uint8_t *scratch = NULL;
    size_t ss = 0;
    for (long i = 0; i < 9; i++) {
        fk_image im;
        CHECK(fk_dataset_get(ds, i, &im, &scratch, &ss) == FK_OK, "get %ld", i);
        int k = (int)(i % 3);
        CHECK(im.label == (int)(i / 3), "label %ld", i);
        char name[128];
        snprintf(name, sizeof name, "train_%s_%02d_%s", cls[i / 3], k, cls[i / 3]);
        int h, w;
        uint8_t *e = read_expect(name, &h, &w);
        CHECK(e && h == im.h && w == im.w, "%s size %dx%d vs %dx%d", name, w, h, im.w, im.h);
        if (e && h == im.h && w == im.w) {
            int maxd = 0;
            for (int p = 0; p < h * w * 3; p++) {
                int d = abs((int)e[p] - im.pixels[p]);
                maxd = d > maxd ? d : maxd;
            }
            /* PNG exact; JPEG vs PIL's decode (same libjpeg): within 1 */
            CHECK(maxd <= (k % 2 ? 1 : 0), "%s: max diff %d", name, maxd);
        }
        free(e);
    }
    free(scratch);
    fk_dataset_free(ds);
    CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK && fk_dataset_count(ds) == 6, "test split");
    fk_dataset_free(ds);

    fk_error_quiet(1);
    CHECK(open_as(&c, "imagefolder", "no-such-dir", 1, &ds) == FK_ERR_IO, "missing");
    HAS(fk_last_error(), "train/<class>/<image>");
    /* unreadable images: the loader reports the path, in batch order */
    const char *bad[] = {"folder_trunc", "folder_garbage"};
    for (int b = 0; b < 2; b++) {
        cfg_for(&c, "imagefolder", bad[b]);
        c.input_size = 32;
        CHECK(fk_dataset_open(&c, 1, &ds) == FK_OK, "open %s", bad[b]);
        if (!ds)
            continue;
        fk_loader_opts o;
        fk_loader_opts_default(&o);
        o.train = 0;
        o.batch = 1;
        fk_loader *l;
        CHECK(fk_loader_create(ds, &c, &o, &l) == FK_OK, "loader");
        fk_batch bt;
        CHECK(fk_loader_next(l, &bt) == FK_OK && bt.count == 1, "a.png is fine");
        fk_loader_release(l, &bt);
        CHECK(fk_loader_next(l, &bt) == FK_ERR_FORMAT, "b.jpg fails");
        HAS(fk_last_error(), "/train/cls/b.jpg");
        CHECK(fk_loader_next(l, &bt) == FK_ERR_FORMAT, "stays failed");
        fk_loader_free(l);
        fk_dataset_free(ds);
    }
    fk_error_quiet(0);
}

static int same_file_bytes(const char *p, long *size)
{
    struct stat st;
    if (stat(p, &st) != 0)
        return 0;
    *size = (long)st.st_size;
    return 1;
}

static void test_tinyimagenet(void)
{
    fk_data_config c;
    fk_dataset *ds;
    char cache[FK_DATA_PATH_MAX];
    snprintf(cache, sizeof cache, "%s/tiny-imagenet-200/figkd-cache-train.bin", fx);
    remove(cache);
    cfg_for(&c, "tinyimagenet", "tiny-imagenet-200");
    uint8_t *first = NULL;
    for (int round = 0; round < 3; round++) {
        CHECK(fk_dataset_open(&c, 1, &ds) == FK_OK, "open %d: %s", round, fk_last_error());
        if (!ds)
            return;
        CHECK(fk_dataset_count(ds) == 12 && fk_dataset_classes(ds) == 3 &&
                  fk_dataset_height(ds) == 64, "shape");
        CHECK(!strcmp(fk_dataset_class_name(ds, 0), "n01000000"), "sorted wnids");
        int bad = 0;
        for (long i = 0; i < 12; i++) {
            fk_image im;
            fk_dataset_get(ds, i, &im, NULL, NULL);
            /* sorted wnid n0K000000 is class K-1; images K*40 + k*10 */
            int k = (int)(i % 4), want = (int)(i / 4 + 1) * 40 + k * 10;
            bad += im.label != (int)(i / 4);
            for (int p = 0; p < 64 * 64 * 3; p++)
                bad += abs(im.pixels[p] - want) > 1;
        }
        CHECK(bad == 0, "round %d: %d wrong", round, bad);
        long size = 0;
        CHECK(same_file_bytes(cache, &size) && size > 12 * 64 * 64 * 3, "cache written");
        if (round == 0) {
            first = malloc(12 * 64 * 64 * 3);
            memcpy(first, ds->pixels, 12 * 64 * 64 * 3);
        } else {
            CHECK(!memcmp(first, ds->pixels, 12 * 64 * 64 * 3), "cache round %d", round);
        }
        fk_dataset_free(ds);
        if (round == 1) { /* corrupt a payload byte: must be detected and rebuilt */
            FILE *f = fopen(cache, "r+b");
            fseek(f, 100 + 12 * 4 + 5000, SEEK_SET);
            int ch = fgetc(f);
            fseek(f, 100 + 12 * 4 + 5000, SEEK_SET);
            fputc(ch ^ 0x55, f);
            fclose(f);
        }
    }
    free(first);
    CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK && fk_dataset_count(ds) == 6, "val");
    if (ds) {
        /* val_k has wnid wnids.txt[k % 3] = n03, n01, n02 -> 2, 0, 1 */
        CHECK(fk_dataset_label(ds, 0) == 2 && fk_dataset_label(ds, 1) == 0 &&
                  fk_dataset_label(ds, 5) == 1, "val labels");
    }
    fk_dataset_free(ds);
    fk_error_quiet(1);
    CHECK(open_as(&c, "tinyimagenet", "no-such-dir", 1, &ds) == FK_ERR_IO, "missing");
    HAS(fk_last_error(), "wnids.txt");
    HAS(fk_last_error(), "tiny-imagenet-200.zip");
    fk_error_quiet(0);
}

/* ---- augmentation ---- */
static float out_at(const float *o, int S, int ch, int y, int x) { return o[(ch * S + y) * S + x]; }

static void test_augment(void)
{
    /* pad-crop + flip on an image whose pixels encode their coordinates */
    const int S = 32;
    uint8_t src[32 * 32 * 3];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            src[(y * S + x) * 3 + 0] = (uint8_t)(y + 1);
            src[(y * S + x) * 3 + 1] = (uint8_t)(x + 1);
            src[(y * S + x) * 3 + 2] = 200;
        }
    fk_image im = {src, S, S, 3, 0};
    fk_data_config c;
    cfg_for(&c, "cifar100", "cifar100");
    float mean[3] = {0, 0, 0}, sd[3] = {1 / 255.f, 1 / 255.f, 1 / 255.f};
    float *work = malloc(fk_augment_work_floats(S, S, 3, S) * sizeof *work);
    float out[3 * 32 * 32];
    int flips = 0, seen_cy[9] = {0}, bad = 0;
    for (int s = 0; s < 400; s++) {
        fk_rng r = fk_rng_for(7, 0, (uint64_t)s);
        fk_transform t;
        fk_augment_plan(&t, &c, FK_DATASET_CIFAR100, 1, S, S, &r);
        CHECK(t.pad_crop && t.pad == 4 && t.cy >= 0 && t.cy <= 8 && t.cx >= 0 && t.cx <= 8,
              "plan");
        seen_cy[t.cy]++;
        flips += t.flip;
        fk_augment_apply(out, 3, &im, &t, mean, sd, work);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int xs = t.flip ? S - 1 - x : x;
                int sy = y + t.cy - 4, sx = xs + t.cx - 4;
                int in = sy >= 0 && sy < S && sx >= 0 && sx < S;
                bad += fabsf(out_at(out, S, 0, y, x) - (in ? sy + 1 : 0)) > 1e-3f;
                bad += fabsf(out_at(out, S, 1, y, x) - (in ? sx + 1 : 0)) > 1e-3f;
                bad += fabsf(out_at(out, S, 2, y, x) - (in ? 200 : 0)) > 1e-3f;
            }
    }
    CHECK(bad == 0, "pad-crop geometry: %d wrong", bad);
    CHECK(flips > 150 && flips < 250, "flip rate %d/400", flips);
    for (int k = 0; k < 9; k++)
        CHECK(seen_cy[k] > 20, "offset %d drawn %d times", k, seen_cy[k]);
    /* mnist: pad 2, no flip */
    fk_transform t;
    fk_rng r = fk_rng_for(1, 2, 3);
    cfg_for(&c, "mnist", "idx_gz");
    int mnist_flip = 0;
    for (int s = 0; s < 50; s++) {
        fk_augment_plan(&t, &c, FK_DATASET_MNIST, 1, 28, 28, &r);
        mnist_flip += t.flip;
        CHECK(t.pad == 2 && t.cy <= 4, "mnist pad");
    }
    CHECK(mnist_flip == 0, "mnist never flips");
    fk_augment_plan(&t, &c, FK_DATASET_MNIST, 0, 28, 28, &r);
    CHECK(!t.pad_crop && !t.resize && !t.flip, "eval identity");

    /* RandomResizedCrop parameters */
    for (int s = 0; s < 2000; s++) {
        fk_rng q = fk_rng_for(3, 0, (uint64_t)s);
        int i, j, ch, cw;
        fk_rrc_params(&q, 300, 400, &i, &j, &ch, &cw);
        double frac = (double)ch * cw / (300.0 * 400.0), ratio = (double)cw / ch;
        CHECK(i >= 0 && j >= 0 && i + ch <= 300 && j + cw <= 400, "inside");
        CHECK(frac > 0.075 && frac <= 1.0 && ratio > 0.70 && ratio < 1.40,
              "frac %.3f ratio %.3f", frac, ratio);
        if (fk_test_failures > 10)
            break;
    }
    {
        fk_rng q = fk_rng_for(3, 0, 0);
        int i, j, ch, cw;
        fk_rrc_params(&q, 10, 1000, &i, &j, &ch, &cw); /* no attempt fits: fallback */
        CHECK(i == 0 && ch == 10 && cw == 13 && j == 493, "fallback %d %d %d %d", i, j, ch, cw);
        fk_rrc_params(&q, 1000, 10, &i, &j, &ch, &cw);
        CHECK(j == 0 && cw == 10 && ch == 13 && i == 493, "fallback tall");
    }
    CHECK(fk_half_round_even(2) == 1 && fk_half_round_even(1) == 0 &&
              fk_half_round_even(3) == 2 && fk_half_round_even(5) == 2, "round half even");

    /* bilinear resample vs PIL (crop then resize; and resize then center crop) */
    int h, w, eh, ew;
    uint8_t *rs = read_expect("resize_src", &h, &w);
    struct {
        const char *name;
        int bx, by, bw, bh, fh, fw, wx, wy;
    } cases[] = {
        {"resize_crop", 5, 3, 24, 20, 16, 16, 0, 0},
        {"resize_up", 1, 2, 7, 9, 16, 16, 0, 0},
        {"resize_eval", 0, 0, 40, 30, 18, 24, 4, 1},
    };
    float *tmp = malloc(30 * 24 * 3 * sizeof *tmp), res[16 * 16 * 3];
    for (int k = 0; k < 3 && rs; k++) {
        uint8_t *e = read_expect(cases[k].name, &eh, &ew);
        if (!e)
            continue;
        fk_resample_bilinear(res, rs, h, w, 3, cases[k].bx, cases[k].by, cases[k].bw,
                             cases[k].bh, cases[k].fh, cases[k].fw, cases[k].wx, cases[k].wy,
                             16, 16, tmp);
        float maxd = 0;
        for (int p = 0; p < 16 * 16 * 3; p++)
            maxd = fmaxf(maxd, fabsf(res[p] - e[p]));
        /* PIL rounds to uint8 between its two passes and at the end */
        CHECK(maxd <= 1.5f, "%s: max diff vs PIL %.3f", cases[k].name, maxd);
        free(e);
    }
    /* the eval plan of a 30x40 imagefolder image at input 16, resize 18 */
    fk_data_config_default(&c);
    fk_data_config_set(&c, "dataset", "imagefolder");
    fk_data_config_set(&c, "root", "/x");
    fk_data_config_set(&c, "input_size", "16");
    fk_data_config_set(&c, "resize", "18");
    fk_data_config_finish(&c);
    fk_augment_plan(&t, &c, FK_DATASET_IMAGEFOLDER, 0, 30, 40, &r);
    CHECK(t.resize && t.fh == 18 && t.fw == 24 && t.wy == 1 && t.wx == 4 && !t.flip,
          "eval plan %d %d %d %d", t.fh, t.fw, t.wy, t.wx);
    if (rs) {
        uint8_t *e = read_expect("resize_eval", &eh, &ew);
        fk_image ri = {rs, h, w, 3, 0};
        float *wk = malloc(fk_augment_work_floats(h, w, 3, 16) * sizeof *wk);
        float o2[3 * 16 * 16];
        fk_augment_apply(o2, 3, &ri, &t, mean, sd, wk);
        float maxd = 0;
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < 256; p++)
                maxd = fmaxf(maxd, fabsf(o2[ch * 256 + p] - e[p * 3 + ch]));
        CHECK(maxd <= 1.5f, "eval apply vs PIL %.3f", maxd);
        free(wk);
        free(e);
    }
    free(tmp);
    free(rs);
    free(work);
}

/* ---- loader ---- */
typedef struct run {
    float *img;
    int32_t *lab;
    long n_batches, floats;
} run;

static fk_status collect_opts(fk_dataset *ds, fk_data_config *c, const fk_loader_opts *o, int epochs, run *out);

/* All batches of `epochs` epochs from (epoch, start), flattened; with views
 * 2, each batch's weak then strong images. */
static fk_status collect_views(fk_dataset *ds, fk_data_config *c, int train, int batch, int workers,
                               long epoch, long start, int epochs, int views, run *out)
{
    c->workers = workers;
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.views = views;
    o.train = train;
    o.batch = batch;
    o.seed = 1234;
    o.epoch = epoch;
    o.start_batch = start;
    return collect_opts(ds, c, &o, epochs, out);
}

/* The same with every loader option given. */
static fk_status collect_opts(fk_dataset *ds, fk_data_config *c, const fk_loader_opts *o, int epochs, run *out)
{
    const int batch = o->batch;
    fk_loader *l;
    fk_status s = fk_loader_create(ds, c, o, &l);
    if (s != FK_OK)
        return s;
    memset(out, 0, sizeof *out);
    int ends = 0;
    long cap = 0;
    while (ends < epochs) {
        fk_batch b;
        s = fk_loader_next(l, &b);
        if (s != FK_OK)
            break;
        if (b.end_of_epoch) {
            ends++;
            continue;
        }
        long f = (long)b.views * b.count * b.c * b.h * b.w;
        if (out->floats + f > cap) {
            cap = (out->floats + f) * 2;
            out->img = realloc(out->img, (size_t)cap * sizeof(float));
            out->lab = realloc(out->lab, (size_t)cap * sizeof(int32_t));
        }
        memcpy(out->img + out->floats, b.images, (size_t)f * sizeof(float));
        memcpy(out->lab + out->n_batches * batch, b.labels, (size_t)b.count * sizeof(int32_t));
        out->floats += f;
        out->n_batches++;
        fk_loader_release(l, &b);
    }
    fk_loader_free(l);
    return s;
}

static fk_status collect(fk_dataset *ds, fk_data_config *c, int train, int batch, int workers,
                         long epoch, long start, int epochs, run *out)
{
    return collect_views(ds, c, train, batch, workers, epoch, start, epochs, 1, out);
}

static void run_free(run *r)
{
    free(r->img);
    free(r->lab);
}

/* Two views: each batch the one-view loader's images (the weak views),
 * then a strong view of each same sample, the same whatever the worker
 * count and on resume; the strong views differ from the weak ones and stay
 * in the normalised range of 8-bit pixels; evaluation ignores views. */
static void test_views(void)
{
    fk_data_config c;
    fk_dataset *ds;
    CHECK(open_as(&c, "cifar100", "cifar100", 1, &ds) == FK_OK, "open");
    if (!ds)
        return;
    run one, w1, w3, rr;
    const long per = 6L * 3 * 32 * 32;
    CHECK(collect(ds, &c, 1, 6, 2, 0, 0, 2, &one) == FK_OK, "one view");
    CHECK(collect_views(ds, &c, 1, 6, 1, 0, 0, 2, 2, &w1) == FK_OK, "two views, 1 worker");
    CHECK(collect_views(ds, &c, 1, 6, 3, 0, 0, 2, 2, &w3) == FK_OK, "two views, 3 workers");
    CHECK(w1.n_batches == one.n_batches && w1.floats == 2 * one.floats, "%ld batches, %ld floats", w1.n_batches,
          w1.floats);
    CHECK(w1.floats == w3.floats && !memcmp(w1.img, w3.img, (size_t)w1.floats * 4), "workers 1/3 differ");
    int weak_same = 1, strong_differs = 0, in_range = 1;
    float lo = (0.0f - c.mean[0]) / c.std[0], hi = (1.0f - c.mean[0]) / c.std[0];
    for (int ch = 1; ch < 3; ch++) {
        lo = fminf(lo, (0.0f - c.mean[ch]) / c.std[ch]);
        hi = fmaxf(hi, (1.0f - c.mean[ch]) / c.std[ch]);
    }
    for (long b = 0; b < w1.n_batches && w1.floats == 2 * one.floats; b++) {
        const float *weak = w1.img + 2 * b * per, *strong = weak + per;
        weak_same &= !memcmp(weak, one.img + b * per, (size_t)per * 4);
        strong_differs += memcmp(weak, strong, (size_t)per * 4) != 0;
        for (long i = 0; i < per; i++)
            in_range &= strong[i] >= lo - 1e-5f && strong[i] <= hi + 1e-5f;
    }
    CHECK(weak_same, "the weak views are not the one-view loader's batches");
    CHECK(strong_differs == w1.n_batches, "%d of %ld strong batches differ from the weak", strong_differs,
          w1.n_batches);
    CHECK(in_range, "a strong view outside [%g, %g]", (double)lo, (double)hi);
    CHECK(!memcmp(w1.lab, one.lab, (size_t)one.n_batches * 6 * 4), "labels differ");
    /* resume at (1, 2) = the uninterrupted sequence from batch 8 */
    CHECK(collect_views(ds, &c, 1, 6, 2, 1, 2, 1, 2, &rr) == FK_OK, "resume");
    CHECK(rr.n_batches == 4 && !memcmp(rr.img, w1.img + 8 * 2 * per, (size_t)(4 * 2 * per) * 4), "resume differs");
    run_free(&rr);
    run_free(&one);
    run_free(&w1);
    run_free(&w3);
    fk_dataset_free(ds);
    /* evaluation: one view */
    CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK, "open test");
    run ev;
    CHECK(collect_views(ds, &c, 0, 4, 1, 0, 0, 1, 2, &ev) == FK_OK &&
              ev.floats == fk_dataset_count(ds) * 3 * 32 * 32,
          "evaluation with views 2: %ld floats for %ld images", ev.floats, fk_dataset_count(ds));
    run_free(&ev);
    fk_dataset_free(ds);
}

static void test_loader(void)
{
    fk_data_config c;
    fk_dataset *ds;
    CHECK(open_as(&c, "cifar100", "cifar100", 1, &ds) == FK_OK, "open");
    if (!ds)
        return;
    /* same batches whatever the worker count */
    run r1, r2, r4;
    CHECK(collect(ds, &c, 1, 6, 1, 0, 0, 2, &r1) == FK_OK, "w1");
    CHECK(collect(ds, &c, 1, 6, 2, 0, 0, 2, &r2) == FK_OK, "w2");
    CHECK(collect(ds, &c, 1, 6, 4, 0, 0, 2, &r4) == FK_OK, "w4");
    CHECK(r1.n_batches == 12 && r1.floats == 12L * 6 * 3 * 32 * 32, "drop last: %ld batches",
          r1.n_batches);
    CHECK(r1.floats == r2.floats && r1.floats == r4.floats &&
              !memcmp(r1.img, r2.img, (size_t)r1.floats * 4) &&
              !memcmp(r1.img, r4.img, (size_t)r1.floats * 4) &&
              !memcmp(r1.lab, r4.lab, 72 * 4), "workers 1/2/4 differ");
    /* epochs differ (reshuffled) and the shuffle is a permutation */
    CHECK(memcmp(r1.img, r1.img + r1.floats / 2, (size_t)r1.floats / 2 * 4) != 0,
          "epoch 1 repeats epoch 0");
    /* resume at (1, 2) = the uninterrupted sequence from batch 8 */
    run rr;
    CHECK(collect(ds, &c, 1, 6, 3, 1, 2, 1, &rr) == FK_OK, "resume");
    long per = 6L * 3 * 32 * 32;
    CHECK(rr.n_batches == 4 && !memcmp(rr.img, r1.img + 8 * per, (size_t)(4 * per) * 4) &&
              !memcmp(rr.lab, r1.lab + 48, 24 * 4), "resume differs");
    run_free(&rr);
    run_free(&r2);
    run_free(&r4);
    /* a different seed gives different batches */
    run_free(&r1);
    fk_dataset_free(ds);

    /* eval keeps the last partial batch, no shuffle, no augmentation: check
     * normalised values exactly */
    CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK, "open test");
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.train = 0;
    o.batch = 4;
    fk_loader *l;
    CHECK(fk_loader_create(ds, &c, &o, &l) == FK_OK, "eval loader");
    CHECK(fk_loader_batches_per_epoch(l) == 3, "keep last");
    int counts[4] = {0}, bad = 0;
    for (int k = 0; k < 4; k++) {
        fk_batch b;
        CHECK(fk_loader_next(l, &b) == FK_OK, "next");
        if (k == 3) {
            CHECK(b.end_of_epoch && b.count == 0 && b.epoch == 0, "end of epoch");
            break;
        }
        counts[k] = b.count;
        for (int s = 0; s < b.count; s++) {
            int i = k * 4 + s;
            bad += b.labels[s] != 99 - i;
            for (int ch = 0; ch < 3; ch++)
                for (int p = 0; p < 1024; p += 37) {
                    float want = ((float)cifar_pixel(i, ch, p / 32, p % 32) / 255.0f -
                                  c.mean[ch]) / c.std[ch];
                    float got = b.images[((size_t)s * 3 + ch) * 1024 + p];
                    bad += fabsf(got - want) > 1e-5f;
                }
        }
        fk_loader_release(l, &b);
    }
    CHECK(counts[0] == 4 && counts[1] == 4 && counts[2] == 2, "eval counts");
    CHECK(bad == 0, "normalised values: %d wrong", bad);
    /* stop mid-epoch with batches held and workers blocked on a full ring */
    fk_batch held;
    fk_loader_next(l, &held);
    fk_loader_free(l);
    fk_dataset_free(ds);

    /* grey -> 3 channels, mean/std repeated */
    cfg_for(&c, "mnist", "idx_gz");
    fk_data_config_set(&c, "channels", "3");
    CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK, "mnist");
    CHECK(fk_loader_create(ds, &c, &o, &l) == FK_OK, "mnist loader");
    fk_batch b;
    CHECK(fk_loader_next(l, &b) == FK_OK && b.c == 3 && b.h == 28, "3 channels");
    bad = 0;
    for (int p = 0; p < 784; p++) {
        float want = ((float)idx_pixel(1, p / 28, p % 28) / 255.0f - 0.1307f) / 0.3081f;
        for (int ch = 0; ch < 3; ch++)
            bad += fabsf(b.images[(3 + ch) * 784 + p] - want) > 1e-5f;
    }
    CHECK(bad == 0, "repeated channels: %d wrong", bad);
    fk_loader_release(l, &b);
    fk_loader_free(l);
    fk_dataset_free(ds);

    /* colour with channels = 1 is an error naming the key */
    fk_error_quiet(1);
    cfg_for(&c, "cifar10", "cifar10");
    fk_data_config_set(&c, "channels", "1");
    CHECK(fk_dataset_open(&c, 1, &ds) == FK_ERR_ARG && !ds, "channels = 1 on colour");
    HAS(fk_last_error(), "channels");
    /* batch larger than a training set */
    cfg_for(&c, "cifar10", "cifar10");
    fk_dataset_open(&c, 1, &ds);
    o.train = 1;
    o.batch = 21;
    CHECK(fk_loader_create(ds, &c, &o, &l) == FK_ERR_ARG, "batch > n");
    fk_dataset_free(ds);
    fk_error_quiet(0);
}

/* Data-parallel shards: in training, shard k of 2 at batch 3 reads rows
 * [3k, 3k + 3) of every global batch of 6 (the 1-process batches at 6,
 * same permutation and augmentation); in evaluation, contiguous halves. */
static void test_loader_shards(void)
{
    fk_data_config c;
    fk_dataset *ds;
    CHECK(open_as(&c, "cifar100", "cifar100", 1, &ds) == FK_OK, "open");
    if (!ds)
        return;
    run whole, part[2];
    CHECK(collect(ds, &c, 1, 6, 2, 0, 0, 2, &whole) == FK_OK, "1 shard");
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.batch = 3;
    o.seed = 1234;
    o.shards = 2;
    for (int k = 0; k < 2; k++) {
        o.shard = k;
        CHECK(collect_opts(ds, &c, &o, 2, &part[k]) == FK_OK, "shard %d", k);
    }
    long img = 3L * 32 * 32, bad = 0;
    CHECK(part[0].n_batches == whole.n_batches && part[1].n_batches == whole.n_batches, "batches %ld, %ld of %ld",
          part[0].n_batches, part[1].n_batches, whole.n_batches);
    for (long b = 0; b < whole.n_batches && part[1].n_batches == whole.n_batches; b++)
        for (int k = 0; k < 2; k++) {
            bad += memcmp(part[k].img + b * 3 * img, whole.img + (b * 6 + 3 * k) * img, (size_t)(3 * img) * 4) != 0;
            bad += memcmp(part[k].lab + b * 3, whole.lab + b * 6 + 3 * k, 3 * 4) != 0;
        }
    CHECK(bad == 0, "%ld shard batches differ from their half of the global batch", bad);
    for (int k = 0; k < 2; k++)
        run_free(&part[k]);
    run_free(&whole);
    o.shard = 2;
    fk_loader *l;
    fk_error_quiet(1);
    CHECK(fk_loader_create(ds, &c, &o, &l) == FK_ERR_ARG, "shard 2 of 2");
    fk_error_quiet(0);
    fk_dataset_free(ds);

    /* evaluation: 10 test images, rows 0-4 and 5-9 (labels 99 - i) */
    CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK, "open test");
    o.train = 0;
    o.batch = 4;
    int rows[2] = {0};
    for (int k = 0; k < 2; k++) {
        o.shard = k;
        CHECK(fk_loader_create(ds, &c, &o, &l) == FK_OK, "eval shard %d", k);
        CHECK(fk_loader_batches_per_epoch(l) == 2, "eval shard %d: %ld batches", k, fk_loader_batches_per_epoch(l));
        for (;;) {
            fk_batch b;
            if (fk_loader_next(l, &b) != FK_OK || b.end_of_epoch)
                break;
            for (int s = 0; s < b.count; s++)
                CHECK(b.labels[s] == 99 - (5 * k + rows[k] + s), "eval shard %d row %d: label %d", k, rows[k] + s,
                      b.labels[s]);
            rows[k] += b.count;
            fk_loader_release(l, &b);
        }
        fk_loader_free(l);
    }
    CHECK(rows[0] == 5 && rows[1] == 5, "eval shards: %d and %d rows", rows[0], rows[1]);
    fk_dataset_free(ds);
}

static void test_subset(void)
{
    fk_data_config c;
    fk_dataset *ds;
    cfg_for(&c, "cifar10", "cifar10");
    fk_data_config_set(&c, "subset", "10");
    CHECK(fk_dataset_open(&c, 1, &ds) == FK_OK && fk_dataset_count(ds) == 10, "subset 10");
    if (ds) {
        /* labels (4 (k - 1) + i) % 10 for record i of batch file k: the first of each
         * class in file order are the first 10 records */
        int seen[10] = {0}, bad = 0;
        for (long i = 0; i < 10; i++)
            seen[fk_dataset_label(ds, i)]++;
        for (int k = 0; k < 10; k++)
            bad += seen[k] != 1;
        CHECK(bad == 0, "one per class");
        fk_image im;
        fk_dataset_get(ds, 4, &im, NULL, NULL);
        CHECK(im.label == 4 && im.pixels[5] == cifar_pixel(0, 2, 0, 1), "batch 2 record 0");
        fk_dataset_get(ds, 9, &im, NULL, NULL);
        CHECK(im.label == 9 && im.pixels[5] == cifar_pixel(1, 2, 0, 1), "batch 3 record 1");
    }
    fk_dataset_free(ds);
    cfg_for(&c, "cifar10", "cifar10");
    fk_data_config_set(&c, "subset", "15"); /* 2 per class for the first 5 classes */
    CHECK(fk_dataset_open(&c, 1, &ds) == FK_OK && fk_dataset_count(ds) == 15, "subset 15");
    if (ds) {
        int seen[10] = {0};
        for (long i = 0; i < 15; i++)
            seen[fk_dataset_label(ds, i)]++;
        CHECK(seen[0] == 2 && seen[4] == 2 && seen[5] == 1 && seen[9] == 1, "balance");
        /* the second images of classes 0, 1 are records 2, 3 of batch 3 */
        fk_image im;
        fk_dataset_get(ds, 10, &im, NULL, NULL);
        CHECK(im.label == 0 && im.pixels[0] == cifar_pixel(2, 0, 0, 0), "second of class 0");
    }
    fk_dataset_free(ds);
    fk_error_quiet(1);
    cfg_for(&c, "cifar10", "cifar10");
    fk_data_config_set(&c, "subset", "5");
    CHECK(fk_dataset_open(&c, 1, &ds) == FK_ERR_ARG, "subset < classes");
    fk_error_quiet(0);
}

static int n_alloc, n_free;
static void *count_alloc(void *ctx, size_t n)
{
    (void)ctx;
    n_alloc++;
    return malloc(n);
}
static void count_free(void *ctx, void *p)
{
    (void)ctx;
    n_free++;
    free(p);
}

static void test_allocator(void)
{
    fk_data_config c;
    fk_dataset *ds;
    cfg_for(&c, "cifar100", "cifar100");
    fk_dataset_open(&c, 1, &ds);
    fk_allocator a = {count_alloc, count_free, NULL};
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.batch = 8;
    o.ring = 3;
    o.allocator = &a;
    fk_loader *l;
    CHECK(fk_loader_create(ds, &c, &o, &l) == FK_OK, "create");
    fk_batch b;
    for (int k = 0; k < 7; k++) {
        CHECK(fk_loader_next(l, &b) == FK_OK, "next");
        fk_loader_release(l, &b);
    }
    fk_loader_free(l);
    CHECK(n_alloc == 3 && n_free == 3, "allocator used %d/%d", n_alloc, n_free);
    fk_dataset_free(ds);
}

static void test_fashion_mnist(void)
{
    fk_data_config c;
    fk_dataset *ds;
    fk_data_config_default(&c);
    fk_data_config_set(&c, "dataset", "fashion-mnist");
    fk_data_config_finish(&c);
    struct stat st;
    if (stat(c.root, &st) != 0) {
        printf("SKIP: %s not installed\n", c.root);
        exit(77);
    }
    CHECK(fk_dataset_open(&c, 1, &ds) == FK_OK && fk_dataset_count(ds) == 60000 &&
              fk_dataset_classes(ds) == 10, "train");
    if (!ds)
        return;
    long per[10] = {0};
    for (long i = 0; i < 60000; i++)
        per[fk_dataset_label(ds, i)]++;
    for (int k = 0; k < 10; k++)
        CHECK(per[k] == 6000, "class %d has %ld", k, per[k]);
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.batch = 128;
    fk_loader *l;
    CHECK(fk_loader_create(ds, &c, &o, &l) == FK_OK, "loader");
    double sum = 0;
    long cnt = 0;
    for (int k = 0; k < 50; k++) {
        fk_batch b;
        CHECK(fk_loader_next(l, &b) == FK_OK && b.count == 128, "batch");
        for (long p = 0; p < 128L * 784; p++)
            sum += b.images[p];
        cnt += 128L * 784;
        fk_loader_release(l, &b);
    }
    fk_loader_free(l);
    /* normalised with the data set's own mean/std; zero padding pulls it below 0 */
    double m = sum / cnt;
    CHECK(m > -0.3 && m < 0.1, "mean of normalised batches %.3f", m);
    fk_dataset_free(ds);
    CHECK(fk_dataset_open(&c, 0, &ds) == FK_OK && fk_dataset_count(ds) == 10000, "test");
    fk_dataset_free(ds);
}

int main(int argc, char **argv)
{
    static const fk_test_named tests[] = {
        {"config", test_config}, {"cifar", test_cifar}, {"idx", test_idx},
        {"imagefolder", test_imagefolder}, {"tinyimagenet", test_tinyimagenet},
        {"augment", test_augment}, {"loader", test_loader}, {"loader_shards", test_loader_shards},
        {"subset", test_subset}, {"allocator", test_allocator}, {"fashion-mnist", test_fashion_mnist},
        {"views", test_views},
    };
    return fk_test_main_named(argc, argv, "test_data", &fx, tests, sizeof tests / sizeof tests[0]);
}
