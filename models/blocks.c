/* Building blocks shared by the model families. */
#include "models.h"

int fk_model_input(fk_graph *g, const fk_model_opts *o, fk_conv_init conv, fk_linear_init linear)
{
    g->conv_init = conv;
    g->linear_init = linear;
    return fk_g_input(g, o->in_channels, o->input_size, o->input_size);
}

int fk_conv_bn(fk_graph *g, int x, int c_out, int k, int stride, int pad, int groups, const char *prefix,
               const char *conv, const char *bn, const char *relu)
{
    const char *dot = *prefix ? "." : "";
    x = fk_g_conv(g, x, c_out, k, stride, pad, groups, false, "%s%s%s", prefix, dot, conv);
    x = fk_g_bn(g, x, "%s%s%s", prefix, dot, bn);
    return relu ? fk_g_relu(g, x, "%s%s%s", prefix, dot, relu) : x;
}

int fk_resnet_stages(fk_graph *g, int x, const int blocks[4], int expansion, fk_resnet_block block)
{
    int in_planes = 64;
    for (int s = 0; s < 4; s++) {
        int planes = 64 << s;
        for (int i = 0; i < blocks[s]; i++) {
            char p[32];
            snprintf(p, sizeof p, "layer%d.%d", s + 1, i);
            x = block(g, x, in_planes, planes, i == 0 && s > 0 ? 2 : 1, p);
            in_planes = expansion * planes;
        }
    }
    return x;
}
