/* Shared helpers of the layer files (src/graph/layer_*.c). */
#ifndef FIGKD_GRAPH_LAYER_UTIL_H
#define FIGKD_GRAPH_LAYER_UTIL_H

#include "figkd/graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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

#endif
