/* ShuffleNetV1 as mdistiller's mdistiller/models/cifar/ShuffleNetv1.py
 * (ShuffleV1: out planes 240/480/960, blocks 4/8/4, groups 3): conv1 1x1,
 * bn1, relu; Bottlenecks conv1 (grouped 1x1; 1 group when the input has 24
 * channels) bn1 relu shuffle conv2 (depthwise 3x3) bn2 relu conv3
 * (grouped 1x1) bn3, then with stride 2 concat with AvgPool2d(3, 2, 1) of
 * the input, else add the input; relu. Average pool (global here), linear.
 * PyTorch default init (the file sets none). */
#include "models.h"

static int bottleneck(fk_graph *g, int x, int in_planes, int out_planes, int stride, int groups,
                      const char *p)
{
    int mid = out_planes / 4, g1 = in_planes == 24 ? 1 : groups;
    int out = fk_conv_bn(g, x, mid, 1, 1, 0, g1, p, "conv1", "bn1", "relu1");
    if (g1 > 1) /* a shuffle of one group is the identity */
        out = fk_g_shuffle(g, out, g1, "%s.shuffle1", p);
    out = fk_conv_bn(g, out, mid, 3, stride, 1, mid, p, "conv2", "bn2", "relu2");
    out = fk_conv_bn(g, out, out_planes, 1, 1, 0, groups, p, "conv3", "bn3", NULL);
    if (stride == 2) {
        int res = fk_g_avgpool(g, x, 3, 2, 1, "%s.shortcut.0", p);
        out = fk_g_concat(g, out, res, "%s.cat", p);
    } else {
        out = fk_g_add(g, out, x, "%s.add", p);
    }
    return fk_g_relu(g, out, "%s.relu_out", p);
}

fk_status fk_build_shufflenetv1(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o)
{
    (void)e;
    static const int out_planes[3] = {240, 480, 960}, num_blocks[3] = {4, 8, 4};
    const int groups = 3;
    int x = fk_model_input(g, o, FK_CONV_INIT_DEFAULT, FK_LINEAR_INIT_DEFAULT);
    x = fk_conv_bn(g, x, 24, 1, 1, 0, 1, "", "conv1", "bn1", "relu");
    int in_planes = 24;
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < num_blocks[s]; i++) {
            char p[32];
            snprintf(p, sizeof p, "layer%d.%d", s + 1, i);
            int cat_planes = i == 0 ? in_planes : 0;
            x = bottleneck(g, x, in_planes, out_planes[s] - cat_planes, i == 0 ? 2 : 1, groups, p);
            in_planes = out_planes[s];
        }
    x = fk_g_gap(g, x, "avgpool");
    fk_g_linear(g, x, o->num_classes, true, "linear");
    return g->status;
}
