/* ResNet18 / ResNet34 in torchvision's layout (torchvision/models/resnet.py):
 * conv1 7x7 stride 2, bn1, relu, maxpool 3/2/1, layer1..4 of BasicBlocks
 * (conv1 bn1 conv2 bn2, downsample.0/.1), adaptive average pool, fc.
 * Convs: kaiming_normal(fan_out); BN 1/0; fc: PyTorch default. */
#include "models.h"

fk_status fk_build_resnet_imagenet(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o)
{
    /* e->a: 18 or 34 */
    static const int b18[4] = {2, 2, 2, 2}, b34[4] = {3, 4, 6, 3};
    const int *blocks = e->a == 34 ? b34 : b18;
    int x = fk_model_input(g, o, FK_CONV_INIT_FAN_OUT, FK_LINEAR_INIT_DEFAULT);
    x = fk_conv_bn(g, x, 64, 7, 2, 3, 1, "", "conv1", "bn1", "relu");
    x = fk_g_maxpool(g, x, 3, 2, 1, "maxpool");
    x = fk_resnet_stages(g, x, blocks, 1, fk_resnet_basic_block);
    x = fk_g_gap(g, x, "avgpool");
    fk_g_linear(g, x, o->num_classes, true, "fc");
    return g->status;
}
