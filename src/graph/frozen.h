/* Private to src/graph: what the frozen plan (frozen.c) needs from graph.c
 * and from the conv layer. */
#ifndef FIGKD_GRAPH_FROZEN_H
#define FIGKD_GRAPH_FROZEN_H

#include "figkd/graph.h"

/* nd's output shape for batch n over base, at element offset off */
fk_tensor fk_graph_view(fk_tensor base, const fk_node *nd, int n, size_t off);
/* Fuse each ReLU that runs in place on a BN's or an add's output into that
 * node (fk_node.fused_relu, fused), or with on false undo every fusion. */
void fk_graph_fuse_relus(fk_graph *g, bool on);
/* A dry run of a plan (fk_graph_plan_bytes, fk_graph_frozen_plan_bytes)
 * plans in the graph's own fields: begin keeps the graph and a copy of its
 * nodes and gives it empty arenas; end frees what the dry run requested
 * and puts everything back, the ops' states re-planned for the batch of
 * the plan the graph holds (when it holds one). */
typedef struct fk_plan_keep {
    fk_graph g;
    fk_node *nodes;
} fk_plan_keep;
fk_status fk_plan_keep_begin(fk_graph *g, fk_plan_keep *k);
void fk_plan_keep_end(fk_graph *g, fk_plan_keep *k);
/* A plan for batch n can be made (finished graph, n > 0), else the error. */
fk_status fk_graph_plan_check(const fk_graph *g, int n);
/* Release a frozen plan (nothing when there is none). */
void fk_frozen_free(fk_graph *g);
/* The frozen plan's forward walk (fk_graph_forward with a frozen plan). */
fk_status fk_frozen_forward(const fk_exec *x);
/* Conv node nd (planned) with a folded weight and bias, residual and ReLU
 * (layer_conv.c): out = relu?(conv(in, weight) + bias + res). */
fk_status fk_conv_node_fused(const fk_exec *x, const fk_node *nd, fk_tensor out, fk_tensor weight,
                             const fk_tensor *bias, const fk_tensor *res, bool relu);

#endif
