/* Max pool, average pool (count_include_pad, floor mode) and global
 * average pool layers. */
#include "layer_util.h"

#include "figkd/ops.h"

typedef struct pool_state {
    int k, stride, pad;
    fk_pool_dims d;
} pool_state;

static fk_status pool_shape(fk_graph *g, fk_node *nd)
{
    pool_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    if (x->ndim != 4 || s->k <= 0 || s->stride <= 0 || s->pad < 0 || 2 * s->pad > s->k)
        return fk_error(FK_ERR_ARG, "%s: bad pool (k %d, stride %d, pad %d)", nd->name, s->k, s->stride,
                        s->pad);
    if (x->h + 2 * s->pad < s->k || x->w + 2 * s->pad < s->k)
        return fk_error(FK_ERR_ARG, "%s: input %dx%d too small for kernel %d", nd->name, x->h, x->w, s->k);
    nd->c = x->c;
    nd->h = (x->h + 2 * s->pad - s->k) / s->stride + 1;
    nd->w = (x->w + 2 * s->pad - s->k) / s->stride + 1;
    if (nd->h <= 0 || nd->w <= 0)
        return fk_error(FK_ERR_ARG, "%s: input %dx%d too small for pool %d", nd->name, x->h, x->w, s->k);
    return FK_OK;
}

static size_t pool_plan(fk_graph *g, fk_node *nd, int n)
{
    pool_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    (void)fk_pool_dims_init(&s->d, n, x->c, x->h, x->w, s->k, s->stride, s->pad);
    return 0;
}

static fk_status maxpool_forward(const fk_exec *x, fk_node *nd)
{
    pool_state *s = nd->state;
    return fk_maxpool_forward(x->rt, nd->out, fk_node_input(x->g, nd, 0)->out, &s->d);
}

static fk_status maxpool_backward(const fk_exec *x, fk_node *nd)
{
    pool_state *s = nd->state;
    const fk_tensor *din = fk_node_din(x->g, nd, 0);
    if (!din)
        return FK_OK;
    return fk_maxpool_backward(x->rt, *din, nd->dout, fk_node_input(x->g, nd, 0)->out, &s->d);
}

static fk_status avgpool_forward(const fk_exec *x, fk_node *nd)
{
    pool_state *s = nd->state;
    return fk_avgpool_forward(x->rt, nd->out, fk_node_input(x->g, nd, 0)->out, &s->d);
}

static fk_status avgpool_backward(const fk_exec *x, fk_node *nd)
{
    pool_state *s = nd->state;
    const fk_tensor *din = fk_node_din(x->g, nd, 0);
    if (!din)
        return FK_OK;
    return fk_avgpool_backward(x->rt, *din, nd->dout, &s->d);
}

static const fk_op maxpool_op = {"maxpool", FK_OP_MAXPOOL, pool_shape, pool_plan, maxpool_forward,
                                 maxpool_backward};
static const fk_op avgpool_op = {"avgpool", FK_OP_AVGPOOL, pool_shape, pool_plan, avgpool_forward,
                                 avgpool_backward};

static int add_pool(fk_graph *g, const fk_op *op, int x, int k, int stride, int pad, const char *name)
{
    pool_state *s = fk_layer_state(g, sizeof *s);
    if (!s)
        return -1;
    s->k = k;
    s->stride = stride;
    s->pad = pad;
    return fk_graph_add(g, op, &x, 1, s, name);
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
