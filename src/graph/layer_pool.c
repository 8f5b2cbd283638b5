/* Max pool, average pool (count_include_pad, floor mode) and global
 * average pool layers. */
#include "layer_util.h"

#include "figkd/ops.h"

typedef struct pool_state {
    int k, stride, pad;
    bool max; /* max pool, else average pool */
    fk_pool_dims d;
} pool_state;

static fk_status pool_shape(fk_graph *g, fk_node *nd)
{
    pool_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    if (x->ndim != 4 || s->k <= 0 || s->stride <= 0 || s->pad < 0 || 2 * s->pad > s->k)
        return fk_error(FK_ERR_ARG, "%s: bad pool (k %d, stride %d, pad %d)", nd->name, s->k, s->stride,
                        s->pad);
    return fk_node_window_shape(nd, x, x->c, s->k, s->stride, s->pad, "pool");
}

static size_t pool_plan(fk_graph *g, fk_node *nd, int n)
{
    pool_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    (void)fk_pool_dims_init(&s->d, n, x->c, x->h, x->w, s->k, s->stride, s->pad);
    return 0;
}

static fk_status pool_forward(const fk_exec *x, fk_node *nd)
{
    pool_state *s = nd->state;
    fk_tensor in = fk_node_input(x->g, nd, 0)->out;
    return s->max ? fk_maxpool_forward(x->rt, nd->out, in, &s->d) : fk_avgpool_forward(x->rt, nd->out, in, &s->d);
}

static fk_status pool_backward(const fk_exec *x, fk_node *nd)
{
    pool_state *s = nd->state;
    const fk_tensor *din = fk_node_din(x->g, nd, 0);
    if (!din)
        return FK_OK;
    if (s->max)
        return fk_maxpool_backward(x->rt, *din, nd->dout, fk_node_input(x->g, nd, 0)->out, &s->d);
    return fk_avgpool_backward(x->rt, *din, nd->dout, &s->d);
}

static const fk_op maxpool_op = {"maxpool", FK_OP_MAXPOOL, pool_shape, pool_plan, pool_forward, pool_backward};
static const fk_op avgpool_op = {"avgpool", FK_OP_AVGPOOL, pool_shape, pool_plan, pool_forward, pool_backward};

static int add_pool(fk_graph *g, const fk_op *op, int x, int k, int stride, int pad, const char *name)
{
    pool_state s = {.k = k, .stride = stride, .pad = pad, .max = op == &maxpool_op};
    return fk_layer_add(g, op, x, &s, sizeof s, name);
}

int fk_g_maxpool(fk_graph *g, int x, int k, int stride, int pad, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    return add_pool(g, &maxpool_op, x, k, stride, pad, name);
}

int fk_g_avgpool(fk_graph *g, int x, int k, int stride, int pad, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    return add_pool(g, &avgpool_op, x, k, stride, pad, name);
}

/* ---- global average pool ------------------------------------------------ */

static fk_status gap_shape(fk_graph *g, fk_node *nd)
{
    const fk_node *x = fk_node_input(g, nd, 0);
    if (x->ndim != 4)
        return fk_error(FK_ERR_ARG, "%s: global pool needs a 4-d input", nd->name);
    nd->ndim = 2;
    nd->c = x->c;
    return FK_OK;
}

static fk_status gap_forward(const fk_exec *x, fk_node *nd)
{
    const fk_node *in = fk_node_input(x->g, nd, 0);
    return fk_gap_forward(x->rt, nd->out, in->out, x->n, in->c, in->h * in->w);
}

static fk_status gap_backward(const fk_exec *x, fk_node *nd)
{
    const fk_node *in = fk_node_input(x->g, nd, 0);
    const fk_tensor *din = fk_node_din(x->g, nd, 0);
    if (!din)
        return FK_OK;
    return fk_gap_backward(x->rt, *din, nd->dout, x->n, in->c, in->h * in->w);
}

static const fk_op gap_op = {"gap", FK_OP_GAP, gap_shape, NULL, gap_forward, gap_backward};

int fk_g_gap(fk_graph *g, int x, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    return fk_graph_add(g, &gap_op, &x, 1, NULL, name);
}
