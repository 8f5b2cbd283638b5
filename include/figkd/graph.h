/* figkd-cl layer graph: nodes in build order, each running one op from a
 * small table (struct fk_op); a memory plan per (batch size, train/eval) in
 * two activation arenas; the forward and backward walks.
 *
 * Building a graph is host-only: shapes are per sample and parameters are
 * registered in the graph's fk_param_store (PyTorch state_dict names, in
 * state_dict order) without touching a device. fk_graph_plan allocates the
 * activations once; nothing is allocated inside a step.
 *
 * Each layer type lives in src/graph/layer_<op>.c with a private struct that
 * no other layer knows; models/ build graphs with the fk_g_* functions, which
 * return the new node's id (or -1 once any call failed: the first error is
 * kept in fk_graph.status, so builders check once at the end). */
#ifndef FIGKD_GRAPH_H
#define FIGKD_GRAPH_H

#include "figkd/runtime.h"

#include <stdbool.h>

typedef enum fk_op_kind {
    FK_OP_INPUT,
    FK_OP_CONV,
    FK_OP_BN,
    FK_OP_RELU,
    FK_OP_MAXPOOL,
    FK_OP_AVGPOOL,
    FK_OP_GAP,
    FK_OP_LINEAR,
    FK_OP_ADD,
    FK_OP_CONCAT,
    FK_OP_SPLIT,
    FK_OP_SHUFFLE,
    FK_OP_FLATTEN,
    FK_OP_VIEW,       /* one part of a split: a view, no work */
} fk_op_kind;

#define FK_NODE_MAX_IN 2
#define FK_NODE_MAX_PARAM 5
#define FK_NODE_MAX_SAVED 2

typedef struct fk_graph fk_graph;
typedef struct fk_node fk_node;

#define FK_FEAT_MAX 6 /* stage outputs a graph may expose */

/* The features a model exposes to the distillation methods (mdistiller's
 * feats["feats"][i], the output of stage i, and feats["pooled_feat"], the
 * embedding the classifier reads), as views of its planned activations:
 * valid after a forward until the next one. For a train plan the
 * gradients are the nodes' own: what a loss ADDS into them after
 * fk_graph_zero_grad flows back with the logits' gradient in
 * fk_graph_backward_from. */
typedef struct fk_feats {
    int count;                      /* stage outputs (0: the family exposes none) */
    fk_tensor stage[FK_FEAT_MAX];   /* (N, C, H, W) */
    fk_tensor dstage[FK_FEAT_MAX];  /* their gradients; buf NULL without a train plan */
    fk_tensor embed, dembed;        /* (N, D); buf NULL when the family exposes none */
} fk_feats;

/* What an op's forward and backward see. */
typedef struct fk_exec {
    fk_runtime *rt;
    fk_graph *g;
    int n;             /* batch size of the plan */
    bool train;        /* forward only: train-mode BN */
    fk_tensor work;    /* conv scratch, max over the layers */
} fk_exec;

typedef struct fk_op {
    const char *name;
    fk_op_kind kind;
    /* Output shape (node->ndim, c, h, w), parameters, MACs and saved sizes
     * from the inputs and the op's state; host only. */
    fk_status (*shape)(fk_graph *g, fk_node *node);
    /* Batch-dependent state for a plan of batch n; returns the scratch
     * floats the op needs (0 for none). NULL when there is none. */
    size_t (*plan)(fk_graph *g, fk_node *node, int n);
    fk_status (*forward)(const fk_exec *x, fk_node *node);
    /* ADDS into the gradients of its inputs (those with has_grad) and of
     * its parameters. NULL: nothing to do (views). */
    fk_status (*backward)(const fk_exec *x, fk_node *node);
} fk_op;

/* How a parameter is initialised (the PyTorch module's own init). */
typedef enum fk_init_kind {
    FK_INIT_ZERO,
    FK_INIT_ONE,
    FK_INIT_NORMAL,   /* N(0, a^2) */
    FK_INIT_UNIFORM,  /* U(-a, a) */
} fk_init_kind;

typedef struct fk_init_rule {
    fk_init_kind kind;
    double a;
} fk_init_rule;

/* Family-wide init choices, read by the conv and linear layers. */
typedef enum fk_conv_init {
    FK_CONV_INIT_DEFAULT,  /* PyTorch default: kaiming_uniform(a=sqrt(5)), bias U(1/sqrt(fan_in)) */
    FK_CONV_INIT_FAN_OUT,  /* kaiming_normal(fan_out, relu) = N(0, 2/(k*k*out)), bias 0 */
} fk_conv_init;

typedef enum fk_linear_init {
    FK_LINEAR_INIT_DEFAULT,     /* weight U(1/sqrt(in)), bias U(1/sqrt(in)) */
    FK_LINEAR_INIT_ZERO_BIAS,   /* default weight, bias 0 (WRN) */
    FK_LINEAR_INIT_NORMAL001,   /* weight N(0, 0.01^2), bias 0 (VGG, MobileNetV2) */
} fk_linear_init;

struct fk_node {
    char name[96];              /* module path, e.g. "layer1.0.conv1" */
    const fk_op *op;
    int in[FK_NODE_MAX_IN];     /* input node ids; -1 unused */
    int nin;
    int ndim;                   /* 4: (N, C, H, W); 2: (N, C) */
    int c, h, w;                /* output shape per sample (h = w = 1 when ndim 2) */
    int param[FK_NODE_MAX_PARAM]; /* indices in the graph's param store; -1 unused */
    int nparam;
    size_t saved_elems[FK_NODE_MAX_SAVED]; /* per plan, train only (BN: C, C) */
    int nsaved;
    double macs;                /* multiply-adds per sample (conv, linear) */
    void *state;                /* the op's private struct (owned) */

    /* set by fk_graph_finish */
    int consumers;
    int alias;                  /* output is a view of node alias's output (-1: own memory) */
    size_t alias_sample_off;    /* element offset of the view per sample of batch */
    bool grad_alias;            /* the gradient is a view too (flatten, split parts) */
    bool has_grad;              /* false for the input and what only depends on it without params */

    /* set by fk_graph_plan */
    int fused_relu;             /* a BN or add: the in-place ReLU on its output that its own forward
                                   applies and its backward gates by (-1: none; FIGKD_FUSE=0: never).
                                   It keeps no gradient of its own: it reads the ReLU's dout */
    bool fused;                 /* a ReLU whose work its input's node does (fused_relu): nothing to run */
    int act_req, grad_req, saved_req[FK_NODE_MAX_SAVED];
    int grad_zero_at;           /* train: the gradient is zeroed before this node's backward
                                   (its last writer; the graph's count for the output) */
    fk_tensor out;              /* (N, C, H, W) or (N, C) */
    fk_tensor dout;             /* same shape; valid when has_grad and the plan trains */
    fk_tensor saved[FK_NODE_MAX_SAVED];
};

struct fk_graph {
    fk_node *nodes;
    int count, capacity;
    fk_param_store params;      /* registered at build, allocated by the model */
    fk_init_rule *init;         /* one per param store item */
    int init_capacity;
    fk_conv_init conv_init;
    fk_linear_init linear_init;
    fk_status status;           /* first build error */
    bool finished;

    /* plan */
    int plan_n;
    bool plan_train;
    bool planned;
    fk_arena act;               /* activations, saved tensors, scratch */
    fk_arena grad;              /* activation gradients (zeroed per step) */
    int work_req;
    size_t work_elems;
    struct fk_frozen *frozen;   /* a frozen plan (fk_graph_freeze) instead of the arenas */
    fk_runtime *plan_rt;        /* while planning: the device (NULL: sizes for any device) */

    /* data parallelism (set by src/train/ranks.c); NULL: one process */
    /* after the backward of a node with parameters is enqueued: grads_from
     * is the lowest gradient offset of its parameters (include/figkd/parallel_cl.h) */
    fk_status (*after_backward)(void *ctx, size_t grads_from);
    void *after_backward_ctx;
    const struct fk_replicas *bn_replicas; /* train-mode BN over every replica's batch (fk_bn_*_sync) */

    /* feature taps, marked by the model's builder (fk_g_tap_stage, fk_g_tap_embed) */
    int feat[FK_FEAT_MAX];      /* node of stage output i */
    int nfeat;
    int embed;                  /* node of the embedding; -1 none */

    /* the input's gradient is wanted (a method's connector layers, whose
     * input is a student feature): set before fk_graph_finish; after a
     * backward nodes[0].dout holds it */
    bool input_grad;
};

void fk_graph_init(fk_graph *g);
void fk_graph_free(fk_graph *g);

/* Add a node with op, inputs and the op's state (owned by the graph from
 * here on, also on failure); runs op->shape. Returns the id or -1. */
int fk_graph_add(fk_graph *g, const fk_op *op, const int *in, int nin, void *state,
                 const char *name);
/* Register a parameter (or buffer) named "<node name>.<suffix>" for node,
 * with its init rule. Returns the store index or -1 (sets g->status). */
int fk_graph_param(fk_graph *g, fk_node *node, const char *suffix, int ndim, const int *shape,
                   bool is_buffer, fk_init_rule rule);
/* Consumers, views, in-place ReLUs and gradient flags; call once after
 * the last node. The last node is the output (logits); it keeps memory of
 * its own (a ReLU there is not in place). */
fk_status fk_graph_finish(fk_graph *g);

/* Memory plan for batch n (train: also activation gradients and saved
 * tensors). Frees an earlier plan. Needs the runtime for the device's
 * maximum allocation. Unless rt->opts.fuse is off, each ReLU that runs in
 * place on a BN's or a residual add's output is fused into that node
 * (fk_node.fused_relu): the same floats in fewer passes and launches. */
fk_status fk_graph_plan(fk_runtime *rt, fk_graph *g, int n, bool train);
/* *bytes: the device bytes fk_graph_plan(rt, g, n, train) would allocate
 * (its arenas: activations, saved tensors, gradients shared by lifetime,
 * the work space of the device's choices), without allocating: for a
 * memory check first. rt NULL: work space for any device. A plan the
 * graph holds stays as it is. */
fk_status fk_graph_plan_bytes(fk_runtime *rt, fk_graph *g, int n, bool train, size_t *bytes);
/* The frozen plan of an inference-only graph (a teacher) for batch n, in
 * place of fk_graph_plan(rt, g, n, false), from the weights the graph holds
 * now (later changes to them are not seen): every conv followed by a
 * BatchNorm gets the BN folded into a copy of its weight and a bias, and
 * the ReLU, or the residual add (when the add's other input is ready) and
 * the ReLU after it, that take the BN's output run in the conv's output
 * step; no saved tensors, and each activation's buffer is reused once its
 * last reader has run (a few buffers of the largest size for a ResNet).
 * fk_graph_forward with train = false runs it; a train forward is refused. */
fk_status fk_graph_freeze(fk_runtime *rt, fk_graph *g, int n);
/* *bytes: the device bytes fk_graph_freeze(rt, g, n) would allocate
 * (folded weights, buffers, work space), without allocating; as
 * fk_graph_plan_bytes. */
fk_status fk_graph_frozen_plan_bytes(fk_runtime *rt, fk_graph *g, int n, size_t *bytes);
/* Device bytes of the frozen plan (0 without one). */
size_t fk_graph_frozen_bytes(const fk_graph *g);
/* Device bytes of the plan as allocated (arenas, or the frozen plan). */
size_t fk_graph_planned_bytes(const fk_graph *g);
/* input (N, C, H, W) as the plan's batch; returns the last node's output. */
fk_status fk_graph_forward(fk_runtime *rt, fk_graph *g, fk_tensor input, bool train, fk_tensor *out);
/* Zero the activation gradients (one fill per arena chunk) and the
 * parameter gradients, copy dout into the last node's gradient and walk
 * back. Needs a train plan and a train forward before it. */
fk_status fk_graph_backward(fk_runtime *rt, fk_graph *g, fk_tensor dout);
/* fk_graph_backward in two parts, so that a loss can add gradients into
 * feature taps in between: zero the activation and parameter gradients;
 * then copy dout into the last node's gradient and walk back (nothing is
 * zeroed: what was added into any node's gradient flows back too). */
fk_status fk_graph_zero_grad(fk_runtime *rt, fk_graph *g);
fk_status fk_graph_backward_from(fk_runtime *rt, fk_graph *g, fk_tensor dout);
/* The graph's feature taps as views of the plan (shapes only when not
 * planned: buffers NULL). */
void fk_graph_feats(const fk_graph *g, fk_feats *out);

/* ---- builders (src/graph/layer_*.c) ------------------------------------ */

/* The graph's input (C, H, W); the first node of every graph. */
int fk_g_input(fk_graph *g, int c, int h, int w);
int fk_g_conv(fk_graph *g, int x, int c_out, int k, int stride, int pad, int groups, bool bias,
              const char *fmt, ...) FK_PRINTF(9, 10);
int fk_g_bn(fk_graph *g, int x, const char *fmt, ...) FK_PRINTF(3, 4);
int fk_g_relu(fk_graph *g, int x, const char *fmt, ...) FK_PRINTF(3, 4);
int fk_g_maxpool(fk_graph *g, int x, int k, int stride, int pad, const char *fmt, ...) FK_PRINTF(6, 7);
int fk_g_avgpool(fk_graph *g, int x, int k, int stride, int pad, const char *fmt, ...) FK_PRINTF(6, 7);
/* Global average pool: (C, H, W) -> (C). */
int fk_g_gap(fk_graph *g, int x, const char *fmt, ...) FK_PRINTF(3, 4);
int fk_g_linear(fk_graph *g, int x, int out_features, bool bias, const char *fmt, ...) FK_PRINTF(5, 6);
int fk_g_add(fk_graph *g, int a, int b, const char *fmt, ...) FK_PRINTF(4, 5);
int fk_g_concat(fk_graph *g, int a, int b, const char *fmt, ...) FK_PRINTF(4, 5);
/* Split channels into the first ca and the rest: *a and *b are view nodes. */
int fk_g_split(fk_graph *g, int x, int ca, int *a, int *b, const char *fmt, ...) FK_PRINTF(6, 7);
int fk_g_shuffle(fk_graph *g, int x, int groups, const char *fmt, ...) FK_PRINTF(4, 5);
/* (C, H, W) -> (C*H*W). */
int fk_g_flatten(fk_graph *g, int x, const char *fmt, ...) FK_PRINTF(3, 4);
/* Mark node x as the next stage output (mdistiller's feats["feats"][i]) or
 * as the embedding (feats["pooled_feat"]); return x. A tapped node must
 * keep its own memory: not a view, and not rewritten by an in-place ReLU
 * after it (fk_graph_finish checks). */
int fk_g_tap_stage(fk_graph *g, int x);
int fk_g_tap_embed(fk_graph *g, int x);

/* Helpers for the layer files. */
static inline fk_node *fk_graph_node(fk_graph *g, int id) { return &g->nodes[id]; }
static inline fk_node *fk_node_input(fk_graph *g, const fk_node *node, int i)
{
    return &g->nodes[node->in[i]];
}
/* Gradient of input i when it wants one, else NULL. */
const fk_tensor *fk_node_din(fk_graph *g, const fk_node *node, int i);
static inline fk_tensor fk_node_param(fk_graph *g, const fk_node *node, int i)
{
    return fk_params_tensor(&g->params, node->param[i]);
}
static inline fk_tensor fk_node_dparam(fk_graph *g, const fk_node *node, int i)
{
    return fk_params_grad(&g->params, node->param[i]);
}
/* Number of trainable parameters (elements, not counting buffers). */
size_t fk_graph_param_elems(const fk_graph *g);
double fk_graph_macs(const fk_graph *g);

#endif
