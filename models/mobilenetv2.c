/* MobileNetV2 as mdistiller's mdistiller/models/cifar/mobilenetv2.py,
 * mobile_half: T = 6, width 0.5. conv1.0/.1 (3x3 stride 2), blocks.i.j.conv.0..7
 * (pw conv, bn, relu, dw conv, bn, relu, pw-linear conv, bn; residual when
 * stride 1 and in == out), conv2.0/.1 (1x1 to 1280), average pool (global
 * here), classifier.0. Convs N(0, 2/(k*k*out)); BN 1/0; classifier
 * N(0, 0.01^2), bias 0. */
#include "models.h"

static int inverted_residual(fk_graph *g, int x, int inp, int oup, int stride, int t, const char *p)
{
    int hid = inp * t;
    int out = fk_conv_bn(g, x, hid, 1, 1, 0, 1, p, "conv.0", "conv.1", "conv.2");
    out = fk_conv_bn(g, out, hid, 3, stride, 1, hid, p, "conv.3", "conv.4", "conv.5");
    out = fk_conv_bn(g, out, oup, 1, 1, 0, 1, p, "conv.6", "conv.7", NULL);
    if (stride == 1 && inp == oup)
        out = fk_g_add(g, x, out, "%s.add", p);
    return out;
}

fk_status fk_build_mobilenetv2(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o)
{
    /* e->a: T; e->b: width multiplier in percent */
    static const int setting[7][4] = {{1, 16, 1, 1},  {0, 24, 2, 1},  {0, 32, 3, 2},  {0, 64, 4, 2},
                                      {0, 96, 3, 1},  {0, 160, 3, 2}, {0, 320, 1, 1}};
    double width = e->b / 100.0;
    int x = fk_model_input(g, o, FK_CONV_INIT_FAN_OUT, FK_LINEAR_INIT_NORMAL001);
    int in_ch = (int)(32 * width);
    x = fk_conv_bn(g, x, in_ch, 3, 2, 1, 1, "conv1", "0", "1", "2");
    for (int b = 0; b < 7; b++) {
        int t = setting[b][0] ? setting[b][0] : e->a, out_ch = (int)(setting[b][1] * width);
        for (int i = 0; i < setting[b][2]; i++) {
            char p[32];
            snprintf(p, sizeof p, "blocks.%d.%d", b, i);
            x = inverted_residual(g, x, in_ch, out_ch, i == 0 ? setting[b][3] : 1, t, p);
            in_ch = out_ch;
        }
    }
    int last = width > 1.0 ? (int)(1280 * width) : 1280;
    x = fk_conv_bn(g, x, last, 1, 1, 0, 1, "conv2", "0", "1", "2");
    x = fk_g_gap(g, x, "avgpool");
    fk_g_linear(g, x, o->num_classes, true, "classifier.0");
    return g->status;
}
