/* BatchNorm2d layer: weight, bias, running_mean, running_var,
 * num_batches_tracked (PyTorch's state_dict order); saves mean and invstd. */
#include "layer_util.h"

#include "figkd/ops.h"

typedef struct bn_state {
    fk_bn_dims d;
} bn_state;

static fk_status bn_shape(fk_graph *g, fk_node *nd)
{
    const fk_node *x = fk_node_input(g, nd, 0);
    if (x->ndim != 4)
        return fk_error(FK_ERR_ARG, "%s: BatchNorm2d needs a 4-d input", nd->name);
    nd->c = x->c;
    nd->h = x->h;
    nd->w = x->w;
    const fk_init_rule one = {FK_INIT_ONE, 0}, zero = {FK_INIT_ZERO, 0};
    if (fk_graph_param(g, nd, "weight", 1, &nd->c, false, one) < 0 ||
        fk_graph_param(g, nd, "bias", 1, &nd->c, false, zero) < 0 ||
        fk_graph_param(g, nd, "running_mean", 1, &nd->c, true, zero) < 0 ||
        fk_graph_param(g, nd, "running_var", 1, &nd->c, true, one) < 0 ||
        fk_graph_param(g, nd, "num_batches_tracked", 0, NULL, true, zero) < 0)
        return g->status;
    g->params.items[nd->param[4]].is_int64 = true;
    nd->nsaved = 2;
    nd->saved_elems[0] = nd->saved_elems[1] = (size_t)nd->c;
    return FK_OK;
}

static size_t bn_plan(fk_graph *g, fk_node *nd, int n)
{
    (void)g;
    bn_state *s = nd->state;
    s->d = (fk_bn_dims){n, nd->c, nd->h, nd->w, 1e-5f, 0.1f};
    return 0;
}

/* With a fused ReLU (nd->fused_relu, src/graph/graph.c) the output is the
 * ReLU's (in place on the BN's), and backward takes the ReLU's gradient. */
static fk_status bn_forward(const fk_exec *x, fk_node *nd)
{
    bn_state *s = nd->state;
    fk_graph *g = x->g;
    fk_tensor in = fk_node_input(g, nd, 0)->out;
    bool relu = nd->fused_relu >= 0;
    fk_tensor gamma = fk_node_param(g, nd, 0), beta = fk_node_param(g, nd, 1);
    fk_tensor rmean = fk_node_param(g, nd, 2), rvar = fk_node_param(g, nd, 3);
    if (x->train && g->bn_replicas)
        return (relu ? fk_bn_relu_forward_train_sync : fk_bn_forward_train_sync)(
            g->bn_replicas, x->rt, nd->out, nd->saved[0], nd->saved[1], in, gamma, beta, rmean, rvar,
            fk_node_param(g, nd, 4), &s->d);
    if (x->train)
        return (relu ? fk_bn_relu_forward_train : fk_bn_forward_train)(
            x->rt, nd->out, nd->saved[0], nd->saved[1], in, gamma, beta, rmean, rvar, fk_node_param(g, nd, 4),
            &s->d);
    return (relu ? fk_bn_relu_forward_eval : fk_bn_forward_eval)(x->rt, nd->out, in, gamma, beta, rmean, rvar,
                                                                  &s->d);
}

static fk_status bn_backward(const fk_exec *x, fk_node *nd)
{
    bn_state *s = nd->state;
    fk_graph *g = x->g;
    fk_tensor dgamma = fk_node_dparam(g, nd, 0), dbeta = fk_node_dparam(g, nd, 1);
    const fk_tensor *din = fk_node_din(g, nd, 0);
    fk_tensor in = fk_node_input(g, nd, 0)->out, gamma = fk_node_param(g, nd, 0);
    if (nd->fused_relu >= 0) {
        fk_tensor dy = g->nodes[nd->fused_relu].dout;
        if (g->bn_replicas)
            return fk_bn_relu_backward_sync(g->bn_replicas, x->rt, din, &dgamma, &dbeta, dy, nd->out, in, gamma,
                                            nd->saved[0], nd->saved[1], &s->d);
        return fk_bn_relu_backward(x->rt, din, &dgamma, &dbeta, dy, nd->out, in, gamma, nd->saved[0],
                                   nd->saved[1], &s->d);
    }
    if (g->bn_replicas)
        return fk_bn_backward_sync(g->bn_replicas, x->rt, din, &dgamma, &dbeta, nd->dout, in, gamma, nd->saved[0],
                                   nd->saved[1], &s->d);
    return fk_bn_backward(x->rt, din, &dgamma, &dbeta, nd->dout, in, gamma, nd->saved[0], nd->saved[1], &s->d);
}

static const fk_op bn_op = {"bn", FK_OP_BN, bn_shape, bn_plan, bn_forward, bn_backward};

int fk_g_bn(fk_graph *g, int x, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    return fk_layer_add(g, &bn_op, x, NULL, sizeof(bn_state), name);
}
