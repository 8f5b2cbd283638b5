/* Conv2d layer: weight (C_out, C_in / groups, K, K), optional bias. */
#include "layer_util.h"

#include "figkd/ops.h"
#include "frozen.h"

#include <math.h>

typedef struct conv_state {
    int c_out, k, stride, pad, groups;
    bool bias;
    fk_conv_dims d; /* for the plan's batch */
} conv_state;

static fk_status conv_shape(fk_graph *g, fk_node *nd)
{
    conv_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    if (x->ndim != 4 || s->groups <= 0 || x->c % s->groups || s->c_out % s->groups)
        return fk_error(FK_ERR_ARG, "%s: %d input channels, %d output channels, groups %d", nd->name,
                        x->c, s->c_out, s->groups);
    FK_TRY(fk_node_window_shape(nd, x, s->c_out, s->k, s->stride, s->pad, "kernel"));
    int cin_g = x->c / s->groups;
    double fan_in = (double)cin_g * s->k * s->k, fan_out = (double)s->c_out * s->k * s->k;
    fk_init_rule w = {FK_INIT_UNIFORM, 1.0 / sqrt(fan_in)}, b = {FK_INIT_UNIFORM, 1.0 / sqrt(fan_in)};
    if (g->conv_init == FK_CONV_INIT_FAN_OUT) {
        w = (fk_init_rule){FK_INIT_NORMAL, sqrt(2.0 / fan_out)};
        b = (fk_init_rule){FK_INIT_ZERO, 0};
    }
    if (fk_graph_param(g, nd, "weight", 4, (int[]){s->c_out, cin_g, s->k, s->k}, false, w) < 0)
        return g->status;
    if (s->bias && fk_graph_param(g, nd, "bias", 1, &s->c_out, false, b) < 0)
        return g->status;
    nd->macs = (double)nd->c * nd->h * nd->w * cin_g * s->k * s->k;
    return FK_OK;
}

static size_t conv_plan(fk_graph *g, fk_node *nd, int n)
{
    conv_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    if (fk_conv_dims_init(&s->d, n, x->c, x->h, x->w, s->c_out, s->k, s->stride, s->pad, s->groups,
                          s->bias) != FK_OK)
        return 0; /* shapes were checked at build time */
    return g->plan_rt ? fk_conv_work_on(g->plan_rt, &s->d, g->plan_train) : fk_conv_work(&s->d);
}

static fk_status conv_forward(const fk_exec *x, fk_node *nd)
{
    conv_state *s = nd->state;
    fk_tensor bias;
    if (s->bias)
        bias = fk_node_param(x->g, nd, 1);
    return fk_conv_forward(x->rt, nd->out, fk_node_input(x->g, nd, 0)->out, fk_node_param(x->g, nd, 0),
                           s->bias ? &bias : NULL, x->work, &s->d);
}

static fk_status conv_backward(const fk_exec *x, fk_node *nd)
{
    conv_state *s = nd->state;
    fk_tensor dw = fk_node_dparam(x->g, nd, 0), db;
    if (s->bias)
        db = fk_node_dparam(x->g, nd, 1);
    return fk_conv_backward(x->rt, fk_node_din(x->g, nd, 0), &dw, s->bias ? &db : NULL, nd->dout,
                            fk_node_input(x->g, nd, 0)->out, fk_node_param(x->g, nd, 0), x->work, &s->d);
}

static const fk_op conv_op = {"conv", FK_OP_CONV, conv_shape, conv_plan, conv_forward, conv_backward};

int fk_g_conv(fk_graph *g, int x, int c_out, int k, int stride, int pad, int groups, bool bias,
              const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    conv_state s = {c_out, k, stride, pad, groups, bias, {0}};
    return fk_layer_add(g, &conv_op, x, &s, sizeof s, name);
}

fk_status fk_conv_node_fused(const fk_exec *x, const fk_node *nd, fk_tensor out, fk_tensor weight,
                             const fk_tensor *bias, const fk_tensor *res, bool relu)
{
    const conv_state *s = nd->state;
    return fk_conv_forward_fused(x->rt, out, fk_node_input(x->g, nd, 0)->out, weight, bias, res, relu, x->work,
                                 &s->d);
}

bool fk_graph_conv_dims(fk_graph *g, int id, int n, fk_conv_dims *d)
{
    const fk_node *nd = &g->nodes[id];
    if (nd->op != &conv_op)
        return false;
    const conv_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    return fk_conv_dims_init(d, n, x->c, x->h, x->w, s->c_out, s->k, s->stride, s->pad, s->groups, s->bias) == FK_OK;
}
