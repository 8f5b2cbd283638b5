/* MobileNetV1 in the layout of the widely used PyTorch port
 * (github.com/marvis/pytorch-mobilenet, e.g. dongdonghy/Detection-PyTorch-Notebook
 * chapter7/mobilenet_v1.py): model.0 = conv_bn(3, 32, 2) (model.0.0 conv,
 * model.0.1 bn), model.1..13 = conv_dw (model.i.0 depthwise 3x3, .1 bn,
 * .3 pointwise 1x1, .4 bn), AvgPool2d(7) (global here), fc 1024 -> classes.
 * PyTorch default init everywhere (the port sets none). */
#include "models.h"

fk_status fk_build_mobilenetv1(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o)
{
    (void)e;
    static const int dw[13][2] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2},  {512, 1},
                                  {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
    int x = fk_model_input(g, o, FK_CONV_INIT_DEFAULT, FK_LINEAR_INIT_DEFAULT);
    x = fk_conv_bn(g, x, 32, 3, 2, 1, 1, "model.0", "0", "1", "2");
    int c = 32;
    for (int i = 0; i < 13; i++) {
        char p[16];
        snprintf(p, sizeof p, "model.%d", i + 1);
        x = fk_conv_bn(g, x, c, 3, dw[i][1], 1, c, p, "0", "1", "2");
        x = fk_conv_bn(g, x, dw[i][0], 1, 1, 0, 1, p, "3", "4", "5");
        c = dw[i][0];
    }
    x = fk_g_gap(g, x, "model.14");
    fk_g_linear(g, x, o->num_classes, true, "fc");
    return g->status;
}
