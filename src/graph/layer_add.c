/* Residual addition of two tensors of the same shape. */
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

static fk_status add_forward(const fk_exec *x, fk_node *nd)
{
    return fk_add_forward(x->rt, nd->out, fk_node_input(x->g, nd, 0)->out, fk_node_input(x->g, nd, 1)->out,
                          fk_tensor_numel(&nd->out));
}

static fk_status add_backward(const fk_exec *x, fk_node *nd)
{
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
