/* ReLU layer; runs in place when fk_graph_finish allows it, and inside its
 * input's kernels when fk_graph_plan fuses it. */
#include "layer_util.h"

#include "figkd/ops.h"

static fk_status relu_shape(fk_graph *g, fk_node *nd)
{
    fk_node_same_shape(nd, fk_node_input(g, nd, 0));
    return FK_OK;
}

/* A fused ReLU (nd->fused, src/graph/graph.c) has nothing to do: its
 * input's node (a BN or an add, in place) applied it and gates its
 * gradient; the calls stay, so a forward hooked on the ReLU (the step
 * test's record of its decisions) still sees its output. */
static fk_status relu_forward(const fk_exec *x, fk_node *nd)
{
    if (nd->fused)
        return FK_OK;
    return fk_relu_forward(x->rt, nd->out, fk_node_input(x->g, nd, 0)->out, fk_tensor_numel(&nd->out));
}

static fk_status relu_backward(const fk_exec *x, fk_node *nd)
{
    const fk_tensor *din = fk_node_din(x->g, nd, 0);
    if (!din || nd->fused)
        return FK_OK;
    return fk_relu_backward(x->rt, *din, nd->dout, nd->out, fk_tensor_numel(&nd->out));
}

static const fk_op relu_op = {"relu", FK_OP_RELU, relu_shape, NULL, relu_forward, relu_backward};

int fk_g_relu(fk_graph *g, int x, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    return fk_graph_add(g, &relu_op, &x, 1, NULL, name);
}
