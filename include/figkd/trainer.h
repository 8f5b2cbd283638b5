/* One training step of a student (optionally distilled from a frozen
 * teacher): forward, loss (CE + the method's term), backward, SGD, and the
 * metrics accumulated on the device. Shared by `train`, `bench` and the
 * step tests. */
#ifndef FIGKD_TRAINER_H
#define FIGKD_TRAINER_H

#include "figkd/config.h"
#include "figkd/model.h"
#include "figkd/optim.h"

/* Device accumulators (floats in fk_step.acc) */
/* Accumulators of a step on the device: the first FK_ACC_COUNT are kept in
 * checkpoints; FK_ACC_NONFINITE (rows of NaN/Inf logits in an evaluation)
 * only lives through one evaluation. */
enum { FK_ACC_CE, FK_ACC_TERM, FK_ACC_TOP1, FK_ACC_TOP5, FK_ACC_COUNT, FK_ACC_NONFINITE = FK_ACC_COUNT, FK_ACC_SLOTS };

/* The loss of a config's [distill] section: its method's row sets the
 * weights and the method's values (fk_loss_spec is in figkd/method.h; for
 * the teacher stage, {.method = FK_METHOD_CE, .ce_weight = 1}). */
fk_status fk_loss_spec_from_config(const fk_config *cfg, int classes, fk_loss_spec *out);

typedef struct fk_step {
    fk_runtime *rt;
    fk_model *student, *teacher;   /* teacher NULL when the method needs none */
    fk_loss_spec loss;
    int batch, classes;
    cl_mem dlogits;                /* (N, classes) */
    cl_mem values;                 /* FK_STEP_VALUES: [ce, term] of the last step (sums over the
                                    * views), [2] an evaluation's CE, [4, 5] the strong view's */
    cl_mem acc;                    /* FK_ACC_COUNT accumulators, zeroed by fk_step_reset_acc */
    cl_mem work;                   /* loss scratch */
    size_t work_elems;
    struct fk_grad_sync *sync;     /* gradients averaged over the ranks before SGD (NULL: one process) */
    struct fk_logit_gather *gather; /* the term over every rank's logits (NULL: this rank's) */
    int views;                     /* fk_method_views of the loss: x holds views * batch images */
    cl_mem grads_weak;             /* views 2: the weak view's parameter gradients */
    fk_model *params;              /* the method's own parameters (its row's build_params), or NULL */
} fk_step;

#define FK_STEP_VALUES 6

/* Per-part times in seconds, measured with a queue finish after each part
 * (bench only: this syncs the device five times a step). */
typedef struct fk_step_times {
    double teacher_forward, student_forward, loss, backward, update;
    double rank_wait;     /* data parallel: waiting for the slowest rank's backward (a barrier) */
    double sync;          /* data parallel: then the gradients' allreduce */
} fk_step_times;

fk_status fk_step_init(fk_step *s, fk_runtime *rt, fk_model *student, fk_model *teacher, const fk_loss_spec *loss,
                       int batch, int classes);
void fk_step_free(fk_step *s);
fk_status fk_step_reset_acc(fk_step *s);

/* One SGD step on x (N, C, H, W) and int32 labels y, both at offset 0; epoch
 * is 0-based (a method's warm-up rule reads it). A method of two views
 * (fk_method_views) reads x as (2, N, C, H, W): the weak views, then the
 * strong views of the same samples. */
fk_status fk_step_run(fk_step *s, cl_mem x, cl_mem y, long epoch, const fk_sgd *sgd, fk_step_times *times);

/* Evaluation forward of n <= batch rows: adds n * CE into acc[FK_ACC_CE]
 * and the top-1/top-5 hits. */
fk_status fk_step_eval(fk_step *s, fk_model *m, cl_mem x, cl_mem y, int n);

#endif
