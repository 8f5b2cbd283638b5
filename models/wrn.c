/* Wide ResNets as mdistiller's mdistiller/models/cifar/wrn.py: conv1, three
 * NetworkBlocks of pre-activation BasicBlocks (bn1 relu1 conv1 bn2 relu2
 * conv2, convShortcut when channels change), final bn1, relu, average pool
 * (global here), fc. Convs N(0, 2/(k*k*out)); BN 1/0; fc default weight,
 * bias 0. */
#include "models.h"

static int block(fk_graph *g, int x, int in_planes, int out_planes, int stride, const char *p)
{
    bool equal = in_planes == out_planes;
    int act = fk_g_bn(g, x, "%s.bn1", p);
    act = fk_g_relu(g, act, "%s.relu1", p);
    int out = fk_conv_bn(g, act, out_planes, 3, stride, 1, 1, p, "conv1", "bn2", "relu2");
    out = fk_g_conv(g, out, out_planes, 3, 1, 1, 1, false, "%s.conv2", p);
    /* equalInOut: add the block's input; else the shortcut of the activated input */
    int res = equal ? x : fk_g_conv(g, act, out_planes, 1, stride, 0, 1, false, "%s.convShortcut", p);
    return fk_g_add(g, res, out, "%s.add", p);
}

fk_status fk_build_wrn(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o)
{
    /* e->a: depth (6n+4), e->b: widen factor */
    int n = (e->a - 4) / 6, k = e->b;
    int ch[4] = {16, 16 * k, 32 * k, 64 * k};
    int x = fk_model_input(g, o, FK_CONV_INIT_FAN_OUT, FK_LINEAR_INIT_ZERO_BIAS);
    x = fk_g_conv(g, x, ch[0], 3, 1, 1, 1, false, "conv1");
    fk_g_tap_stage(g, x); /* feats: f0 conv1, f1..f3 each block group's output (pre-activation) */
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < n; i++) {
            char p[48];
            snprintf(p, sizeof p, "block%d.layer.%d", s + 1, i);
            x = block(g, x, i == 0 ? ch[s] : ch[s + 1], ch[s + 1], i == 0 && s > 0 ? 2 : 1, p);
        }
        fk_g_tap_stage(g, x);
    }
    x = fk_g_bn(g, x, "bn1");
    x = fk_g_relu(g, x, "relu");
    x = fk_g_tap_embed(g, fk_g_gap(g, x, "avgpool"));
    fk_g_linear(g, x, o->num_classes, true, "fc");
    return g->status;
}
