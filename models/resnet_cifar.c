/* CIFAR ResNets as mdistiller's mdistiller/models/cifar/resnet.py
 * (resnet8 ... resnet110, resnet8x4, resnet32x4: BasicBlock, three stages)
 * and resnetv2.py (ResNet50: Bottleneck, four stages, "shortcut", "linear").
 * Convs: kaiming_normal(fan_out); BN 1/0; linear: PyTorch default.
 * The final AvgPool2d(8) / AdaptiveAvgPool2d(1) is a global average pool
 * (the same at the native 32x32 input). */
#include "models.h"

/* resnet.py BasicBlock: conv1 bn1 relu conv2 bn2 (+ downsample.0/.1) add relu */
int fk_resnet_basic_block(fk_graph *g, int x, int inplanes, int planes, int stride, const char *p)
{
    int out = fk_conv_bn(g, x, planes, 3, stride, 1, 1, p, "conv1", "bn1", "relu");
    out = fk_conv_bn(g, out, planes, 3, 1, 1, 1, p, "conv2", "bn2", NULL);
    int res = x;
    if (stride != 1 || inplanes != planes)
        res = fk_conv_bn(g, x, planes, 1, stride, 0, 1, p, "downsample.0", "downsample.1", NULL);
    out = fk_g_add(g, out, res, "%s.add", p);
    return fk_g_relu(g, out, "%s.relu_out", p);
}

fk_status fk_build_resnet_cifar(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o)
{
    /* e->a: depth (6n+2), e->b: 1 for filters [16,16,32,64], 4 for [32,64,128,256] */
    static const int narrow[4] = {16, 16, 32, 64}, wide[4] = {32, 64, 128, 256};
    const int *f = e->b == 4 ? wide : narrow;
    int n = (e->a - 2) / 6;
    int x = fk_model_input(g, o, FK_CONV_INIT_FAN_OUT, FK_LINEAR_INIT_DEFAULT);
    x = fk_conv_bn(g, x, f[0], 3, 1, 1, 1, "", "conv1", "bn1", "relu");
    fk_g_tap_stage(g, x); /* feats: f0 the stem, f1..f3 each stage's last ReLU */
    int inplanes = f[0];
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < n; i++) {
            char p[32];
            snprintf(p, sizeof p, "layer%d.%d", s + 1, i);
            x = fk_resnet_basic_block(g, x, inplanes, f[s + 1], i == 0 && s > 0 ? 2 : 1, p);
            inplanes = f[s + 1];
        }
        fk_g_tap_stage(g, x);
    }
    x = fk_g_tap_embed(g, fk_g_gap(g, x, "avgpool"));
    fk_g_linear(g, x, o->num_classes, true, "fc");
    return g->status;
}

/* resnetv2.py Bottleneck: conv1 1x1, conv2 3x3 (stride), conv3 1x1 x4, shortcut.0/.1 */
static int bottleneck(fk_graph *g, int x, int in_planes, int planes, int stride, const char *p)
{
    int out = fk_conv_bn(g, x, planes, 1, 1, 0, 1, p, "conv1", "bn1", "relu1");
    out = fk_conv_bn(g, out, planes, 3, stride, 1, 1, p, "conv2", "bn2", "relu2");
    out = fk_conv_bn(g, out, 4 * planes, 1, 1, 0, 1, p, "conv3", "bn3", NULL);
    int res = x;
    if (stride != 1 || in_planes != 4 * planes)
        res = fk_conv_bn(g, x, 4 * planes, 1, stride, 0, 1, p, "shortcut.0", "shortcut.1", NULL);
    out = fk_g_add(g, out, res, "%s.add", p);
    return fk_g_relu(g, out, "%s.relu_out", p);
}

fk_status fk_build_resnet_v2(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o)
{
    (void)e;
    static const int blocks[4] = {3, 4, 6, 3};
    int x = fk_model_input(g, o, FK_CONV_INIT_FAN_OUT, FK_LINEAR_INIT_DEFAULT);
    x = fk_conv_bn(g, x, 64, 3, 1, 1, 1, "", "conv1", "bn1", "relu");
    x = fk_resnet_stages(g, x, blocks, 4, bottleneck);
    x = fk_g_gap(g, x, "avgpool");
    fk_g_linear(g, x, o->num_classes, true, "linear");
    return g->status;
}
