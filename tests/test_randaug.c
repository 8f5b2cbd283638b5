/* The strong augmentation of two-view methods (src/data/augment.c:
 * fk_randaug_op, fk_cutout) against Pillow (references from
 * tests/ref/gen_randaug.py, written at test time): every op of MLKD's
 * RandAugment list at values across its range on RGB and L images of
 * several sizes, and cutouts, byte for byte. Then the plan's draws: in
 * range, the same from the same stream, and every op drawn.
 *
 * usage: test_randaug REFERENCE_FILE */
#include "common.h"
#include "data/data_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check_pillow(const fk_st_file *f)
{
    int cases = 0, bad_cases = 0, per_op[FK_RANDAUG_OPS + 1] = {0};
    for (int k = 0;; k++) {
        char key[64];
        size_t ni = 0, no = 0, np = 0;
        snprintf(key, sizeof key, "c%d/input", k);
        const fk_st_tensor *t = fk_st_find(f, key);
        if (!t)
            break;
        const float *in = fk_test_tensor(f, key, &ni);
        snprintf(key, sizeof key, "c%d/output", k);
        const float *out = fk_test_tensor(f, key, &no);
        snprintf(key, sizeof key, "c%d/params", k);
        const float *p = fk_test_tensor(f, key, &np);
        if (!in || !out || !p || ni != no || t->ndim != 3) {
            CHECK(0, "case %d incomplete", k);
            continue;
        }
        int h = (int)t->shape[0], w = (int)t->shape[1], c = (int)t->shape[2];
        uint8_t *img = malloc(ni), *tmp = malloc(ni);
        for (size_t i = 0; i < ni; i++)
            img[i] = (uint8_t)in[i];
        int op = (int)p[0];
        if (op < 0)
            fk_cutout(img, h, w, c, p[1], p[2], p[3]);
        else
            fk_randaug_op(img, h, w, c, op, p[1], tmp);
        size_t diff = 0, first = 0;
        for (size_t i = 0; i < ni; i++)
            if (img[i] != (uint8_t)out[i] && !diff++)
                first = i;
        if (diff) {
            bad_cases++;
            per_op[op < 0 ? FK_RANDAUG_OPS : op]++;
            fprintf(stderr, "case %d: %s(%.9g) on %dx%dx%d: %zu of %zu bytes differ, first [%zu]: %d, Pillow %d\n", k,
                    op < 0 ? "Cutout" : fk_randaug_op_name(op), (double)p[1], h, w, c, diff, ni, first, img[first],
                    (int)out[first]);
        }
        free(img);
        free(tmp);
        cases++;
    }
    CHECK(cases > 400, "%d cases in the reference", cases);
    CHECK(bad_cases == 0, "%d of %d cases differ from Pillow", bad_cases, cases);
    printf("%d ops and cutouts equal to Pillow %s byte for byte (%d differ)\n", cases,
           fk_st_meta(f, "pillow") ? fk_st_meta(f, "pillow") : "?", bad_cases);
}

static void check_plan(void)
{
    int seen[FK_RANDAUG_OPS] = {0};
    for (int i = 0; i < 2000; i++) {
        fk_rng r = fk_rng_for(7, 1, (uint64_t)i), r2 = r;
        fk_randaug a, b;
        fk_randaug_plan(&a, &r, 32, 32);
        fk_randaug_plan(&b, &r2, 32, 32);
        CHECK(!memcmp(&a, &b, sizeof a), "plan %d: not the same from the same stream", i);
        for (int j = 0; j < 2; j++) {
            CHECK(a.op[j] >= 0 && a.op[j] < FK_RANDAUG_OPS, "op %d", a.op[j]);
            if (a.op[j] >= 0 && a.op[j] < FK_RANDAUG_OPS)
                seen[a.op[j]]++;
        }
        CHECK(a.cutout >= 0 && a.cutout < 0.5 && a.cx > 1 && a.cx <= 32 && a.cy > 1 && a.cy <= 32,
              "cutout %g at (%g, %g)", a.cutout, a.cx, a.cy);
        CHECK((a.op[0] != 6 || (a.v[0] >= 4 && a.v[0] < 8)) && (a.op[0] != 7 || fabs(a.v[0]) <= 30),
              "value %g of %s", a.v[0], fk_randaug_op_name(a.op[0]));
    }
    for (int i = 0; i < FK_RANDAUG_OPS; i++)
        CHECK(seen[i] > 200, "%s drawn %d times in 4000", fk_randaug_op_name(i), seen[i]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s REFERENCE_FILE\n", argv[0]);
        return 2;
    }
    fk_st_file f;
    if (fk_st_read(argv[1], &f) != FK_OK) {
        CHECK(0, "%s: %s", argv[1], fk_last_error());
        return fk_test_result("test_randaug");
    }
    check_pillow(&f);
    fk_st_free(&f);
    check_plan();
    return fk_test_result("test_randaug");
}
