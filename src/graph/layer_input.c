/* The graph's input: the caller's tensor, no work. */
#include "layer_util.h"

typedef struct input_state {
    int c, h, w;
} input_state;

static fk_status input_shape(fk_graph *g, fk_node *nd)
{
    (void)g;
    input_state *s = nd->state;
    if (s->c <= 0 || s->h <= 0 || s->w <= 0)
        return fk_error(FK_ERR_ARG, "input: bad shape (%d, %d, %d)", s->c, s->h, s->w);
    nd->c = s->c;
    nd->h = s->h;
    nd->w = s->w;
    return FK_OK;
}

static const fk_op input_op = {"input", FK_OP_INPUT, input_shape, NULL, NULL, NULL};

int fk_g_input(fk_graph *g, int c, int h, int w)
{
    input_state *s = fk_layer_state(g, sizeof *s);
    if (!s)
        return -1;
    *s = (input_state){c, h, w};
    return fk_graph_add(g, &input_op, NULL, 0, s, "input");
}
