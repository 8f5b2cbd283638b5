/* The run configuration: one table of every key with its default (the
 * [distill] keys are the method table's: figkd/method.h), an INI reader that
 * knows line numbers, --set overrides and the checks that stop a bad run
 * before any work. */
#include "figkd/config.h"
#include "figkd/ini.h"
#include "figkd/loss.h"
#include "figkd/model.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_INT, K_LONG, K_U64, K_DOUBLE, K_BOOL, K_METHOD, K_SCHED, K_MILESTONES,
            K_CHOICE, K_FLAGS, K_GRID, K_DATA };

typedef struct key_spec {
    const char *section, *key;
    enum kind kind;
    size_t off;          /* into fk_config, or into fk_optim_config for [optim] keys */
    size_t size;         /* of a K_STR field */
    const char *def;     /* default; NULL = none (required) */
    const char *help;
} key_spec;

#define C(f) offsetof(fk_config, f), sizeof(((fk_config *)0)->f)
#define O(f) offsetof(fk_optim_config, f), 0
#define D offsetof(fk_config, data), 0

static const key_spec KEYS[] = {
    {"run", "name", K_STR, C(name), "(config file name)", "run name"},
    {"run", "out_dir", K_STR, C(out_dir), "runs/<name>", "where metrics, checkpoints and the config copy go"},
    {"run", "seed", K_U64, C(seed), "0", "one seed for init, shuffling and augmentation"},
    {"run", "eval_every", K_INT, C(eval_every), "1", "evaluate on the test split every N epochs"},
    {"run", "log_every", K_INT, C(log_every), "50", "steps between plain progress lines (no terminal)"},

    {"data", "dataset", K_DATA, D, "cifar100", "cifar100 | cifar10 | tinyimagenet | imagefolder | fashion-mnist | mnist"},
    {"data", "root", K_DATA, D, "(per dataset)", "folder of the downloaded data set"},
    {"data", "input_size", K_DATA, D, "(per dataset)", "side of the square model input"},
    {"data", "resize", K_DATA, D, "input_size*8/7", "shorter side before the evaluation center crop"},
    {"data", "augment", K_DATA, D, "standard", "standard | none"},
    {"data", "shuffle", K_DATA, D, "true", "shuffle the training split each epoch"},
    {"data", "subset", K_DATA, D, "0", "use the first N training images, balanced per class (0 = all)"},
    {"data", "test_subset", K_DATA, D, "0", "evaluate on the first N test images, balanced per class (0 = all)"},
    {"data", "workers", K_DATA, D, "0", "loader threads (0 = min(4, cores))"},
    {"data", "channels", K_DATA, D, "(data set's)", "1 or 3 (grey images repeated to 3)"},
    {"data", "cache", K_DATA, D, "true", "tinyimagenet: keep a decoded cache file beside the data"},
    {"data", "mean", K_DATA, D, "(per dataset)", "normalisation mean, 1 or 3 values"},
    {"data", "std", K_DATA, D, "(per dataset)", "normalisation std, 1 or 3 values"},

    {"teacher", "model", K_STR, C(teacher_model), "", "teacher architecture (figkd-cl models)"},
    {"teacher", "checkpoint", K_STR, C(teacher_checkpoint), "",
     "teacher weights (safetensors); trained first and saved there when missing"},
    {"student", "model", K_STR, C(student_model), NULL, "student architecture (required)"},
    {"student", "init", K_STR, C(student_init), "", "optional safetensors to start the student from"},
    {"student", "init_exclude", K_STR, C(student_init_exclude), "",
     "comma-separated globs of tensors not taken from init (e.g. fc.* for another class count)"},

    {"distill", "method", K_METHOD, C(method), "figkd", NULL},
    /* the other [distill] keys: the method's row */

    {"optim", "lr", K_DOUBLE, O(lr), "0.05", "base learning rate"},
    {"optim", "momentum", K_DOUBLE, O(momentum), "0.9", "SGD momentum"},
    {"optim", "weight_decay", K_DOUBLE, O(weight_decay), "5e-4", "L2 weight decay on every parameter"},
    {"optim", "nesterov", K_BOOL, O(nesterov), "false", "Nesterov momentum"},
    {"optim", "batch_size", K_INT, O(batch_size), "64", "images per step (under mpirun: over all processes)"},
    {"optim", "sync_bn", K_BOOL, O(sync_bn), "false",
     "under mpirun: batch norm statistics over the global batch (SyncBatchNorm), not per process"},
    {"optim", "epochs", K_INT, O(epochs), "240", "training epochs"},
    {"optim", "max_steps", K_LONG, O(max_steps), "0", "stop after N steps (0 = no limit)"},
    {"optim", "schedule", K_SCHED, O(schedule), "multistep", "multistep | cosine"},
    {"optim", "milestones", K_MILESTONES, O(n_milestones), "150,180,210", "multistep: epochs where lr is multiplied by gamma"},
    {"optim", "gamma", K_DOUBLE, O(gamma), "0.1", "multistep factor"},
    {"optim", "warmup_epochs", K_DOUBLE, O(warmup_epochs), "0", "linear learning-rate warm-up, in epochs"},
};
#define NKEYS (int)(sizeof KEYS / sizeof KEYS[0])
static const char *SECTIONS[] = {"run", "data", "teacher", "student", "distill", "optim", "teacher_optim"};

/* ---- value setters ---------------------------------------------------- */

/* One value to set: where it goes, how to read it, and for messages the
 * key's name and its valid choices ("LL,LH,HL,HH"). */
typedef struct target {
    enum kind kind;
    void *p;
    size_t size;         /* of a K_STR field */
    const char *key;
    const char *choices;
} target;

static int eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

#define FAIL(...) (snprintf(err, errsz, __VA_ARGS__), -1)

/* "LL,LH,HL,HH" -> "LL, LH, HL, HH" (for messages) */
static const char *spaced(const char *choices, char *buf, size_t n)
{
    size_t j = 0;
    for (const char *c = choices; *c && j + 2 < n; c++) {
        buf[j++] = *c;
        if (*c == ',')
            buf[j++] = ' ';
    }
    buf[j] = '\0';
    return buf;
}

/* Index of word in a comma-separated list of choices, or -1. */
static int choice_index(const char *choices, const char *word)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", choices);
    int i = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), i++)
        if (eq_nocase(tok, word))
            return i;
    return -1;
}

static int set_count(const target *t, const char *v, char *err, size_t errsz)
{
    long l;
    if (fk_parse_long(v, &l) || l < 0 || (t->kind == K_INT && l > 1000000000L))
        return FAIL("'%s' is not a non-negative integer", v);
    if (t->kind == K_INT)
        *(int *)t->p = (int)l;
    else
        *(long *)t->p = l;
    return 0;
}

static int set_u64(const target *t, const char *v, char *err, size_t errsz)
{
    char *end;
    if (!*v || *v == '-')
        return FAIL("'%s' is not a non-negative integer", v);
    unsigned long long u = strtoull(v, &end, 10);
    if (*end)
        return FAIL("'%s' is not a non-negative integer", v);
    *(unsigned long long *)t->p = u;
    return 0;
}

static int set_double(const target *t, const char *v, char *err, size_t errsz)
{
    double d;
    if (fk_parse_double(v, &d) || !isfinite(d) || d < 0)
        return FAIL("'%s' is not a non-negative number", v);
    *(double *)t->p = d;
    return 0;
}

static int set_bool(const target *t, const char *v, char *err, size_t errsz)
{
    if (eq_nocase(v, "true") || eq_nocase(v, "yes") || !strcmp(v, "1"))
        *(bool *)t->p = true;
    else if (eq_nocase(v, "false") || eq_nocase(v, "no") || !strcmp(v, "0"))
        *(bool *)t->p = false;
    else
        return FAIL("'%s' is not a boolean; valid: true, false", v);
    return 0;
}

static int set_method(const target *t, const char *v, char *err, size_t errsz)
{
    const fk_method *m = fk_method_find(v);
    if (!m)
        return FAIL("unknown method '%s'; valid: %s", v, fk_method_names());
    *(const fk_method **)t->p = m;
    return 0;
}

static int set_schedule(const target *t, const char *v, char *err, size_t errsz)
{
    if (eq_nocase(v, "multistep"))
        *(fk_schedule *)t->p = FK_SCHED_MULTISTEP;
    else if (eq_nocase(v, "cosine"))
        *(fk_schedule *)t->p = FK_SCHED_COSINE;
    else
        return FAIL("unknown schedule '%s'; valid: multistep, cosine", v);
    return 0;
}

/* t->p is fk_optim_config.n_milestones */
static int set_milestones(const target *t, const char *v, char *err, size_t errsz)
{
    fk_optim_config *o = (fk_optim_config *)((char *)t->p - offsetof(fk_optim_config, n_milestones));
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    int n = 0, prev = -1;
    long l;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (fk_parse_long(tok, &l) || l <= prev || l > 1000000)
            return FAIL("milestones must be increasing epochs, e.g. 150,180,210; got '%s'", v);
        if (n == FK_MAX_MILESTONES)
            return FAIL("at most %d milestones", FK_MAX_MILESTONES);
        o->milestones[n++] = (int)l;
        prev = (int)l;
    }
    o->n_milestones = n;
    return 0;
}

static int set_choice(const target *t, const char *v, char *err, size_t errsz)
{
    char list[256];
    int i = choice_index(t->choices, v);
    if (i < 0)
        return FAIL("unknown %s '%s'; valid: %s", t->key, v, spaced(t->choices, list, sizeof list));
    *(int *)t->p = i;
    return 0;
}

static int set_flags(const target *t, const char *v, char *err, size_t errsz)
{
    char buf[256], list[256];
    snprintf(buf, sizeof buf, "%s", v);
    int mask = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int i = choice_index(t->choices, tok);
        if (i < 0)
            return FAIL("unknown %s value '%s'; valid: %s (comma-separated)", t->key, tok,
                        spaced(t->choices, list, sizeof list));
        mask |= 1 << i;
    }
    if (!mask)
        return FAIL("%s must name at least one of %s", t->key, spaced(t->choices, list, sizeof list));
    *(int *)t->p = mask;
    return 0;
}

/* "HxW" into two ints (h, w), "auto" as 0, 0 */
static int set_grid(const target *t, const char *v, char *err, size_t errsz)
{
    int *hw = t->p;
    if (eq_nocase(v, "auto")) {
        hw[0] = hw[1] = 0;
        return 0;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%s", v);
    char *x = strchr(buf, 'x');
    long h, w;
    if (x)
        *x = '\0';
    if (!x || fk_parse_long(buf, &h) || fk_parse_long(x + 1, &w) || h < 1 || w < 1 || h > 1000000 || w > 1000000)
        return FAIL("%s must be HxW (e.g. 10x10) or auto; got '%s'", t->key, v);
    hw[0] = (int)h;
    hw[1] = (int)w;
    return 0;
}

static int set_data(const target *t, const char *v, char *err, size_t errsz)
{
    int q = fk_error_quiet(1);
    fk_status st = fk_data_config_set(t->p, t->key, v);
    fk_error_quiet(q);
    return st != FK_OK ? FAIL("%s", fk_last_error()) : 0;
}

/* Set one value; on error writes a message (without location) into err. */
static int set_target(const target *t, const char *v, char *err, size_t errsz)
{
    switch (t->kind) {
    case K_STR:
        if (strlen(v) >= t->size)
            return FAIL("value too long (at most %zu characters)", t->size - 1);
        memcpy(t->p, v, strlen(v) + 1);
        return 0;
    case K_INT:
    case K_LONG: return set_count(t, v, err, errsz);
    case K_U64: return set_u64(t, v, err, errsz);
    case K_DOUBLE: return set_double(t, v, err, errsz);
    case K_BOOL: return set_bool(t, v, err, errsz);
    case K_METHOD: return set_method(t, v, err, errsz);
    case K_SCHED: return set_schedule(t, v, err, errsz);
    case K_MILESTONES: return set_milestones(t, v, err, errsz);
    case K_CHOICE: return set_choice(t, v, err, errsz);
    case K_FLAGS: return set_flags(t, v, err, errsz);
    case K_GRID: return set_grid(t, v, err, errsz);
    case K_DATA: return set_data(t, v, err, errsz);
    }
    return -1;
}

/* A key of the table in base (fk_config, or fk_optim_config for [optim]). */
static int set_value(const key_spec *k, void *base, const char *v, char *err, size_t errsz)
{
    target t = {k->kind, (char *)base + k->off, k->size, k->key, NULL};
    return set_target(&t, v, err, errsz);
}

/* A [distill] key of the config's method. */
static int set_method_key(const fk_method_key *k, fk_config *cfg, const char *v, char *err, size_t errsz)
{
    static const enum kind kinds[] = {[FK_KEY_NUMBER] = K_DOUBLE, [FK_KEY_CHOICE] = K_CHOICE,
                                      [FK_KEY_FLAGS] = K_FLAGS, [FK_KEY_GRID] = K_GRID,
                                      [FK_KEY_COUNT] = K_INT};
    target t = {kinds[k->kind], (char *)cfg + k->off, 0, k->name, k->choices};
    return set_target(&t, v, err, errsz);
}

/* The key `name` of method m, or NULL. */
static const fk_method_key *method_key(const fk_method *m, const char *name)
{
    for (int i = 0; i < m->n_keys; i++)
        if (!strcmp(m->keys[i].name, name))
            return &m->keys[i];
    return NULL;
}

/* Whether some method takes [distill] key `name`. */
static bool distill_key_known(const char *name)
{
    for (int i = 0; fk_methods[i]; i++)
        if (method_key(fk_methods[i], name))
            return true;
    return false;
}

/* ---- parsing ---------------------------------------------------------- */

/* A [distill] key as written; applied once the method is known, by the
 * method's row. */
typedef struct given {
    char name[64];
    char value[512];
    int line;            /* > 0: file line; -1: --set */
} given;

#define MAX_GIVEN 32
#define MAX_NOTED 64

typedef struct parse_ctx {
    fk_config *cfg;
    const char *where;   /* file path, or "--set" */
    bool data_only;      /* fk_config_load_data: check [data] only at the end */
    bool weights_only;   /* fk_config_load_eval: no teacher, the student's model may come later */
    int section_line;    /* line of the last [section] header */
    int bad_section_line; /* line of the last unknown [section] reported */
    int seen[NKEYS];     /* line where set in [optim]/others, 0 = not, -1 = --set */
    int seen_t[NKEYS];   /* line where set in [teacher_optim] */
    given distill[MAX_GIVEN];
    int n_distill;
    /* every error is kept and counted, then reported in the order of the
     * file's lines (those of --set and of the whole file last); the first
     * one is the load's status and, at the end, its last error */
    int errors;
    struct noted {
        int line;
        fk_status status;
        char *msg;
    } noted[MAX_NOTED];
    unsigned broken;     /* FK_BROKEN_*: parts too broken for the checks built on them */
} parse_ctx;

/* Report an error of the config and count it. */
static void note(parse_ctx *ctx, fk_status st, const char *fmt, ...) FK_PRINTF(3, 4);
static void note(parse_ctx *ctx, fk_status st, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* "FILE:LINE: ..." sorts by LINE */
    size_t n = strlen(ctx->where);
    long line = INT_MAX;
    if (!strncmp(msg, ctx->where, n) && msg[n] == ':' && isdigit((unsigned char)msg[n + 1]))
        line = strtol(msg + n + 1, NULL, 10);
    if (ctx->errors < MAX_NOTED) {
        struct noted *e = &ctx->noted[ctx->errors];
        e->line = line < INT_MAX ? (int)line : INT_MAX;
        e->status = st;
        e->msg = strdup(msg);
    }
    ctx->errors++;
}

/* Report the errors kept, in line order; the first of them is the load's. */
static fk_status report_noted(parse_ctx *ctx)
{
    int n = ctx->errors < MAX_NOTED ? ctx->errors : MAX_NOTED;
    for (int i = 1; i < n; i++) /* insertion sort: stable, a handful of entries */
        for (int j = i; j > 0 && ctx->noted[j - 1].line > ctx->noted[j].line; j--) {
            struct noted t = ctx->noted[j];
            ctx->noted[j] = ctx->noted[j - 1];
            ctx->noted[j - 1] = t;
        }
    for (int i = 0; i < n; i++)
        fk_error(ctx->noted[i].status, "%s", ctx->noted[i].msg ? ctx->noted[i].msg : "out of memory");
    if (ctx->errors > n)
        fk_error(FK_ERR_ARG, "%s: %d more errors", ctx->where, ctx->errors - n);
    fk_status st = n ? ctx->noted[0].status : FK_OK;
    if (n) {
        int q = fk_error_quiet(1);
        fk_error(st, "%s", ctx->noted[0].msg ? ctx->noted[0].msg : "out of memory");
        fk_error_quiet(q);
    }
    for (int i = 0; i < n; i++)
        free(ctx->noted[i].msg);
    return st;
}

/* The parts of the config that a bad [section] key breaks. */
static unsigned broken_by(const char *section, const char *key)
{
    if (!strcmp(section, "data"))
        return FK_BROKEN_DATA;
    if (!strcmp(key, "model") && !strcmp(section, "student"))
        return FK_BROKEN_STUDENT;
    if (!strcmp(key, "model") && !strcmp(section, "teacher"))
        return FK_BROKEN_TEACHER;
    if (!strcmp(section, "distill") && !strcmp(key, "method"))
        return FK_BROKEN_METHOD;
    return 0;
}

/* "a, b, c": the keys of a section; for [distill], method and every key of
 * every method. */
static void valid_keys(const char *sect, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(KEYS[i].section, sect))
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", KEYS[i].key);
    if (strcmp(sect, "distill"))
        return;
    for (int m = 0; fk_methods[m]; m++)
        for (int i = 0; i < fk_methods[m]->n_keys && n < size; i++) {
            const char *key = fk_methods[m]->keys[i].name;
            bool earlier = false;
            for (int e = 0; e < m && !earlier; e++)
                earlier = method_key(fk_methods[e], key) != NULL;
            if (!earlier)
                n += (size_t)snprintf(buf + n, size - n, ", %s", key);
        }
}

static const given *given_find(const parse_ctx *ctx, const char *name)
{
    for (int i = 0; i < ctx->n_distill; i++)
        if (!strcmp(ctx->distill[i].name, name))
            return &ctx->distill[i];
    return NULL;
}

/* Keep a [distill] key other than method for finish(); the last one wins. */
static int keep_distill(parse_ctx *ctx, const char *name, const char *value, int line, const char *loc)
{
    char valid[1024];
    if (!distill_key_known(name)) {
        valid_keys("distill", valid, sizeof valid);
        note(ctx, FK_ERR_ARG, "%s: unknown key '%s' in [distill]; valid: %s", loc, name, valid);
        return 1;
    }
    given *g = (given *)given_find(ctx, name);
    if (!g && ctx->n_distill == MAX_GIVEN) {
        note(ctx, FK_ERR_ARG, "%s: too many [distill] keys", loc);
        return 1;
    }
    if (!g)
        g = &ctx->distill[ctx->n_distill++];
    snprintf(g->name, sizeof g->name, "%s", name);
    if (strlen(value) >= sizeof g->value) {
        note(ctx, FK_ERR_ARG, "%s: distill.%s: value too long", loc, name);
        return 1;
    }
    snprintf(g->value, sizeof g->value, "%s", value);
    g->line = line > 0 ? line : -1;
    return 1;
}

static bool known_section(const char *section)
{
    for (size_t s = 0; s < sizeof SECTIONS / sizeof SECTIONS[0]; s++)
        if (!strcmp(section, SECTIONS[s]))
            return true;
    return false;
}

static int apply(parse_ctx *ctx, const char *section, const char *name, const char *value, int line)
{
    fk_config *cfg = ctx->cfg;
    char loc[1100], err[1024];
    if (line > 0)
        snprintf(loc, sizeof loc, "%s:%d", ctx->where, line);
    else
        snprintf(loc, sizeof loc, "--set %s.%s", section, name);
    if (!known_section(section)) {
        if (line > 0 && ctx->section_line > 0)
            snprintf(loc, sizeof loc, "%s:%d", ctx->where, ctx->section_line);
        /* once per section header, not for each of its keys */
        if (line <= 0 || ctx->section_line != ctx->bad_section_line)
            note(ctx, FK_ERR_ARG, "%s: unknown section [%s]; valid: [run] [data] [teacher] [student] [distill] "
                 "[optim] [teacher_optim]", loc, section);
        if (line > 0)
            ctx->bad_section_line = ctx->section_line;
        return 1;
    }
    if (!strcmp(section, "distill") && strcmp(name, "method"))
        return keep_distill(ctx, name, value, line, loc);
    int teacher_optim = !strcmp(section, "teacher_optim");
    const char *sect = teacher_optim ? "optim" : section;
    for (int i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (strcmp(k->section, sect) || strcmp(k->key, name))
            continue;
        void *base = !strcmp(sect, "optim") ? (void *)(teacher_optim ? &cfg->teacher_optim : &cfg->optim)
                                            : (void *)cfg;
        if (set_value(k, base, value, err, sizeof err)) {
            note(ctx, FK_ERR_ARG, "%s: %s.%s: %s", loc, section, name, err);
            ctx->broken |= broken_by(section, name);
            return 1;
        }
        (teacher_optim ? ctx->seen_t : ctx->seen)[i] = line > 0 ? line : -1;
        return 1;
    }
    valid_keys(sect, err, sizeof err);
    note(ctx, FK_ERR_ARG, "%s: unknown key '%s' in [%s]; valid: %s", loc, name, section, err);
    return 1;
}

/* fk_ini_parse_text's handler; a [section] header comes with name NULL */
static int handler(void *user, const char *section, const char *name, const char *value, int lineno)
{
    parse_ctx *ctx = user;
    if (!section) { /* the reader's own error (FK_INI_KEEP_GOING) */
        note(ctx, FK_ERR_ARG, "%s", value);
        return 1;
    }
    if (!name) {
        ctx->section_line = lineno;
        return 1;
    }
    return apply(ctx, section, name, value, lineno);
}

static void set_defaults(fk_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    fk_data_config_default(&cfg->data);
    char err[256];
    for (int i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (!k->def || k->kind == K_DATA || k->def[0] == '(' || !strcmp(k->key, "out_dir"))
            continue;
        void *base = !strcmp(k->section, "optim") ? (void *)&cfg->optim : (void *)cfg;
        set_value(k, base, k->def, err, sizeof err);
    }
}

/* Where an [optim] key of pass (0: [optim], 1: [teacher_optim]) was set:
 * "FILE:LINE: [section] key", "--set section.key" or, for a default,
 * "FILE: [section] key". A [teacher_optim] key not given is [optim]'s. */
static void optim_loc(const parse_ctx *ctx, int teacher, const char *key, char *buf, size_t n)
{
    const fk_config *cfg = ctx->cfg;
    for (int i = 0; i < NKEYS; i++) {
        if (strcmp(KEYS[i].section, "optim") || strcmp(KEYS[i].key, key))
            continue;
        int t = teacher && ctx->seen_t[i];
        int line = t ? ctx->seen_t[i] : ctx->seen[i];
        const char *sect = t ? "teacher_optim" : "optim";
        if (line > 0)
            snprintf(buf, n, "%s:%d: [%s] %s", cfg->path, line, sect, key);
        else if (line < 0)
            snprintf(buf, n, "--set %s.%s", sect, key);
        else
            snprintf(buf, n, "%s: [%s] %s (default)", cfg->path, sect, key);
        return;
    }
    snprintf(buf, n, "%s", cfg->path);
}

static void finish_data(parse_ctx *ctx)
{
    fk_config *cfg = ctx->cfg;
    int q = fk_error_quiet(1);
    fk_status st = fk_data_config_finish(&cfg->data);
    fk_error_quiet(q);
    if (st != FK_OK) {
        note(ctx, st, "%s: [data] %s", cfg->path, fk_last_error());
        ctx->broken |= FK_BROKEN_DATA;
    }
}

/* The [distill] keys given, through the method's row: a key of another
 * method is an error (not for fk_config_load_data, which reads [data]
 * only); then the defaults of the method's keys not given. */
static void apply_distill(parse_ctx *ctx)
{
    fk_config *cfg = ctx->cfg;
    const fk_method *m = cfg->method;
    char loc[1100], err[1024];
    for (int i = 0; i < ctx->n_distill; i++) {
        const given *g = &ctx->distill[i];
        const fk_method_key *k = method_key(m, g->name);
        if (g->line > 0)
            snprintf(loc, sizeof loc, "%s:%d", cfg->path, g->line);
        else
            snprintf(loc, sizeof loc, "--set distill.%s", g->name);
        /* a method that did not parse says nothing of which keys apply */
        if (!k && (ctx->data_only || (ctx->broken & FK_BROKEN_METHOD)))
            continue;
        if (!k) {
            size_t n = 0;
            for (int j = 0; j < m->n_keys; j++)
                n += (size_t)snprintf(err + n, sizeof err - n, "%s%s", j ? ", " : "", m->keys[j].name);
            note(ctx, FK_ERR_ARG, "%s: distill.%s does not apply to method = %s (its keys: %s)", loc, g->name,
                 m->name, m->n_keys ? err : "none");
            continue;
        }
        if (set_method_key(k, cfg, g->value, err, sizeof err)) {
            note(ctx, FK_ERR_ARG, "%s: distill.%s: %s", loc, g->name, err);
            set_method_key(k, cfg, k->def, err, sizeof err);
        }
    }
    for (int i = 0; i < m->n_keys; i++)
        if (!given_find(ctx, m->keys[i].name))
            set_method_key(&m->keys[i], cfg, m->keys[i].def, err, sizeof err);
}

/* [teacher_optim] defaults to [optim], key by key */
static void teacher_optim_fallback(parse_ctx *ctx)
{
    fk_config *cfg = ctx->cfg;
    for (int i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (strcmp(k->section, "optim") || ctx->seen_t[i])
            continue;
        if (k->kind == K_MILESTONES) {
            cfg->teacher_optim.n_milestones = cfg->optim.n_milestones;
            memcpy(cfg->teacher_optim.milestones, cfg->optim.milestones, sizeof cfg->optim.milestones);
        } else {
            size_t sz = k->kind == K_DOUBLE ? sizeof(double) : k->kind == K_LONG ? sizeof(long)
                      : k->kind == K_BOOL ? sizeof(bool) : k->kind == K_SCHED ? sizeof(fk_schedule) : sizeof(int);
            memcpy((char *)&cfg->teacher_optim + k->off, (char *)&cfg->optim + k->off, sz);
        }
    }
}

/* "FILE:LINE: section.key" (or "--set section.key") of a key other than [optim]'s */
static void key_loc(const parse_ctx *ctx, const char *section, const char *key, char *buf, size_t n)
{
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(KEYS[i].section, section) && !strcmp(KEYS[i].key, key)) {
            if (ctx->seen[i] > 0)
                snprintf(buf, n, "%s:%d: %s.%s", ctx->cfg->path, ctx->seen[i], section, key);
            else
                snprintf(buf, n, "--set %s.%s", section, key);
            return;
        }
    snprintf(buf, n, "%s", ctx->cfg->path);
}

/* A model name of the zoo, or an error at its key */
static void check_zoo(parse_ctx *ctx, const char *section, const char *name)
{
    if (!name[0] || fk_model_find(name))
        return;
    char loc[1200];
    key_loc(ctx, section, "model", loc, sizeof loc);
    note(ctx, FK_ERR_ARG, "%s: unknown model '%s' (figkd-cl models lists the zoo)", loc, name);
    ctx->broken |= broken_by(section, "model");
}

static void check_models(parse_ctx *ctx)
{
    const fk_config *cfg = ctx->cfg;
    check_zoo(ctx, "student", cfg->student_model);
    check_zoo(ctx, "teacher", cfg->teacher_model);
    if (ctx->weights_only)
        return;
    if (!cfg->student_model[0]) {
        note(ctx, FK_ERR_ARG, "%s: [student] model is required (see figkd-cl models)", cfg->path);
        ctx->broken |= FK_BROKEN_STUDENT;
    }
    if (cfg->method->needs_teacher && !cfg->teacher_model[0] && !(ctx->broken & FK_BROKEN_METHOD)) {
        note(ctx, FK_ERR_ARG, "%s: method = %s needs [teacher] model (and checkpoint)", cfg->path, cfg->method->name);
        ctx->broken |= FK_BROKEN_TEACHER;
    }
    if (cfg->teacher_model[0] && !cfg->teacher_checkpoint[0])
        note(ctx, FK_ERR_ARG, "%s: [teacher] checkpoint is required with a teacher model: the path of its "
             "safetensors weights (trained first when the file is missing)", cfg->path);
}

/* An [optim] key of pass (0: [optim], 1: [teacher_optim]) that fails its
 * rule: reported once, at the place it was set (a [teacher_optim] key not
 * given is [optim]'s, reported there). */
static void optim_rule(parse_ctx *ctx, int pass, const char *key, bool bad, const char *why)
{
    if (!bad)
        return;
    for (int i = 0; pass && i < NKEYS; i++)
        if (!strcmp(KEYS[i].section, "optim") && !strcmp(KEYS[i].key, key) && !ctx->seen_t[i])
            return; /* [optim]'s value, reported for [optim] */
    char loc[1200];
    optim_loc(ctx, pass, key, loc, sizeof loc);
    note(ctx, FK_ERR_ARG, "%s: %s", loc, why);
}

static void check_optim(parse_ctx *ctx)
{
    const fk_config *cfg = ctx->cfg;
    for (int pass = 0; pass < 2; pass++) {
        const fk_optim_config *o = pass ? &cfg->teacher_optim : &cfg->optim;
        optim_rule(ctx, pass, "batch_size", o->batch_size < 1, "must be at least 1");
        /* the epoch loop and the cosine schedule need epochs >= 1 (max_steps only shortens a run) */
        optim_rule(ctx, pass, "epochs", o->epochs < 1, "must be at least 1");
        optim_rule(ctx, pass, "lr", o->lr <= 0, "must be positive");
        optim_rule(ctx, pass, "momentum", o->momentum >= 1, "must be below 1");
        optim_rule(ctx, pass, "nesterov", o->nesterov && o->momentum <= 0,
                   "needs a momentum above 0");
    }
    for (int i = 0; i < NKEYS; i++)
        if (KEYS[i].kind == K_MILESTONES && cfg->optim.schedule == FK_SCHED_COSINE && ctx->seen[i])
            note(ctx, FK_ERR_ARG, "%s:%d: optim.milestones conflicts with schedule = cosine (milestones are for "
                 "multistep)", cfg->path, ctx->seen[i]);
}

/* The method's keys that must be above 0 (a temperature). */
static void check_positive(parse_ctx *ctx)
{
    const fk_config *cfg = ctx->cfg;
    const fk_method *m = cfg->method;
    for (int i = 0; i < m->n_keys; i++)
        if (m->keys[i].positive && *(const double *)((const char *)cfg + m->keys[i].off) <= 0) {
            const given *g = given_find(ctx, m->keys[i].name);
            if (g && g->line > 0)
                note(ctx, FK_ERR_ARG, "%s:%d: distill.%s must be positive", cfg->path, g->line, m->keys[i].name);
            else
                note(ctx, FK_ERR_ARG, "%s: distill.%s must be positive", cfg->path, m->keys[i].name);
        }
}

/* [run] name (the file's name without extension) and out_dir (runs/<name>) */
static void name_run(fk_config *cfg)
{
    if (!cfg->name[0]) {
        const char *base = strrchr(cfg->path, '/');
        base = base ? base + 1 : cfg->path;
        snprintf(cfg->name, sizeof cfg->name, "%.*s", (int)(strcspn(base, ".")), base);
    }
    if (!cfg->out_dir[0])
        snprintf(cfg->out_dir, sizeof cfg->out_dir, "runs/%s", cfg->name);
}

/* Every check of the whole config, each error reported. */
static void finish(parse_ctx *ctx)
{
    fk_config *cfg = ctx->cfg;
    apply_distill(ctx);
    name_run(cfg);
    if (ctx->data_only) {
        finish_data(ctx);
        return;
    }
    teacher_optim_fallback(ctx);
    check_models(ctx);
    check_optim(ctx);
    check_positive(ctx);
    finish_data(ctx);
}

/* One --set section.key=value, recorded at the end of the config text. */
static fk_status apply_set(parse_ctx *ctx, const char *set)
{
    fk_config *cfg = ctx->cfg;
    char buf[1200];
    snprintf(buf, sizeof buf, "%s", set);
    char *dot = strchr(buf, '.'), *eq = strchr(buf, '=');
    if (!dot || !eq || dot > eq) {
        note(ctx, FK_ERR_ARG, "--set %s: expected section.key=value", set);
        return FK_OK;
    }
    *dot = *eq = '\0';
    char *val = eq + 1;
    while (*val == ' ')
        val++;
    apply(ctx, buf, dot + 1, val, 0);
    size_t len = strlen(cfg->text);
    char *grown = realloc(cfg->text, len + strlen(set) + 32);
    if (!grown)
        return fk_error(FK_ERR_NOMEM, "out of memory");
    cfg->text = grown;
    sprintf(cfg->text + len, "%s# --set %s\n", (len && cfg->text[len - 1] != '\n') ? "\n" : "", set);
    return FK_OK;
}

static fk_status load(fk_config *cfg, const char *path, const char *const *sets, int n_sets, bool data_only,
                      bool weights_only)
{
    set_defaults(cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    parse_ctx *ctx = fk_calloc(1, sizeof *ctx);
    if (!ctx)
        return FK_ERR_NOMEM;
    ctx->cfg = cfg;
    ctx->where = path;
    ctx->data_only = data_only;
    ctx->weights_only = weights_only;
    fk_status st = FK_OK;
    size_t len;
    int r;
    cfg->text = fk_ini_read(path, &len, &r);
    if (!cfg->text) {
        note(ctx, r == -2 ? FK_ERR_NOMEM : FK_ERR_IO, "%s", fk_last_error()); /* the reader's, not printed yet */
        ctx->broken = FK_BROKEN_ALL;
        goto out;
    }
    r = fk_ini_parse_text(path, cfg->text, len, FK_INI_SECTION_CALLS | FK_INI_KEEP_GOING, handler, ctx);
    if (r < 0 && !ctx->errors) {
        note(ctx, r == -2 ? FK_ERR_NOMEM : FK_ERR_ARG, "%s", fk_last_error());
        ctx->broken = FK_BROKEN_ALL;
        goto out;
    }
    for (int i = 0; i < n_sets && st == FK_OK; i++)
        st = apply_set(ctx, sets[i]);
    if (st == FK_OK)
        finish(ctx);
out:
    cfg->errors = ctx->errors;
    cfg->broken = ctx->broken;
    if (ctx->errors) {
        fk_status first = report_noted(ctx);
        st = st ? st : first;
    }
    free(ctx);
    if (st != FK_OK) {
        free(cfg->text);
        cfg->text = NULL;
    }
    return st;
}

fk_status fk_config_load(fk_config *cfg, const char *path, const char *const *sets, int n_sets)
{
    return load(cfg, path, sets, n_sets, false, false);
}

fk_status fk_config_load_eval(fk_config *cfg, const char *path, const char *const *sets, int n_sets)
{
    return load(cfg, path, sets, n_sets, false, true);
}

fk_status fk_config_load_data(fk_config *cfg, const char *path, const char *const *sets, int n_sets)
{
    return load(cfg, path, sets, n_sets, true, false);
}

void fk_config_free(fk_config *cfg)
{
    free(cfg->text);
    cfg->text = NULL;
}

double fk_optim_lr(const fk_optim_config *o, double epoch)
{
    if (o->warmup_epochs > 0 && epoch < o->warmup_epochs)
        return o->lr * (floor(epoch) + 1) / ceil(o->warmup_epochs); /* epoch e of W: (e + 1) / W */
    double lr = o->lr;
    if (o->schedule == FK_SCHED_MULTISTEP) {
        for (int i = 0; i < o->n_milestones; i++)
            if (floor(epoch) >= o->milestones[i])
                lr *= o->gamma;
    } else {
        double t = (floor(epoch) - o->warmup_epochs) / (o->epochs - o->warmup_epochs);
        if (t < 0)
            t = 0;
        lr = 0.5 * o->lr * (1 + cos(M_PI * (t > 1 ? 1 : t)));
    }
    return lr;
}

static void write_key_row(FILE *f, const char *key, const char *def, const char *help)
{
    fprintf(f, "| `%s` | %s%s%s | %s |\n", key, def ? "`" : "", def ? def : "(required)", def ? "`" : "", help);
}

/* One table per method, from its row. */
static void write_method_docs(FILE *f)
{
    fprintf(f, "\nThe other [distill] keys belong to the method: each method takes only its own keys, with "
               "the defaults below.\n");
    for (int i = 0; fk_methods[i]; i++) {
        const fk_method *m = fk_methods[i];
        fprintf(f, "\n#### method = %s\n\n%s. %s; metrics.jsonl logs its term as `%s` beside `ce`.\n\n", m->name,
                m->help, m->needs_teacher ? "Needs a teacher" : "No teacher", m->term);
        if (!m->n_keys)
            continue;
        fprintf(f, "| key | default | meaning |\n|---|---|---|\n");
        for (int k = 0; k < m->n_keys; k++)
            write_key_row(f, m->keys[k].name, m->keys[k].def, m->keys[k].help);
    }
}

void fk_config_write_docs(FILE *f)
{
    const char *last = "";
    char methods[256];
    size_t n = 0;
    for (int i = 0; fk_methods[i]; i++)
        n += (size_t)snprintf(methods + n, sizeof methods - n, "%s%s", i ? ", " : "", fk_methods[i]->name);
    for (int i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (strcmp(k->section, last)) {
            if (!strcmp(last, "distill"))
                write_method_docs(f);
            fprintf(f, "\n### [%s]\n\n| key | default | meaning |\n|---|---|---|\n", k->section);
            last = k->section;
        }
        write_key_row(f, k->key, k->def, k->kind == K_METHOD ? methods : k->help);
    }
    fprintf(f, "\n### [teacher_optim]\n\nThe keys of [optim]; each one not given takes [optim]'s value.\n");
}
