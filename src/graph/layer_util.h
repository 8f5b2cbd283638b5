/* Shared helpers of the layer files (src/graph/layer_*.c). */
#ifndef FIGKD_GRAPH_LAYER_UTIL_H
#define FIGKD_GRAPH_LAYER_UTIL_H

#include "figkd/graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Format a node name into buf. */
#define FK_NAME(buf, fmt)                                                      \
    do {                                                                       \
        va_list ap_;                                                           \
        va_start(ap_, fmt);                                                    \
        vsnprintf((buf), sizeof(buf), (fmt), ap_);                             \
        va_end(ap_);                                                           \
    } while (0)

/* Allocate a layer's private state; on failure record the error in g. */
static inline void *fk_layer_state(fk_graph *g, size_t size)
{
    void *p = calloc(1, size);
    if (!p && g->status == FK_OK)
        g->status = fk_error(FK_ERR_NOMEM, "graph: out of host memory");
    return p;
}

/* Add a node of op with one input x and a private copy of the size bytes
 * at state (zeros when state is NULL); -1 when out of memory. */
static inline int fk_layer_add(fk_graph *g, const fk_op *op, int x, const void *state, size_t size,
                               const char *name)
{
    void *s = fk_layer_state(g, size);
    if (!s)
        return -1;
    if (state)
        memcpy(s, state, size);
    return fk_graph_add(g, op, &x, 1, s, name);
}

/* nd takes x's shape. */
static inline void fk_node_same_shape(fk_node *nd, const fk_node *x)
{
    nd->ndim = x->ndim;
    nd->c = x->c;
    nd->h = x->h;
    nd->w = x->w;
}

/* nd's (C, H, W) from x through a k x k window with stride and pad (floor
 * mode) and c channels; `what` names the window in the second message. */
static inline fk_status fk_node_window_shape(fk_node *nd, const fk_node *x, int c, int k, int stride, int pad,
                                             const char *what)
{
    if (x->h + 2 * pad < k || x->w + 2 * pad < k)
        return fk_error(FK_ERR_ARG, "%s: input %dx%d too small for kernel %d", nd->name, x->h, x->w, k);
    nd->c = c;
    nd->h = (x->h + 2 * pad - k) / stride + 1;
    nd->w = (x->w + 2 * pad - k) / stride + 1;
    if (nd->h <= 0 || nd->w <= 0)
        return fk_error(FK_ERR_ARG, "%s: input %dx%d too small for %s %d", nd->name, x->h, x->w, what, k);
    return FK_OK;
}

#endif
