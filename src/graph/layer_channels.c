/* Channel plumbing: concatenation, split (into two views of one tensor laid
 * out as [first part (N, Ca, HW) | second part (N, Cb, HW)]), channel
 * shuffle and flatten. */
#include "layer_util.h"

#include "figkd/ops.h"

/* ---- concat ---------------------------------------------------------------- */

static fk_status concat_shape(fk_graph *g, fk_node *nd)
{
    const fk_node *a = fk_node_input(g, nd, 0), *b = fk_node_input(g, nd, 1);
    if (a->ndim != 4 || b->ndim != 4 || a->h != b->h || a->w != b->w)
        return fk_error(FK_ERR_ARG, "%s: concatenating %dx%d and %dx%d maps", nd->name, a->h, a->w, b->h, b->w);
    fk_node_same_shape(nd, a);
    nd->c = a->c + b->c;
    return FK_OK;
}

static fk_status concat_forward(const fk_exec *x, fk_node *nd)
{
    const fk_node *a = fk_node_input(x->g, nd, 0), *b = fk_node_input(x->g, nd, 1);
    return fk_concat_forward(x->rt, nd->out, a->out, b->out, x->n, a->c, b->c, nd->h * nd->w);
}

static fk_status concat_backward(const fk_exec *x, fk_node *nd)
{
    const fk_node *a = fk_node_input(x->g, nd, 0), *b = fk_node_input(x->g, nd, 1);
    const fk_tensor *da = fk_node_din(x->g, nd, 0), *db = fk_node_din(x->g, nd, 1);
    if (!da && !db)
        return FK_OK;
    return fk_concat_backward(x->rt, da, db, nd->dout, x->n, a->c, b->c, nd->h * nd->w);
}

static const fk_op concat_op = {"concat", FK_OP_CONCAT, concat_shape, NULL, concat_forward,
                                concat_backward};

int fk_g_concat(fk_graph *g, int a, int b, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    return fk_graph_add(g, &concat_op, (int[]){a, b}, 2, NULL, name);
}

/* ---- split ------------------------------------------------------------------ */

typedef struct split_state {
    int ca;
} split_state;

static fk_status split_shape(fk_graph *g, fk_node *nd)
{
    split_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    if (x->ndim != 4 || s->ca <= 0 || s->ca >= x->c)
        return fk_error(FK_ERR_ARG, "%s: cannot split %d channels at %d", nd->name, x->c, s->ca);
    fk_node_same_shape(nd, x);
    return FK_OK;
}

static fk_status split_forward(const fk_exec *x, fk_node *nd)
{
    split_state *s = nd->state;
    int n = x->n, hw = nd->h * nd->w, cb = nd->c - s->ca;
    fk_tensor a = nd->out, b = nd->out;
    b.off += (size_t)n * s->ca * hw;
    return fk_split_forward(x->rt, a, b, fk_node_input(x->g, nd, 0)->out, n, s->ca, cb, hw);
}

static fk_status split_backward(const fk_exec *x, fk_node *nd)
{
    split_state *s = nd->state;
    const fk_tensor *din = fk_node_din(x->g, nd, 0);
    if (!din)
        return FK_OK;
    int n = x->n, hw = nd->h * nd->w, cb = nd->c - s->ca;
    fk_tensor da = nd->dout, db = nd->dout;
    db.off += (size_t)n * s->ca * hw;
    return fk_split_backward(x->rt, *din, &da, &db, n, s->ca, cb, hw);
}

static const fk_op split_op = {"split", FK_OP_SPLIT, split_shape, NULL, split_forward, split_backward};

/* One part of a split: channels [first, first + count) as a view. */
typedef struct view_state {
    int first, count;
} view_state;

static fk_status view_shape(fk_graph *g, fk_node *nd)
{
    view_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    fk_node_same_shape(nd, x);
    nd->c = s->count;
    nd->alias_sample_off = (size_t)s->first * x->h * x->w;
    return FK_OK;
}

static const fk_op view_op = {"view", FK_OP_VIEW, view_shape, NULL, NULL, NULL};

int fk_g_split(fk_graph *g, int x, int ca, int *a, int *b, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    *a = *b = -1;
    split_state *s = fk_layer_state(g, sizeof *s);
    if (!s)
        return -1;
    s->ca = ca;
    int sp = fk_graph_add(g, &split_op, &x, 1, s, name);
    if (sp < 0)
        return -1;
    int c = g->nodes[sp].c;
    view_state *va = fk_layer_state(g, sizeof *va), *vb = fk_layer_state(g, sizeof *vb);
    if (!va || !vb) {
        free(va);
        free(vb);
        return -1;
    }
    *va = (view_state){0, ca};
    *vb = (view_state){ca, c - ca};
    char part[120];
    snprintf(part, sizeof part, "%s[0]", name);
    *a = fk_graph_add(g, &view_op, &sp, 1, va, part);
    snprintf(part, sizeof part, "%s[1]", name);
    *b = fk_graph_add(g, &view_op, &sp, 1, vb, part);
    return sp;
}

/* ---- shuffle ---------------------------------------------------------------- */

typedef struct shuffle_state {
    int groups;
} shuffle_state;

static fk_status shuffle_shape(fk_graph *g, fk_node *nd)
{
    shuffle_state *s = nd->state;
    const fk_node *x = fk_node_input(g, nd, 0);
    if (x->ndim != 4 || s->groups <= 0 || x->c % s->groups)
        return fk_error(FK_ERR_ARG, "%s: cannot shuffle %d channels in %d groups", nd->name, x->c, s->groups);
    fk_node_same_shape(nd, x);
    return FK_OK;
}

static fk_status shuffle_forward(const fk_exec *x, fk_node *nd)
{
    shuffle_state *s = nd->state;
    return fk_shuffle_forward(x->rt, nd->out, fk_node_input(x->g, nd, 0)->out, x->n, nd->c, s->groups,
                              nd->h * nd->w);
}

static fk_status shuffle_backward(const fk_exec *x, fk_node *nd)
{
    shuffle_state *s = nd->state;
    const fk_tensor *din = fk_node_din(x->g, nd, 0);
    if (!din)
        return FK_OK;
    return fk_shuffle_backward(x->rt, *din, nd->dout, x->n, nd->c, s->groups, nd->h * nd->w);
}

static const fk_op shuffle_op = {"shuffle", FK_OP_SHUFFLE, shuffle_shape, NULL, shuffle_forward,
                                 shuffle_backward};

int fk_g_shuffle(fk_graph *g, int x, int groups, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    shuffle_state s = {groups};
    return fk_layer_add(g, &shuffle_op, x, &s, sizeof s, name);
}

/* ---- flatten ---------------------------------------------------------------- */

static fk_status flatten_shape(fk_graph *g, fk_node *nd)
{
    const fk_node *x = fk_node_input(g, nd, 0);
    nd->ndim = 2;
    nd->c = x->c * x->h * x->w;
    return FK_OK;
}

static const fk_op flatten_op = {"flatten", FK_OP_FLATTEN, flatten_shape, NULL, NULL, NULL};

int fk_g_flatten(fk_graph *g, int x, const char *fmt, ...)
{
    char name[96];
    FK_NAME(name, fmt);
    return fk_graph_add(g, &flatten_op, &x, 1, NULL, name);
}
