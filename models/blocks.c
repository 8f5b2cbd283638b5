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
