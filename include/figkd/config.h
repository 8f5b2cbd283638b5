/* Run configuration: INI sections [run] [data] [teacher] [student]
 * [distill] [optim] [teacher_optim], every key with its default in one table
 * (src/train/config.c; the [distill] keys in the method table,
 * figkd/method.h), documented in docs/config.md. Unknown sections or
 * keys, bad values and conflicting keys are errors "FILE:LINE: message"
 * naming the valid choices, raised before any work starts. */
#ifndef FIGKD_CONFIG_H
#define FIGKD_CONFIG_H

#include "figkd/common.h"
#include "figkd/data.h"
#include "figkd/method.h"

#include <stdbool.h>
#include <stdio.h>

typedef enum { FK_SCHED_MULTISTEP, FK_SCHED_COSINE } fk_schedule;

#define FK_MAX_MILESTONES 16

typedef struct fk_optim_config {
    double lr, momentum, weight_decay, gamma, warmup_epochs;
    bool nesterov;
    bool sync_bn;            /* under mpirun: batch norm statistics over the global batch */
    int batch_size;
    int epochs;
    long max_steps;          /* 0 = no limit */
    fk_schedule schedule;
    int n_milestones;
    int milestones[FK_MAX_MILESTONES];
} fk_optim_config;

typedef struct fk_config {
    char path[1024];
    char *text;              /* the file's text plus --set lines, saved in checkpoints */
    /* [run] */
    char name[128];
    char out_dir[1024];
    unsigned long long seed;
    int eval_every, log_every;
    /* [data] */
    fk_data_config data;
    /* [teacher] */
    char teacher_model[64];
    char teacher_checkpoint[1024];
    /* [student] */
    char student_model[64];
    char student_init[1024];
    char student_init_exclude[512]; /* globs of tensors not taken from student_init */
    /* [distill]: the method, a row of the method table, and the values of
     * its keys, each kept where the row's key says: the built-in methods'
     * in the named fields, a new method's in a struct of its own laid over
     * distill[] (FK_DISTILL_AT). Keys of other methods stay 0. */
    const fk_method *method;
    union {
        struct {
            double alpha, beta, temperature, warmup_epochs, ce_weight;
            int bands;            /* FK_BAND_* mask */
            int detail_l1;        /* loss = l1 */
            int shape_h, shape_w; /* 0 = fk_figkd_grid's rule */
        };
        double distill[16];
    };
    /* [optim], [teacher_optim] (defaults to [optim] key by key) */
    fk_optim_config optim, teacher_optim;
    /* what the load found wrong: how many errors (each one reported as it
     * was found), and the parts too broken for the checks that build on
     * them (the data, the models, the method), FK_BROKEN_* */
    int errors;
    unsigned broken;
} fk_config;

enum { FK_BROKEN_DATA = 1, FK_BROKEN_STUDENT = 2, FK_BROKEN_METHOD = 4, FK_BROKEN_TEACHER = 8,
       FK_BROKEN_MODELS = FK_BROKEN_STUDENT | FK_BROKEN_TEACHER, FK_BROKEN_ALL = 15 };

/* Load a config file, then apply overrides "section.key=value" in order.
 * Every error is reported (printed unless fk_error_quiet), each as
 * "FILE:LINE: ..." (or "--set section.key: ..."), and counted in
 * cfg->errors; the status and fk_last_error() are the first one's. After
 * FK_ERR_ARG the config holds every value that was good (a command can go
 * on checking what does not depend on the broken parts, cfg->broken). */
fk_status fk_config_load(fk_config *cfg, const char *path, const char *const *sets, int n_sets);
/* The same file checks, for commands that only read the data: every key
 * is validated, but only [data] is finished (no model is required). */
fk_status fk_config_load_data(fk_config *cfg, const char *path, const char *const *sets, int n_sets);
/* For commands that run a checkpoint (eval, predict, analyze): the same
 * checks, but no [teacher] is needed whatever the method, and [student]
 * model may be absent (the checkpoint's metadata names its model). */
fk_status fk_config_load_eval(fk_config *cfg, const char *path, const char *const *sets, int n_sets);
void fk_config_free(fk_config *cfg);

/* Learning rate of an epoch (0-based, fractional within the epoch for the
 * warm-up): multistep or cosine, after a linear warm-up. */
double fk_optim_lr(const fk_optim_config *o, double epoch);

/* Write docs/config.md's key table (markdown) to f. */
void fk_config_write_docs(FILE *f);

#endif
