/* One training stage (teacher or student) and the policy around it:
 * signals, checkpoints and resume, metrics and the progress line. Private
 * to src/train. */
#ifndef FIGKD_TRAIN_STAGE_H
#define FIGKD_TRAIN_STAGE_H

#include "figkd/parallel_cl.h"
#include "train/session.h"

#include <stdio.h>

typedef struct stage {
    fk_runtime *rt;
    const fk_config *cfg;
    const char *label;          /* "teacher" or "student" */
    char dir[1100];             /* out_dir or out_dir/teacher */
    fk_model *net, *teacher;
    const fk_optim_config *opt;
    fk_loss_spec loss;
    fk_model *method_params;    /* the step's fk_step.params (the method's own), saved beside net; or NULL */
    fk_dataset *train, *test;
    int classes;
    uint64_t seed;
    bool resume;
    double later_work;          /* the stages after this one, in this stage's images (for the ETA) */
    /* results */
    double best_acc, last_acc;
    int best_epoch;
    bool interrupted;
} stage;

/* Train a stage from scratch or, with S->resume, from S->dir/last.safetensors. */
fk_status fk_stage_run(stage *S);

/* ---- signals (signals.c) ---- */

/* Catch SIGINT and SIGTERM: the first asks the run to stop after its step,
 * a second ends the process at once (after the checkpoint being written);
 * the same signal twice within half a second counts once. */
void fk_train_catch_signals(void);
/* The signal that asked for a stop, 0 = none. */
int fk_train_stop_signal(void);
/* Take another rank's stop signal as this process's own (when it has none). */
void fk_train_adopt_stop(int sig);
/* Around a checkpoint write: a second signal during it stops the process
 * only once the write has completed (when on goes false). */
void fk_train_saving(bool on);

/* ---- provenance and the out_dir (provenance.c) ---- */

/* Metadata every checkpoint carries beside the model's name. */
typedef struct fk_provenance {
    char classes[16], input[16], dataset[32], hash[17];
} fk_provenance;

void fk_provenance_keys(const fk_config *cfg, int classes, fk_provenance *p);
/* A teacher checkpoint's metadata against the config: another model, class
 * count, input size or data set is an error saying what differs (a file
 * without such metadata passes: nothing to compare). */
fk_status fk_provenance_check_teacher(const fk_config *cfg, int classes, fk_st_file *meta);
/* Before a run writes into out_dir: a run already there needs resume (and
 * an unchanged config) or force (its files move aside); resume needs a
 * checkpoint. */
fk_status fk_provenance_prepare_dir(const fk_config *cfg, bool resume, bool force);
/* The checks of fk_provenance_prepare_dir alone: nothing is moved. */
fk_status fk_provenance_check_dir(const fk_config *cfg, bool resume, bool force);

/* ---- checkpoints and resume (resume.c) ---- */

/* Where a stage starts: from 0, or the position saved in last.safetensors. */
typedef struct fk_resume_point {
    long epoch, batch, step;    /* the next batch to run */
    float acc[FK_ACC_COUNT];    /* accumulators of the epoch so far */
    bool done;                  /* the stage had finished */
} fk_resume_point;

/* Save the stage's checkpoint `file` at (epoch, batch): the next batch to run. */
fk_status fk_stage_save(const stage *S, const char *file, long epoch, long batch, long step, const float *acc,
                        bool done);
/* Load S->dir/last.safetensors into the model and the results (best, epoch). */
fk_status fk_stage_load(stage *S, const char *path, fk_resume_point *at);
/* Keep only the metrics lines of epochs <= last_epoch (the file is
 * replaced atomically; a missing file is fine, a failed write an error). */
fk_status fk_metrics_trim(const char *path, long last_epoch);

/* ---- metrics and progress (progress.c) ---- */

/* One metrics.jsonl line of an epoch. */
typedef struct fk_epoch_line {
    long epoch, step;          /* 1-based epoch */
    double lr;
    const float *acc;          /* the epoch's accumulators */
    long steps_per_epoch;
    double images;             /* training images of the epoch */
    double top1, top5, test_loss; /* -1: not evaluated */
    double images_run, seconds;   /* images trained in this run's part of the epoch, and its time */
} fk_epoch_line;

/* Append the line and flush; a failed write is an error naming path. */
fk_status fk_metrics_write(FILE *f, const char *path, const stage *S, const fk_epoch_line *l);

/* ---- data parallelism (ranks.c): one rank of an MPI job ---- */

/* This rank's images per step: optim.batch_size (the global batch) split
 * over the ranks; it must divide evenly. */
fk_status fk_ranks_local_batch(const stage *S, int *local);
/* Whether rank 0 found the checkpoint to resume from (every rank learns it). */
fk_status fk_ranks_found(int *found);
/* After rank 0 read the checkpoint: its position and results to every
 * rank; the accumulators of the epoch so far stay on rank 0 alone. */
fk_status fk_ranks_share_resume(stage *S, fk_resume_point *at);
/* At a stage's start: every rank takes rank 0's weights and optimizer
 * state; the step averages its gradients over the ranks (sync) and, with
 * sync_bn, the network's batch norm runs over the global batch; a term
 * that couples a batch's rows (the row's .whole_batch) runs on the global
 * batch's logits (gather). A method of two views sends its buckets during
 * the second backward, with the first one's gradients added. */
fk_status fk_ranks_begin(stage *S, fk_grad_sync *sync, fk_logit_gather *gather, fk_step *step);
void fk_ranks_end(stage *S, fk_grad_sync *sync, fk_logit_gather *gather);
/* fk_ranks_begin's part for any step on graph g (bench): the hook, the
 * averaging, sync_bn and the gather attached; no weights sent. Detach
 * before freeing the step. */
fk_status fk_ranks_attach(fk_step *step, fk_graph *g, bool sync_bn, fk_grad_sync *sync, fk_logit_gather *gather);
void fk_ranks_detach(fk_graph *g, fk_grad_sync *sync, fk_logit_gather *gather);
/* Stop when any rank stops: a signal one rank got stops all at the same
 * step (and counts as theirs). */
fk_status fk_ranks_agree_stop(bool *stop);
/* The losses of the steps logged (means over the ranks) and the
 * accumulators (sums). */
fk_status fk_ranks_reduce_log(float *vals, size_t nvals, float *acc);
/* Rank 0's weights and batch-norm statistics to every rank (before an
 * evaluation or a save: with per-rank BN the statistics differ). */
fk_status fk_ranks_share_model(fk_model *m);

#endif
