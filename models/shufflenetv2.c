/* ShuffleNetV2 as mdistiller's mdistiller/models/cifar/ShuffleNetv2.py
 * (ShuffleV2 = net_size 1: out channels 116/232/464/1024, blocks 3/7/3):
 * conv1 1x1, bn1, relu; per stage a DownBlock (left: conv1 dw 3x3/2, bn1,
 * conv2 1x1, bn2, relu; right: conv3 1x1, bn3, relu, conv4 dw 3x3/2, bn4,
 * conv5 1x1, bn5, relu; concat; shuffle 2) and BasicBlocks (split in
 * halves, the second through conv1 bn1 relu conv2(dw) bn2 conv3 bn3 relu,
 * concat with the first, shuffle 2); conv2 1x1, bn2, relu, average pool
 * (global here), linear. PyTorch default init (the file sets none). */
#include "models.h"

static int down_block(fk_graph *g, int x, int in_ch, int out_ch, const char *p)
{
    int mid = out_ch / 2;
    int l = fk_conv_bn(g, x, in_ch, 3, 2, 1, in_ch, p, "conv1", "bn1", NULL);
    l = fk_conv_bn(g, l, mid, 1, 1, 0, 1, p, "conv2", "bn2", "relu2");
    int r = fk_conv_bn(g, x, mid, 1, 1, 0, 1, p, "conv3", "bn3", "relu3");
    r = fk_conv_bn(g, r, mid, 3, 2, 1, mid, p, "conv4", "bn4", NULL);
    r = fk_conv_bn(g, r, mid, 1, 1, 0, 1, p, "conv5", "bn5", "relu5");
    int out = fk_g_concat(g, l, r, "%s.cat", p);
    return fk_g_shuffle(g, out, 2, "%s.shuffle", p);
}

static int basic_block(fk_graph *g, int x, int ch, const char *p)
{
    int c = ch / 2, x1, x2; /* int(in_channels * 0.5) */
    fk_g_split(g, x, c, &x1, &x2, "%s.split", p);
    int out = fk_conv_bn(g, x2, c, 1, 1, 0, 1, p, "conv1", "bn1", "relu1");
    out = fk_conv_bn(g, out, c, 3, 1, 1, c, p, "conv2", "bn2", NULL);
    out = fk_conv_bn(g, out, c, 1, 1, 0, 1, p, "conv3", "bn3", "relu3");
    out = fk_g_concat(g, x1, out, "%s.cat", p);
    return fk_g_shuffle(g, out, 2, "%s.shuffle", p);
}

fk_status fk_build_shufflenetv2(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o)
{
    (void)e;
    static const int out_ch[4] = {116, 232, 464, 1024}, num_blocks[3] = {3, 7, 3};
    int x = fk_model_input(g, o, FK_CONV_INIT_DEFAULT, FK_LINEAR_INIT_DEFAULT);
    x = fk_conv_bn(g, x, 24, 1, 1, 0, 1, "", "conv1", "bn1", "relu");
    int in_ch = 24;
    for (int s = 0; s < 3; s++) {
        char p[32];
        snprintf(p, sizeof p, "layer%d.0", s + 1);
        x = down_block(g, x, in_ch, out_ch[s], p);
        for (int i = 0; i < num_blocks[s]; i++) {
            snprintf(p, sizeof p, "layer%d.%d", s + 1, i + 1);
            x = basic_block(g, x, out_ch[s], p);
        }
        in_ch = out_ch[s];
    }
    x = fk_conv_bn(g, x, out_ch[3], 1, 1, 0, 1, "", "conv2", "bn2", "relu2");
    x = fk_g_gap(g, x, "avgpool");
    fk_g_linear(g, x, o->num_classes, true, "linear");
    return g->status;
}
