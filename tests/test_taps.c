/* Feature taps of the model families (host only): the stage outputs and
 * the embedding each family exposes, with mdistiller's shapes
 * (feats["feats"][i], feats["pooled_feat"] at a 32x32 input); families
 * without taps expose none; a tapped node keeps its own memory (an
 * in-place ReLU after it would overwrite it). */
#include "common.h"

#include "figkd/model.h"

#include <string.h>

typedef struct expect {
    const char *model;
    int count;
    int c[5], h[5]; /* per stage: channels and side */
    int embed;      /* embedding width; 0: none */
} expect;

static const expect cases[] = {
    /* mdistiller resnet.py: f0 the stem ReLU, f1..f3 the stages */
    {"resnet8x4", 4, {32, 64, 128, 256}, {32, 32, 16, 8}, 256},
    {"resnet20", 4, {16, 16, 32, 64}, {32, 32, 16, 8}, 64},
    /* wrn.py: f0 conv1, f1..f3 the block groups (before the final BN) */
    {"wrn_16_2", 4, {16, 32, 64, 128}, {32, 32, 16, 8}, 128},
    /* vgg.py: f0..f4 the ReLUs of the blocks, before the pools */
    {"vgg8", 5, {64, 128, 256, 512, 512}, {32, 16, 8, 4, 4}, 512},
    {"vgg13", 5, {64, 128, 256, 512, 512}, {32, 16, 8, 4, 4}, 512},
    /* no taps (yet) */
    {"MobileNetV2", 0, {0}, {0}, 0},
    {"ShuffleV1", 0, {0}, {0}, 0},
};

static void check(const expect *e)
{
    fk_model *m = NULL;
    fk_model_opts o = {100, 32, 3};
    if (fk_model_build(e->model, &o, &m) != FK_OK) {
        CHECK(0, "%s: %s", e->model, fk_last_error());
        return;
    }
    fk_feats f;
    fk_model_feats(m, &f);
    CHECK(f.count == e->count, "%s: %d stage outputs, expected %d", e->model, f.count, e->count);
    for (int i = 0; i < f.count && i < e->count; i++) {
        const fk_tensor *t = &f.stage[i];
        CHECK(t->ndim == 4 && t->shape[1] == e->c[i] && t->shape[2] == e->h[i] && t->shape[3] == e->h[i] &&
                  !t->buf && !f.dstage[i].buf,
              "%s: stage %d is (%d, %d, %d), expected (%d, %d, %d) without a plan's buffers", e->model, i,
              t->shape[1], t->shape[2], t->shape[3], e->c[i], e->h[i], e->h[i]);
        const fk_graph *g = &m->graph;
        CHECK(g->nodes[g->feat[i]].alias < 0 || g->nodes[g->feat[i]].op->kind == FK_OP_RELU,
              "%s: stage %d is a view", e->model, i);
        for (int j = 0; j < g->count; j++)
            CHECK(!(g->nodes[j].alias == g->feat[i] && g->nodes[j].op->kind == FK_OP_RELU),
                  "%s: %s runs in place on stage %d", e->model, g->nodes[j].name, i);
    }
    int width = f.embed.shape[1] * f.embed.shape[2] * f.embed.shape[3];
    CHECK(e->embed ? f.embed.ndim == 2 && width == e->embed : m->graph.embed < 0,
          "%s: embedding of %d (ndim %d), expected %d", e->model, width, f.embed.ndim, e->embed);
    fk_model_free(m);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(&cases[i]);
    printf("%zu models checked\n", sizeof cases / sizeof cases[0]);
    return fk_test_result("test_taps");
}
