/* Helpers of src/train shared by runs, bench, eval and predict: models
 * from a config, weights, evaluation and pinned loader memory. */
#ifndef FIGKD_TRAIN_SESSION_H
#define FIGKD_TRAIN_SESSION_H

#include "figkd/checkpoint.h"
#include "figkd/config.h"
#include "figkd/data.h"
#include "figkd/model.h"
#include "figkd/trainer.h"

/* The runtime of the environment's options on this process's device: in
 * an MPI job, the one of its local rank (docs/scaling.md). */
fk_status fk_session_runtime(fk_runtime **out);
/* A model from the zoo for the config's data (classes, channels, input
 * size), on the device, initialised from seed. */
fk_status fk_session_model(fk_runtime *rt, const fk_config *cfg, const char *name, int classes, int channels,
                           uint64_t seed, fk_model **out);
/* Channels the loader produces for this config and data set. */
int fk_session_channels(const fk_config *cfg, const fk_dataset *ds);
/* The model a checkpoint is run as: `model` when given, else the one its
 * metadata names (figkd.model), else the config's student. */
fk_status fk_session_weights_model(const fk_config *cfg, const char *weights, const char *model, char *out,
                                   size_t n);
/* Load weights (parameters and buffers; optimizer state ignored). */
fk_status fk_session_load_weights(fk_runtime *rt, fk_model *m, const char *path);

/* Evaluate m on a split: top-1 and top-5 accuracy (fractions) and mean CE.
 * Uses s's buffers and accumulators (resets them). x and y hold a batch. */
fk_status fk_session_evaluate(fk_step *s, fk_model *m, fk_dataset *ds, const fk_config *cfg, cl_mem x, cl_mem y,
                              double *top1, double *top5, double *loss);

/* Evaluate a model by itself on a split at batch size `batch`: plans it
 * for evaluation and makes (then frees) the step buffers and the batch
 * buffers fk_session_evaluate needs. */
fk_status fk_session_evaluate_model(fk_runtime *rt, fk_model *m, fk_dataset *ds, const fk_config *cfg, int batch,
                                    double *top1, double *top5, double *loss);

/* Pinned host memory for the loader's ring (CL_MEM_ALLOC_HOST_PTR buffers,
 * mapped): uploads from it are DMA on GPUs. Allocations happen when a
 * loader is created and are released when it is freed; the allocator must
 * outlive its loaders. */
typedef struct fk_pinned {
    fk_allocator allocator;   /* pass &pinned.allocator in fk_loader_opts */
    fk_runtime *rt;
    int count, capacity;
    cl_mem *mems;
    void **ptrs;
} fk_pinned;

void fk_pinned_init(fk_pinned *p, fk_runtime *rt);
void fk_pinned_free(fk_pinned *p);

/* Before any plan is allocated: the device memory that training (train)
 * or evaluating `student`, with `teacher` (may be NULL) planned by
 * fk_model_plan_teacher(teacher, batch, teacher_feats), at `batch` needs
 * (what those plans allocate on this device: fk_model_bytes,
 * fk_model_teacher_bytes), with `per_image` more bytes per image (inputs,
 * step buffers), against the device's global memory. Too much is an error
 * that names the sizes and the largest batch size that fits. */
fk_status fk_session_check_memory(fk_runtime *rt, fk_model *student, bool train, fk_model *teacher,
                                  bool teacher_feats, int batch, size_t per_image);

#endif
