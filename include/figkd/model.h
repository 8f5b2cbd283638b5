/* figkd-cl models: the zoo (models/, a registry by name), parameter
 * initialisation from a seed, device upload, forward/backward through the
 * graph, and weights in safetensors with PyTorch state_dict names.
 *
 * Building a model (fk_model_build) is host-only; fk_model_to_device
 * allocates the parameter store and writes the initial values. */
#ifndef FIGKD_MODEL_H
#define FIGKD_MODEL_H

#include "figkd/graph.h"

typedef struct fk_model_opts {
    int num_classes;   /* > 0 */
    int input_size;    /* square input side; 0 = the family's native size */
    int in_channels;   /* 0 = 3 */
} fk_model_opts;

typedef struct fk_model_entry {
    const char *name;      /* "resnet8x4" */
    const char *family;    /* "resnet_cifar" */
    const char *source;    /* the PyTorch definition it mirrors */
    int native_input;      /* 32, or 224 for the ImageNet-layout models */
    int a, b;              /* family-specific arguments (depth, width, ...) */
    fk_status (*build)(fk_graph *g, const struct fk_model_entry *e, const fk_model_opts *o);
} fk_model_entry;

/* The zoo, defined in models/ (registry.c), which builds on the graph:
 * all models, in a fixed order; *count set. */
const fk_model_entry *fk_model_registry(int *count);
/* The entry called name (exact), or NULL. */
const fk_model_entry *fk_model_find(const char *name);

typedef struct fk_model {
    const fk_model_entry *entry;
    fk_model_opts opts;    /* with defaults filled in */
    fk_graph graph;        /* graph.params: the parameter store */
    fk_runtime *rt;        /* set by fk_model_to_device */
} fk_model;

/* Build the graph and register the parameters (host only; models/registry.c).
 * A name not in the registry is FK_ERR_ARG with a message listing the names. */
fk_status fk_model_build(const char *name, const fk_model_opts *opts, fk_model **out);
void fk_model_free(fk_model *m);

/* Initial values of every parameter and buffer as the PyTorch modules set
 * them, from a seed (our own RNG: same seed, same numbers). params has
 * graph.params.param_count floats, buffers buffer_count. */
void fk_model_init_host(const fk_model *m, uint64_t seed, float *params, float *buffers);
/* Allocate the parameter store on rt's device and write fk_model_init_host
 * values. */
fk_status fk_model_to_device(fk_runtime *rt, fk_model *m, uint64_t seed);

/* Memory plan for a batch size (train: gradients and saved tensors too). */
fk_status fk_model_plan(fk_model *m, int batch, bool train);
/* The plan of a frozen teacher for a batch size: fk_graph_freeze (BN
 * folded into the convs from the weights it holds now, fused epilogues,
 * buffers reused by lifetime; its gradient and momentum buffers are
 * released), or with FIGKD_FOLD_TEACHER=0 or feats (a method reads the
 * teacher's feature taps, which the frozen plan does not keep) the plain
 * eval plan. Only eval forwards follow. */
fk_status fk_model_plan_teacher(fk_model *m, int batch, bool feats);
/* Device bytes the model holds now: its parameter store and its plan
 * (plain or frozen) as allocated. */
size_t fk_model_planned_bytes(const fk_model *m);
/* *bytes: the device bytes of the model after fk_model_plan(m, batch,
 * train): its parameter store (parameters, gradients, momentum, buffers)
 * and the plan's arenas on the model's device, without planning (a plan
 * the model holds stays as it is). */
fk_status fk_model_bytes(fk_model *m, int batch, bool train, size_t *bytes);
/* The same after fk_model_plan_teacher(m, batch, feats): the frozen plan
 * and the store without gradients and momentum, or the eval plan. */
fk_status fk_model_teacher_bytes(fk_model *m, int batch, bool feats, size_t *bytes);
/* input (N, C, S, S) -> *logits (N, num_classes), a view into the arena
 * valid until the next forward. */
fk_status fk_model_forward(fk_model *m, fk_tensor input, bool train, fk_tensor *logits);
/* Gradients of every parameter (graph.params.grads, overwritten) from the
 * gradient of the loss w.r.t. the logits of the last train forward. */
fk_status fk_model_backward(fk_model *m, fk_tensor dlogits);
/* fk_model_backward in two parts (fk_graph_zero_grad, fk_graph_backward_from):
 * a loss on features adds its gradient into fk_model_feats' dstage/dembed
 * in between. */
fk_status fk_model_zero_grad(fk_model *m);
fk_status fk_model_backward_from(fk_model *m, fk_tensor dlogits);
/* The stage outputs and embedding the model's family exposes (mdistiller's
 * feats["feats"] and feats["pooled_feat"]), views of the current plan. */
void fk_model_feats(const fk_model *m, fk_feats *out);

/* Weights: every parameter and buffer under its state_dict name;
 * num_batches_tracked as I64, the rest F32: a checkpoint without momentum
 * (fk_checkpoint_save/load, the one codec). Load checks every name, shape
 * and dtype and reports the first mismatch by name. */
fk_status fk_model_save(fk_model *m, const char *path, const char *const *meta_keys,
                        const char *const *meta_values, size_t n_meta);
fk_status fk_model_load(fk_model *m, const char *path);

/* Trainable parameters (elements) and multiply-adds per sample of the conv
 * and linear layers at the model's input size. */
size_t fk_model_param_count(const fk_model *m);
double fk_model_macs(const fk_model *m);

#endif
