/* Whole runs: `figkd-cl train` (the teacher stage when the teacher's
 * checkpoint is missing, then the student stage), `bench` (timed steps on
 * synthetic input), `eval` (accuracy of a checkpoint) and `predict`
 * (logits of a split). They print their
 * progress; the caller prints the summary (src/train/, docs/design.md,
 * "Training module"). */
#ifndef FIGKD_TRAIN_H
#define FIGKD_TRAIN_H

#include "figkd/config.h"
#include "figkd/trainer.h"

#include <stdbool.h>

typedef struct fk_train_result {
    double teacher_acc;        /* the teacher's test top-1, -1 = no teacher */
    double best_acc, last_acc; /* the student's test top-1, -1 = not evaluated */
    int best_epoch;
    int signal;                /* SIGINT or SIGTERM that stopped the run, 0 = none */
} fk_train_result;

/* Train per cfg. Every epoch: evaluation, one line in metrics.jsonl,
 * last.safetensors and best.safetensors written atomically with the
 * optimizer state, the position in the data and the config text, so
 * resume continues to the numbers an uninterrupted run gives. The first
 * SIGINT/SIGTERM finishes the step, saves and returns FK_ERR_INTERRUPTED
 * with out->signal set; a NaN or Inf loss stops the run naming the step
 * and keeps the last good checkpoint. */
fk_status fk_train_run(const fk_config *cfg, bool resume, fk_train_result *out);

typedef struct fk_bench_result {
    char device[256], platform[256];
    int batch, channels, size, classes;
    long steps;
    double step_s;        /* seconds per step, no sync inside the steps */
    fk_step_times parts;  /* sums over `steps` steps, each part ended by a queue finish */
} fk_bench_result;

/* Classes of the config's data set when bench is not told (0: unknown). */
int fk_bench_default_classes(const fk_config *cfg);
/* `steps` timed training steps of cfg's pair on synthetic input, after 3
 * warm-up steps; batch 0 = the config's. */
fk_status fk_bench_run(const fk_config *cfg, long steps, int batch, int classes, fk_bench_result *out);

typedef struct fk_eval_result {
    char model[64];
    char weights[1200];  /* the weights evaluated */
    long images;         /* of the test split */
    double top1, top5, loss;
} fk_eval_result;

/* Top-1, top-5 and mean CE of `model` (NULL: the student) on the test
 * split, with `weights` (NULL: out_dir/best.safetensors, else
 * out_dir/last.safetensors). */
fk_status fk_eval_run(const fk_config *cfg, const char *weights, const char *model, fk_eval_result *res);

typedef struct fk_predict_result {
    long rows;
    int classes;
    char model[64];
} fk_predict_result;

/* Eval-mode logits of every image of a split (file order, evaluation
 * transforms: load cfg with data.augment=none, data.shuffle=false) of
 * `model` (NULL: the student) with `weights`, written to `out` as a
 * float32 rows x classes .npy. */
fk_status fk_predict_run(const fk_config *cfg, const char *weights, const char *model, bool train_split,
                         const char *out, fk_predict_result *res);

#endif
