/* Linear layer: weight (out, in), optional bias (out). */
#include "layer_util.h"

#include "figkd/ops.h"

#include <math.h>

typedef struct linear_state {
    int out_features;
    bool bias;
} linear_state;

static fk_status linear_shape(fk_graph *g, fk_node *nd)
{
    linear_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    if (x->ndim != 2 || s->out_features <= 0)
        return fk_error(FK_ERR_ARG, "%s: linear needs a 2-d input (flatten or pool first)", nd->name);
    int in = x->c;
    nd->ndim = 2;
    nd->c = s->out_features;
    double bound = 1.0 / sqrt((double)in);
    fk_init_rule w = {FK_INIT_UNIFORM, bound}, b = {FK_INIT_UNIFORM, bound};
    if (g->linear_init == FK_LINEAR_INIT_ZERO_BIAS)
        b = (fk_init_rule){FK_INIT_ZERO, 0};
    else if (g->linear_init == FK_LINEAR_INIT_NORMAL001) {
        w = (fk_init_rule){FK_INIT_NORMAL, 0.01};
        b = (fk_init_rule){FK_INIT_ZERO, 0};
    }
    if (fk_graph_param(g, nd, "weight", 2, (int[]){s->out_features, in}, false, w) < 0)
        return g->status;
    if (s->bias && fk_graph_param(g, nd, "bias", 1, &s->out_features, false, b) < 0)
        return g->status;
    nd->macs = (double)in * s->out_features;
    return FK_OK;
}

static fk_status linear_forward(const fk_exec *x, fk_node *nd)
{
    linear_state *s = nd->state;
    const fk_node *in = fk_node_input(x->g, nd, 0);
    fk_tensor bias;
    if (s->bias)
        bias = fk_node_param(x->g, nd, 1);
    return fk_linear_forward(x->rt, nd->out, in->out, fk_node_param(x->g, nd, 0), s->bias ? &bias : NULL,
                             x->n, in->c, s->out_features);
}

static fk_status linear_backward(const fk_exec *x, fk_node *nd)
{
    linear_state *s = nd->state;
    const fk_node *in = fk_node_input(x->g, nd, 0);
    fk_tensor dw = fk_node_dparam(x->g, nd, 0), db;
    if (s->bias)
        db = fk_node_dparam(x->g, nd, 1);
    return fk_linear_backward(x->rt, fk_node_din(x->g, nd, 0), &dw, s->bias ? &db : NULL, nd->dout,
                              in->out, fk_node_param(x->g, nd, 0), x->n, in->c, s->out_features);
}

static const fk_op linear_op = {"linear", FK_OP_LINEAR, linear_shape, NULL, linear_forward,
                                linear_backward};

int fk_g_linear(fk_graph *g, int x, int out_features, bool bias, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    linear_state s = {out_features, bias};
    return fk_layer_add(g, &linear_op, x, &s, sizeof s, name);
}
