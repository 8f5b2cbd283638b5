/* VGG with BatchNorm as mdistiller's mdistiller/models/cifar/vgg.py
 * (vgg8/11/13/16/19 are its *_bn variants): block0..block4 of
 * conv(bias) bn relu, the last relu of a block applied after it, pool0..2
 * max pools, pool3 only for inputs of 64 and more (the original applies it
 * when h == 64), pool4 adaptive average (global), classifier 512 -> classes.
 * Convs N(0, 2/(k*k*out)) with bias 0; BN 1/0; classifier N(0, 0.01^2), bias 0. */
#include "models.h"

static const int cfg_s[5][4] = {{64}, {128}, {256}, {512}, {512}};
static const int cfg_a[5][4] = {{64}, {128}, {256, 256}, {512, 512}, {512, 512}};
static const int cfg_b[5][4] = {{64, 64}, {128, 128}, {256, 256}, {512, 512}, {512, 512}};
static const int cfg_d[5][4] = {{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};
static const int cfg_e[5][4] = {{64, 64}, {128, 128}, {256, 256, 256, 256}, {512, 512, 512, 512},
                                {512, 512, 512, 512}};

fk_status fk_build_vgg(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o)
{
    /* e->a: depth 8, 11, 13, 16 or 19 */
    const int(*cfg)[4] = e->a == 8 ? cfg_s : e->a == 11 ? cfg_a : e->a == 13 ? cfg_b : e->a == 16 ? cfg_d : cfg_e;
    int x = fk_model_input(g, o, FK_CONV_INIT_FAN_OUT, FK_LINEAR_INIT_NORMAL001);
    for (int b = 0; b < 5; b++) {
        for (int j = 0; j < 4 && cfg[b][j]; j++) {
            if (j > 0)
                x = fk_g_relu(g, x, "block%d.%d", b, 3 * j - 1);
            x = fk_g_conv(g, x, cfg[b][j], 3, 1, 1, 1, true, "block%d.%d", b, 3 * j);
            x = fk_g_bn(g, x, "block%d.%d", b, 3 * j + 1);
        }
        x = fk_g_tap_stage(g, fk_g_relu(g, x, "relu%d", b)); /* feats: f0..f4 before the pools */
        if (b < 3 || (b == 3 && o->input_size >= 64))
            x = fk_g_maxpool(g, x, 2, 2, 0, "pool%d", b);
    }
    x = fk_g_tap_embed(g, fk_g_gap(g, x, "pool4"));
    fk_g_linear(g, x, o->num_classes, true, "classifier");
    return g->status;
}
