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
    int errors;                /* found before work (fk_check_train, the config's included): none ran */
} fk_train_result;

/* Train per cfg. Every epoch: evaluation, one line in metrics.jsonl,
 * last.safetensors and best.safetensors written atomically with the
 * optimizer state, the position in the data and the config text, so
 * resume continues to the numbers an uninterrupted run gives. The first
 * SIGINT/SIGTERM finishes the step, saves and returns FK_ERR_INTERRUPTED
 * with out->signal set; a NaN or Inf loss stops the run naming the step
 * and keeps the last good checkpoint. An out_dir that holds a run needs
 * resume (continue it; the keys that shape the run unchanged) or force (its
 * files move to out_dir/previous-<date>/); a teacher checkpoint made for
 * another model, class count, input size or data set is refused. Before
 * any of it, fk_check_train reports every error it can find (and cfg's
 * own, for a cfg whose load failed with FK_ERR_ARG); then nothing runs. */
fk_status fk_train_run(const fk_config *cfg, bool resume, bool force, fk_train_result *out);

typedef struct fk_bench_result {
    char device[256], platform[256];
    int batch, channels, size, classes;
    long steps;
    double step_s;        /* seconds per step, no sync inside the steps */
    fk_step_times parts;  /* sums over `steps` steps, each part ended by a queue finish */
    double device_bytes;  /* the models' parameter stores and plans, the step's and the batch's buffers */
    double peak_rss;      /* bytes: the process's peak resident memory after the steps */
    int ranks;            /* under mpirun: the processes (batch is the global batch), else 0 */
    double sync_exposed_s; /* ranks: seconds per step (of the steps without syncs) spent waiting for the
                            * gradients' allreduce after this rank's last bucket reached the host */
    char tune_file[1024]; /* the tune cache read ("" when FIGKD_TUNE=0 or no folder) */
    int tune_entries;     /* its entries (0: none, stale or disabled) */
    char tune_blas[64];   /* CLBlast kernels with tuned values from it ("" none) */
    int tune_used;        /* entries the convs looked up */
} fk_bench_result;

/* Classes of the config's data set when bench is not told (0: unknown). */
int fk_bench_default_classes(const fk_config *cfg);
/* `steps` timed training steps of cfg's pair on synthetic input, after 3
 * warm-up steps; batch 0 = the config's. In an MPI job every rank runs the
 * data-parallel step on its share of the (global) batch. */
fk_status fk_bench_run(const fk_config *cfg, long steps, int batch, int classes, fk_bench_result *out);

/* figkd-cl tune (src/train/tune.c): for every distinct groups=1 conv
 * shape of cfg's pair at the batch (0: the config's) and input size, the
 * frozen teacher's fused forward, or a training layer's forward and
 * backward, timed by every candidate way (src/ops/conv.c's conv_choose:
 * GEMMs own | wi | clblast, columns | Winograd | whole batch), best of
 * `steps` runs each; the fastest goes into the device's tune cache (out,
 * else fk_tune_path), the device default where the fastest gains less
 * than 3%. Environment switches that force a path are ignored while
 * timing (said on stderr). Before them, unless blas_fraction is 0,
 * CLBlast's own tuner for its Xgemm and XgemmDirect kernels, trying that
 * fraction of their configurations (< 0: 1/512 on GPUs, none on CPUs),
 * each kept where it is right and at least 3% faster than CLBlast's
 * values on the pair's largest GEMM that runs on that kernel. */
typedef struct fk_tune_result {
    char file[1024];      /* the cache written */
    int shapes;           /* entries written */
    int changed;          /* of them, not the device default */
    double default_ms;    /* sum over the entries of the default's time */
    double tuned_ms;      /* sum of the chosen times */
    int blas_kernels;     /* CLBlast kernels whose tuned values were kept */
} fk_tune_result;

fk_status fk_tune_run(const fk_config *cfg, long steps, int batch, double blas_fraction, const char *out,
                      fk_tune_result *r);

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

/* Eval-mode outputs of every image of a split, in file order, in host
 * memory: logits, labels and (when asked) the penultimate features (the
 * classifier's input). */
typedef struct fk_predictions {
    long rows;
    int classes, features; /* features: 0 when not asked */
    float *logits;         /* rows x classes */
    int32_t *labels;       /* rows */
    float *feats;          /* rows x features, or NULL */
    char model[64];
} fk_predictions;

/* Run `model` (NULL: the student) with `weights` over a split (load cfg with
 * data.augment=none and data.shuffle=false for evaluation transforms). */
fk_status fk_predictions_run(const fk_config *cfg, const char *weights, const char *model, bool train_split,
                             bool features, fk_predictions *out);
void fk_predictions_free(fk_predictions *p);

typedef struct fk_predict_result {
    long rows;
    int classes;
    char model[64];
} fk_predict_result;

/* What predict writes: the logits as a float32 rows x classes .npy, and
 * when named, the labels (int64, rows) and the features (float32, rows x D). */
typedef struct fk_predict_files {
    const char *logits, *labels, *features;
} fk_predict_files;

/* Eval-mode outputs of every image of a split (file order, evaluation
 * transforms: load cfg with data.augment=none, data.shuffle=false) of
 * `model` (NULL: the student) with `weights`, written as .npy files. */
fk_status fk_predict_run(const fk_config *cfg, const char *weights, const char *model, bool train_split,
                         const fk_predict_files *out, fk_predict_result *res);

/* One model's figures in `analyze`: top-1 of the full logits and of their
 * low (LL) and high (LH, HL, HH) reconstructions (FK_RECON_*), and the share
 * of the logits' energy in each band LL, LH, HL, HH. */
typedef struct fk_analyze_model {
    char model[64];
    double top1[3];
    double energy[4];
} fk_analyze_model;

typedef struct fk_analyze_result {
    long n;
    int classes, grid_h, grid_w;
    fk_analyze_model student, teacher;
    bool has_teacher;
    double agreement[3]; /* student and teacher arg-max equal, per reconstruction */
} fk_analyze_result;

/* Frequency analysis (include/figkd/bands.h) of `model` (NULL: the
 * student) with `weights` over a split, on the FiGKD grid of the class
 * count; with teacher_weights, of the config's teacher too. */
fk_status fk_analyze_run(const fk_config *cfg, const char *weights, const char *model, const char *teacher_weights,
                         bool train_split, fk_analyze_result *r);

#endif
