/* Readers of the data sets' layouts as downloaded, on small files in each
 * real format (tests/data_fixtures.py): torchvision's pickled CIFAR (as
 * Python 2 wrote it and as Python 3's pickle.dump at protocol 2 writes it),
 * CUB-200-2011, Stanford Dogs (MATLAB v5 lists, compressed or not, and text
 * lists), MIT Indoor-67 and Stanford 40 Actions, with a broken file of each.
 * usage: test_data_layouts FIXTURE_DIR TEST */
#include "common.h"
#include "data/layouts.h"
#include "figkd/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *fx;

#define HAS(msg, sub) CHECK(strstr((msg), (sub)) != NULL, "message '%s' lacks '%s'", (msg), (sub))

static void cfg_for(fk_data_config *c, const char *dataset, const char *sub)
{
    char root[FK_DATA_PATH_MAX];
    fk_data_config_default(c);
    snprintf(root, sizeof root, "%s/%s", fx, sub);
    if (fk_data_config_set(c, "dataset", dataset) != FK_OK ||
        fk_data_config_set(c, "root", root) != FK_OK ||
        fk_data_config_set(c, "workers", "1") != FK_OK || fk_data_config_finish(c) != FK_OK)
        abort();
}

static int cifar_pixel(int i, int ch, int y, int x) { return (i * 31 + ch * 67 + y * 8 + x * 3) % 256; }

/* Every pixel of image i of ds against image `first + i` of the pattern. */
static int cifar_bad_pixels(const fk_dataset *ds, long i, int pattern)
{
    fk_image im;
    if (fk_dataset_get(ds, i, &im, NULL, NULL) != FK_OK)
        return 1;
    int bad = 0;
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++)
            for (int ch = 0; ch < 3; ch++)
                bad += im.pixels[(y * 32 + x) * 3 + ch] != cifar_pixel(pattern, ch, y, x);
    return bad;
}

/* Open a split expecting success (NULL after a failed CHECK). */
static fk_dataset *open_ok(const fk_data_config *c, int train)
{
    fk_dataset *ds = NULL;
    fk_status s = fk_dataset_open(c, train, &ds);
    CHECK(s == FK_OK, "%s %s: %s", c->root, train ? "train" : "test", fk_last_error());
    return s == FK_OK ? ds : NULL;
}

/* Open a split expecting failure with status want and every piece in the message. */
static void open_fails(const char *dataset, const char *sub, int train, fk_status want,
                       const char *const *pieces)
{
    fk_data_config c;
    fk_dataset *ds = NULL;
    cfg_for(&c, dataset, sub);
    fk_error_quiet(1);
    fk_status s = fk_dataset_open(&c, train, &ds);
    fk_error_quiet(0);
    CHECK(s == want && !ds, "%s: status %d, expected %d", sub, (int)s, (int)want);
    for (; *pieces; pieces++)
        HAS(fk_last_error(), *pieces);
    fk_dataset_free(ds);
}

static void test_cifar100_pickle(void)
{
    fk_data_config c;
    /* root = the folder holding cifar-100-python/, then cifar-100-python/ itself */
    const char *roots[] = {"c100py_holder", "c100py_holder/cifar-100-python"};
    for (int r = 0; r < 2; r++) {
        cfg_for(&c, "cifar100", roots[r]);
        fk_dataset *ds = open_ok(&c, 1);
        if (!ds)
            continue;
        CHECK(fk_dataset_count(ds) == 8 && fk_dataset_classes(ds) == 100 &&
                  fk_dataset_height(ds) == 32 && fk_dataset_channels(ds) == 3, "shape");
        HAS(fk_dataset_layout(ds), "CIFAR-100 Python version");
        int bad = 0;
        for (long i = 0; i < 8; i++) {
            bad += fk_dataset_label(ds, i) != (int)(13 * i % 100);
            bad += cifar_bad_pixels(ds, i, (int)i);
        }
        CHECK(bad == 0, "%d wrong labels/pixels", bad);
        CHECK(!strcmp(fk_dataset_class_name(ds, 13), "class13"), "meta names: '%s'",
              fk_dataset_class_name(ds, 13));
        fk_dataset_free(ds);
        ds = open_ok(&c, 0);
        if (ds) {
            CHECK(fk_dataset_count(ds) == 4 && fk_dataset_label(ds, 3) == 39 &&
                      cifar_bad_pixels(ds, 2, 102) == 0, "test split");
            fk_dataset_free(ds);
        }
    }
    /* the binary version in its archive's folder is still read */
    cfg_for(&c, "cifar100", "c100bin_holder");
    fk_dataset *ds = open_ok(&c, 1);
    if (ds) {
        CHECK(fk_dataset_count(ds) == 6 && fk_dataset_label(ds, 5) == 35 &&
                  cifar_bad_pixels(ds, 4, 4) == 0, "binary in cifar-100-binary/");
        HAS(fk_dataset_layout(ds), "CIFAR-100 binary");
        fk_dataset_free(ds);
    }
    /* the binary version in root: unchanged */
    cfg_for(&c, "cifar100", "cifar100");
    if ((ds = open_ok(&c, 1))) {
        HAS(fk_dataset_layout(ds), "binary");
        fk_dataset_free(ds);
    }
}

static void test_cifar10_pickle(void)
{
    fk_data_config c;
    cfg_for(&c, "cifar10", "c10py");
    fk_dataset *ds = open_ok(&c, 1);
    if (!ds)
        return;
    /* batches 1, 3, 5 written as Python 2 did, 2 and 4 by Python 3 (4 with numpy
     * int64 scalars as labels) */
    CHECK(fk_dataset_count(ds) == 15 && fk_dataset_classes(ds) == 10, "count %ld",
          fk_dataset_count(ds));
    int bad = 0;
    for (long i = 0; i < 15; i++) {
        bad += fk_dataset_label(ds, i) != (int)(i % 10);
        bad += cifar_bad_pixels(ds, i, (int)i);
    }
    CHECK(bad == 0, "%d wrong labels/pixels", bad);
    CHECK(!strcmp(fk_dataset_class_name(ds, 9), "truck"), "names");
    HAS(fk_dataset_layout(ds), "cifar-10-batches-py");
    fk_dataset_free(ds);
    if ((ds = open_ok(&c, 0))) {
        CHECK(fk_dataset_count(ds) == 2 && fk_dataset_label(ds, 0) == 9 &&
                  cifar_bad_pixels(ds, 1, 51) == 0, "test batch (Python 3, int64 array labels)");
        fk_dataset_free(ds);
    }
}

static void test_pickle_errors(void)
{
    open_fails("cifar100", "c100py_trunc", 1, FK_ERR_FORMAT,
               (const char *[]){"c100py_trunc/train", "truncated", NULL});
    char at[64] = "", where[80];
    char p[FK_DATA_PATH_MAX];
    snprintf(p, sizeof p, "%s/c100py_badopcode_at.txt", fx);
    FILE *f = fopen(p, "r");
    CHECK(f && fgets(at, sizeof at, f), "%s", p);
    if (f)
        fclose(f);
    snprintf(where, sizeof where, "train: byte %s: unsupported pickle opcode 0xff", at);
    open_fails("cifar100", "c100py_opcode", 1, FK_ERR_FORMAT,
               (const char *[]){"c100py_opcode/", where, NULL});
    open_fails("cifar100", "c100py_label", 1, FK_ERR_FORMAT,
               (const char *[]){"c100py_label/train", "b'fine_labels'[1] is 100", NULL});
    open_fails("cifar100", "c100py_shape", 1, FK_ERR_FORMAT,
               (const char *[]){"c100py_shape/train", "(N, 3072)", NULL});
    open_fails("cifar100", "c100py_global", 1, FK_ERR_FORMAT,
               (const char *[]){"c100py_global/train", "'os system'", "refused", NULL});
    /* the training file exists, the test file does not */
    open_fails("cifar100", "c100py_label", 0, FK_ERR_IO,
               (const char *[]){"c100py_label/test", NULL});
    open_fails("cifar100", "no-such-dir", 1, FK_ERR_IO,
               (const char *[]){"no-such-dir/train.bin", "cifar-100-binary.tar.gz",
                                "cifar-100-python", NULL});
    open_fails("cifar10", "no-such-dir", 1, FK_ERR_IO,
               (const char *[]){"data_batch_1.bin", "cifar-10-batches-py", NULL});

    /* the walker on its own: a list with a memo reference, a LONG1 */
    static const uint8_t ok[] = "\x80\x02]q\x00(K\x05h\x00\x8a\x02\x00\x80" "e.";
    fk_pickle *pk;
    CHECK(fk_pickle_parse("mem", ok, sizeof ok - 1, &pk) == FK_OK, "%s", fk_last_error());
    if (pk) {
        const fk_pk_node *l = &pk->nodes[pk->root];
        CHECK(l->type == FK_PK_LIST && l->n == 3 && pk->nodes[l->items[0]].i == 5 &&
                  l->items[1] == pk->root && pk->nodes[l->items[2]].i == -32768, "values");
        fk_pickle_free(pk);
    }
    static const uint8_t nostop[] = "\x80\x02]q\x00";
    fk_error_quiet(1);
    CHECK(fk_pickle_parse("mem", nostop, sizeof nostop - 1, &pk) == FK_ERR_FORMAT, "no STOP");
    HAS(fk_last_error(), "no STOP");
    static const uint8_t p4[] = "\x80\x04K\x01.";
    CHECK(fk_pickle_parse("mem", p4, sizeof p4 - 1, &pk) == FK_ERR_FORMAT, "protocol 4");
    HAS(fk_last_error(), "mem: byte 0: pickle protocol 4");
    fk_error_quiet(0);
}

/* Labels, class names, image paths and sizes of an image-list layout. */
static void check_split(const fk_data_config *c, int train, long n, const int *labels,
                        int classes, const char *const *names, const char *layout_piece)
{
    fk_dataset *ds = open_ok(c, train);
    if (!ds)
        return;
    CHECK(fk_dataset_count(ds) == n && fk_dataset_classes(ds) == classes,
          "%s: %ld images of %d classes", c->root, fk_dataset_count(ds), fk_dataset_classes(ds));
    for (long i = 0; i < n && i < fk_dataset_count(ds); i++)
        CHECK(fk_dataset_label(ds, i) == labels[i], "%s: image %ld label %d, expected %d",
              c->root, i, fk_dataset_label(ds, i), labels[i]);
    for (int k = 0; k < classes; k++)
        CHECK(!strcmp(fk_dataset_class_name(ds, k), names[k]), "class %d '%s', expected '%s'",
              k, fk_dataset_class_name(ds, k), names[k]);
    HAS(fk_dataset_layout(ds), layout_piece);
    uint8_t *scratch = NULL;
    size_t ss = 0;
    for (long i = 0; i < fk_dataset_count(ds); i++) {
        fk_image im;
        CHECK(fk_dataset_get(ds, i, &im, &scratch, &ss) == FK_OK && im.c == 3 && im.h >= 16,
              "decode %ld: %s", i, fk_last_error());
    }
    free(scratch);
    fk_dataset_free(ds);
}

static void test_cub(void)
{
    fk_data_config c;
    cfg_for(&c, "imagefolder", "CUB_200_2011");
    const char *names[] = {"001.Black_footed_Albatross", "002.Laysan_Albatross",
                           "003.Sooty_Albatross"};
    check_split(&c, 1, 6, (const int[]){0, 0, 1, 1, 2, 2}, 3, names, "CUB-200-2011");
    check_split(&c, 0, 3, (const int[]){0, 1, 2}, 3, names, "CUB-200-2011");
    fk_dataset *ds = open_ok(&c, 0);
    if (ds) { /* image 2 of images.txt is the first test image: 21 x 30 */
        fk_image im;
        uint8_t *scratch = NULL;
        size_t ss = 0;
        CHECK(fk_dataset_get(ds, 0, &im, &scratch, &ss) == FK_OK && im.h == 21 && im.w == 30,
              "first test image %dx%d", im.h, im.w);
        HAS(ds->paths[0], "CUB_200_2011/images/001.Black_footed_Albatross/"
                          "Black_footed_Albatross_0001_0.jpg");
        free(scratch);
        fk_dataset_free(ds);
    }
    open_fails("imagefolder", "CUB_bad", 1, FK_ERR_FORMAT,
               (const char *[]){"CUB_bad/image_class_labels.txt:4: class id 'x'", NULL});
}

static void test_dogs(void)
{
    fk_data_config c;
    const char *names[] = {"n02085620-Chihuahua", "n02085782-Japanese_spaniel",
                           "n02085936-Maltese_dog"};
    /* MATLAB lists: train compressed (labels as doubles), test plain (labels as uint8) */
    cfg_for(&c, "imagefolder", "StanfordDogs");
    check_split(&c, 1, 6, (const int[]){0, 0, 1, 1, 2, 2}, 3, names, "Stanford Dogs");
    check_split(&c, 0, 3, (const int[]){0, 1, 2}, 3, names, "Stanford Dogs");
    /* the .mat files beside Images/, as lists.tar extracts them */
    cfg_for(&c, "imagefolder", "DogsFlat");
    check_split(&c, 0, 3, (const int[]){0, 1, 2}, 3, names, "Stanford Dogs");
    /* text lists without labels: classes by breed folder */
    cfg_for(&c, "imagefolder", "DogsText");
    check_split(&c, 1, 6, (const int[]){0, 0, 1, 1, 2, 2}, 3, names, "Stanford Dogs");
    open_fails("imagefolder", "Dogs_bad", 1, FK_ERR_FORMAT,
               (const char *[]){"Dogs_bad/lists/train_list.mat: byte ",
                                "truncated or corrupt MAT-file", NULL});
    /* the MAT reader on its own */
    char p[FK_DATA_PATH_MAX];
    snprintf(p, sizeof p, "%s/StanfordDogs/lists/test_list.mat", fx);
    fk_mat_var v;
    CHECK(fk_mat_read(p, "annotation_list", &v) == FK_OK && v.n == 3 && v.strings &&
              !strcmp(v.strings[1], "n02085782-Japanese_spaniel/n02085782_102"), "%s",
          fk_last_error());
    fk_mat_var_free(&v);
    fk_error_quiet(1);
    CHECK(fk_mat_read(p, "nothing", &v) == FK_ERR_FORMAT, "absent variable");
    HAS(fk_last_error(), "no variable 'nothing'");
    uint8_t v73[600] = "MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00";
    memcpy(v73 + 512, "\x89HDF\r\n\x1a\n", 8);
    CHECK(fk_mat_parse("v73.mat", v73, sizeof v73, "labels", &v) == FK_ERR_FORMAT, "v7.3");
    HAS(fk_last_error(), "v73.mat: a MATLAB v7.3 (HDF5) file");
    fk_error_quiet(0);
}

static void test_mit67(void)
{
    fk_data_config c;
    cfg_for(&c, "imagefolder", "MIT67");
    const char *names[] = {"airport_inside", "bathroom", "kitchen"};
    check_split(&c, 1, 6, (const int[]){2, 2, 1, 1, 0, 0}, 3, names, "MIT Indoor-67");
    check_split(&c, 0, 3, (const int[]){2, 1, 0}, 3, names, "MIT Indoor-67");
    open_fails("imagefolder", "MIT67_bad", 0, FK_ERR_IO,
               (const char *[]){"MIT67_bad/TestImages.txt:2:", "kitchen/missing.jpg", NULL});
}

static void test_stanford40(void)
{
    fk_data_config c;
    cfg_for(&c, "imagefolder", "Stanford40");
    const char *names[] = {"applauding", "climbing", "writing_on_a_book"};
    check_split(&c, 1, 6, (const int[]){0, 0, 1, 1, 2, 2}, 3, names, "Stanford 40 Actions");
    check_split(&c, 0, 3, (const int[]){0, 1, 2}, 3, names, "Stanford 40 Actions");
    open_fails("imagefolder", "Stanford40_bad", 0, FK_ERR_IO,
               (const char *[]){"Stanford40_bad/ImageSplits/climbing_test.txt:2:",
                                "climbing_999.jpg", NULL});
    /* no layout at all: the message names what was looked for */
    open_fails("imagefolder", "no-such-dir", 1, FK_ERR_IO,
               (const char *[]){"train/<class>/<image>", "CUB-200-2011", "train_list.mat",
                                "TrainImages.txt", "ImageSplits", NULL});
}

static uint8_t *slurp(const char *sub, size_t *n)
{
    char p[FK_DATA_PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", fx, sub);
    FILE *f = fopen(p, "rb");
    uint8_t *b = malloc(1 << 20);
    *n = f && b ? fread(b, 1, 1 << 20, f) : 0;
    if (f)
        fclose(f);
    CHECK(*n > 0, "cannot read %s", p);
    return b;
}

/* Every truncation and many single-byte changes of a real pickle and of a
 * compressed and a plain MAT-file: each parses or fails with FK_ERR_FORMAT,
 * never anything else (run under valgrind to see reads out of bounds). */
static void test_fuzz(void)
{
    static const char *const mats[] = {"StanfordDogs/lists/train_list.mat",
                                       "StanfordDogs/lists/test_list.mat"};
    size_t n;
    uint8_t *good = slurp("c100py_label/train", &n), *b = malloc(n + 1);
    long other = 0;
    fk_error_quiet(1);
    for (size_t len = 0; b && len < n; len += 1 + len / 64) {
        fk_pickle *pk = NULL;
        other += fk_pickle_parse("cut", good, len, &pk) != FK_ERR_FORMAT;
        fk_pickle_free(pk);
    }
    const uint8_t vals[] = {0x00, 0xff, 0x80, '(', 't', 'e', 'u', 'R', 'b', 'h', 'q', 'X', 'T'};
    for (size_t at = 0; b && at < n; at += 1 + at / 32)
        for (size_t v = 0; v < sizeof vals; v++) {
            memcpy(b, good, n);
            b[at] = vals[v];
            fk_pickle *pk = NULL;
            fk_status s = fk_pickle_parse("flip", b, n, &pk);
            other += s != FK_OK && s != FK_ERR_FORMAT;
            fk_pickle_free(pk);
        }
    free(good);
    free(b);
    for (int m = 0; m < 2; m++) {
        good = slurp(mats[m], &n);
        b = malloc(n + 1);
        for (size_t len = 0; b && len < n; len++) {
            fk_mat_var v;
            fk_status s = fk_mat_parse("cut", good, len, "labels", &v);
            other += s != FK_ERR_FORMAT;
            fk_mat_var_free(&v);
        }
        for (size_t at = 128; b && at < n; at++)
            for (int v = 0; v < 3; v++) {
                memcpy(b, good, n);
                b[at] = (uint8_t)(v == 0 ? 0xff : v == 1 ? 0x00 : b[at] ^ 0x10);
                fk_mat_var var;
                fk_status s = fk_mat_parse("flip", b, n, "file_list", &var);
                other += s != FK_OK && s != FK_ERR_FORMAT;
                fk_mat_var_free(&var);
            }
        free(good);
        free(b);
    }
    fk_error_quiet(0);
    CHECK(other == 0, "%ld mutations gave a status other than FK_OK or FK_ERR_FORMAT", other);
}

int main(int argc, char **argv)
{
    static const fk_test_named tests[] = {
        {"cifar100-pickle", test_cifar100_pickle}, {"cifar10-pickle", test_cifar10_pickle},
        {"pickle-errors", test_pickle_errors}, {"cub", test_cub}, {"dogs", test_dogs},
        {"mit67", test_mit67}, {"stanford40", test_stanford40}, {"fuzz", test_fuzz},
    };
    return fk_test_main_named(argc, argv, "test_data_layouts", &fx, tests, sizeof tests / sizeof tests[0]);
}
