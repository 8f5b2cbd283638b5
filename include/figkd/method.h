/* The method table. Each distillation method is one row, a const fk_method
 * in src/loss/method_<name>.c, and one line in src/loss/methods.c. The row
 * names the method's [distill] keys with their defaults, its loss term,
 * whether it needs a teacher, its warm-up rule and its forward/backward.
 * Config validation, the training step, bench, the progress line, the
 * metrics.jsonl columns and docs/config.md all read the table; no other
 * code knows a method by name (docs/design.md, "Adding a method"). */
#ifndef FIGKD_METHOD_H
#define FIGKD_METHOD_H

#include "figkd/graph.h"
#include "figkd/loss.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fk_config fk_config; /* figkd/config.h */

/* How a [distill] key's text becomes its value. */
typedef enum fk_key_kind {
    FK_KEY_NUMBER, /* double >= 0 */
    FK_KEY_CHOICE, /* one of `choices` ("mse,l1"): int, its index */
    FK_KEY_FLAGS,  /* comma-separated names of `choices`: int, bit i for the i-th */
    FK_KEY_GRID,   /* "HxW" or "auto": two ints, h then w (0, 0 = auto) */
    FK_KEY_COUNT,  /* int >= 0 (a stage index) */
} fk_key_kind;

typedef struct fk_method_key {
    const char *name;    /* the key in [distill] */
    fk_key_kind kind;
    size_t off;          /* where the value is kept in fk_config (FK_DISTILL_AT) */
    const char *def;     /* default, as a config would write it */
    const char *choices; /* FK_KEY_CHOICE, FK_KEY_FLAGS: comma-separated names */
    bool positive;       /* FK_KEY_NUMBER: must be above 0 (checked after defaults) */
    const char *help;
} fk_method_key;

/* Offset in fk_config of field f of a method's own struct of values, laid
 * over fk_config.distill (the built-in methods use offsetof(fk_config, alpha)
 * and the other named fields). */
#define FK_DISTILL_AT(type, f) (offsetof(fk_config, distill) + offsetof(type, f))

/* The loss of a stage: CE weighted by ce_weight plus the method's term. */
typedef struct fk_loss_spec {
    const struct fk_method *method;
    double ce_weight;   /* weight of the cross-entropy */
    double term_weight; /* weight of the method's term, before its warm-up rule */
    double params[8];   /* the method's own values: its setup writes them, its loss reads them */
    uint64_t seed;      /* initialisation of the method's own parameters (run.seed + 2) */
} fk_loss_spec;

/* A method's own struct of values in fk_loss_spec.params, copied in (its
 * setup, FK_SPEC_SET) and out (its loss, FK_PARAMS_GET) by value; a struct
 * too large does not compile. */
#define FK_PARAMS_FIT(spec, v) (void)sizeof(char[sizeof *(v) <= sizeof (spec)->params ? 1 : -1])
/* A setup's result: the weights and the method's values; returns FK_OK. */
#define FK_SPEC_SET(spec, ce_weight, term_weight, v) \
    (FK_PARAMS_FIT(spec, v), fk_method_spec_set((spec), (ce_weight), (term_weight), (v), sizeof *(v)))
#define FK_PARAMS_GET(v, spec) \
    (FK_PARAMS_FIT(spec, v), fk_method_params_copy((v), sizeof *(v), (spec)->params, sizeof (spec)->params))
void fk_method_params_copy(void *dst, size_t dst_size, const void *src, size_t src_size);
fk_status fk_method_spec_set(fk_loss_spec *spec, double ce_weight, double term_weight, const void *params,
                             size_t size);

/* What a method's loss reads and writes in one step. */
typedef struct fk_method_io {
    fk_runtime *rt;
    const fk_loss_spec *spec;
    fk_tensor value;          /* 1 float: the term, a mean over the batch (overwritten) */
    const fk_tensor *dlogits; /* (N, C): weight * d(term)/d(student) is ADDED; NULL = no gradient */
    fk_tensor student;        /* (N, C) logits */
    fk_tensor teacher;        /* (N, C) logits; buf NULL when the method needs no teacher */
    cl_mem labels;            /* (N) int32 */
    int n, c;
    float weight;             /* fk_method_term_scale at this epoch */
    fk_tensor work;           /* fk_loss_work(n, c) floats of scratch */
    /* Feature taps (methods with stages or embed): the student's, whose
     * dstage/dembed the loss ADDS weight * d(term)/d(feature) into when
     * dlogits is not NULL, and the teacher's (forward only). */
    fk_feats student_feats, teacher_feats;
    int view;                 /* a method of two views: 0 the weak (first), 1 the strong */
    /* The method's own trained layers (a row with build_params), planned
     * for batch n in train mode with their gradients zeroed; NULL: none. */
    struct fk_model *params;
} fk_method_io;

typedef struct fk_method {
    const char *name;          /* distill.method */
    const char *help;          /* one line for docs/config.md */
    const char *term;          /* its loss term: metrics.jsonl column beside "ce" */
    bool needs_teacher;
    const fk_method_key *keys; /* the [distill] keys it takes, in docs order */
    int n_keys;
    /* The loss from a loaded config: ce_weight, term_weight and params;
     * may check the config against the data (classes). */
    fk_status (*setup)(const fk_config *cfg, int classes, fk_loss_spec *spec);
    /* Weight of the term at a 0-based epoch (a warm-up rule); NULL: the
     * constant spec->term_weight. */
    double (*term_scale)(const fk_loss_spec *spec, long epoch);
    /* Forward and backward of the term. */
    fk_status (*loss)(const fk_method_io *io);
    /* Floats of scratch its loss needs for n samples of c classes (in
     * fk_method_io.work); NULL: fk_loss_work(n, c). */
    size_t (*work)(int n, int c);
    /* Feature taps: the stage outputs its loss reads, bit i for stage i
     * (mdistiller's feats["feats"][i]; FK_STAGES_FROM(k): stage k and the
     * later ones the models have), and whether it reads the embedding
     * (feats["pooled_feat"]). Both models must expose them. */
    unsigned stages;
    bool embed;
    /* With taps: check the student's and teacher's features (shapes of the
     * plan, batch n) against the method and set *work to the scratch floats
     * its loss needs (io->work holds the larger of this and .work's). */
    fk_status (*feat_setup)(const fk_loss_spec *spec, const fk_feats *student, const fk_feats *teacher,
                            size_t *work);
    /* Views of each sample a step trains on (0 or 1: one). With 2 the
     * loader adds a strongly augmented view of each sample
     * (src/data/augment.c) and the step runs teacher and student forward,
     * the loss (io.view 0, then 1) and backward on the weak view, then on
     * the strong one, and sums the two gradients; CE and the term are the
     * sums over the views. */
    int views;
    /* The term couples the rows of a batch (batch- or class-level
     * statistics): across processes it runs on the global batch's logits,
     * gathered from every rank, so N ranks of B/N train as one process of
     * B. A row with feature taps cannot set it. */
    bool whole_batch;
    /* Parameters of the method's own (FitNet's regressor; a row with
     * feature taps): build its layers into g, an empty graph whose first
     * node is their input (a student feature; g->input_grad set when its
     * gradient is wanted), from the features' shapes (batch 0). The step
     * owns them as a model (fk_step.params: seeded with spec->seed,
     * planned for the batch in train mode), zeroes their gradients with the
     * student's, hands them to the loss (io->params: it runs their forward
     * and backward) and updates them with the same SGD call; checkpoints
     * hold them beside the student's, named by the layers ("method.<name>",
     * by convention: src/io/checkpoint.c). NULL: none. */
    fk_status (*build_params)(const fk_loss_spec *spec, const fk_feats *student, const fk_feats *teacher,
                              fk_graph *g);
} fk_method;

#define FK_STAGES_FROM(k) (~0u << (k))
/* Whether a row reads features. */
#define FK_METHOD_TAPS(m) ((m)->stages != 0 || (m)->embed)

/* .keys and .n_keys of a row from its array of keys */
#define FK_METHOD_KEYS(k) .keys = (k), .n_keys = (int)(sizeof(k) / sizeof((k)[0]))

/* The table, in docs order, ended by NULL (src/loss/methods.c). */
extern const fk_method *const fk_methods[];

/* The row named name (case-insensitive), or NULL. */
const fk_method *fk_method_find(const char *name);
/* "ce, kd, dkd, figkd" (for messages). */
const char *fk_method_names(void);
/* Scratch floats for n x c logits: the larger of the row's need and the
 * cross-entropy's (fk_loss_work), so one buffer serves the whole step. */
size_t fk_method_work(const fk_method *m, int n, int c);
/* Views per sample of a row: 1 or 2. */
int fk_method_views(const fk_method *m);
/* Weight of spec's term at a 0-based epoch: the row's rule. The loss that
 * is trained and logged is ce_weight * CE + fk_method_term_scale * term. */
double fk_method_term_scale(const fk_loss_spec *spec, long epoch);

/* The built-in rows, for code and tests that name one (the teacher stage
 * trains with ce). */
extern const fk_method fk_method_ce, fk_method_kd, fk_method_dkd, fk_method_figkd, fk_method_dist;
extern const fk_method fk_method_mlkd;
#define FK_METHOD_CE (&fk_method_ce)
#define FK_METHOD_KD (&fk_method_kd)
#define FK_METHOD_DKD (&fk_method_dkd)
#define FK_METHOD_FIGKD (&fk_method_figkd)
#define FK_METHOD_DIST (&fk_method_dist)
extern const fk_method fk_method_at, fk_method_pkt, fk_method_rkd, fk_method_fitnet;
#define FK_METHOD_MLKD (&fk_method_mlkd)

#endif
