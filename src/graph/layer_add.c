/* Residual addition of two tensors of the same shape (with the ReLU after
 * it fused in when the plan fuses it). */
#include "layer_util.h"

#include "figkd/ops.h"

static fk_status add_shape(fk_graph *g, fk_node *nd)
{
    const fk_node *a = fk_node_input(g, nd, 0), *b = fk_node_input(g, nd, 1);
    if (a->ndim != b->ndim || a->c != b->c || a->h != b->h || a->w != b->w)
        return fk_error(FK_ERR_ARG, "%s: adding (%d, %d, %d) and (%d, %d, %d)", nd->name, a->c, a->h, a->w,
                        b->c, b->h, b->w);
    fk_node_same_shape(nd, a);
    return FK_OK;
}

/* With a fused ReLU (nd->fused_relu, src/graph/graph.c) the output is the
 * ReLU's (in place on the add's), and backward takes the ReLU's gradient. */
static fk_status add_forward(const fk_exec *x, fk_node *nd)
{
    return (nd->fused_relu >= 0 ? fk_add_relu_forward : fk_add_forward)(
        x->rt, nd->out, fk_node_input(x->g, nd, 0)->out, fk_node_input(x->g, nd, 1)->out,
        fk_tensor_numel(&nd->out));
}

static fk_status add_backward(const fk_exec *x, fk_node *nd)
{
    if (nd->fused_relu >= 0)
        return fk_add_relu_backward(x->rt, fk_node_din(x->g, nd, 0), fk_node_din(x->g, nd, 1),
                                    x->g->nodes[nd->fused_relu].dout, nd->out, fk_tensor_numel(&nd->out));
    for (int i = 0; i < 2; i++) {
        const fk_tensor *din = fk_node_din(x->g, nd, i);
        if (din)
            FK_TRY(fk_add_backward(x->rt, *din, nd->dout, fk_tensor_numel(&nd->out)));
    }
    return FK_OK;
}

static const fk_op add_op = {"add", FK_OP_ADD, add_shape, NULL, add_forward, add_backward};

int fk_g_add(fk_graph *g, int a, int b, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    return fk_graph_add(g, &add_op, (int[]){a, b}, 2, NULL, name);
}
