/* The run configuration: one table of every key with its default, an INI
 * reader that knows line numbers, --set overrides and the checks that stop
 * a bad run before any work. */
#include "figkd/config.h"
#include "figkd/loss.h"

#include <ctype.h>
#include <ini.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_INT, K_LONG, K_U64, K_DOUBLE, K_BOOL, K_METHOD, K_SCHED, K_MILESTONES,
            K_BANDS, K_LOSS, K_SHAPE, K_DATA };

/* Which methods a [distill] key applies to. */
#define M_CE (1u << FK_METHOD_CE)
#define M_KD (1u << FK_METHOD_KD)
#define M_DKD (1u << FK_METHOD_DKD)
#define M_FIGKD (1u << FK_METHOD_FIGKD)
#define M_ALL (M_CE | M_KD | M_DKD | M_FIGKD)

typedef struct key_spec {
    const char *section, *key;
    enum kind kind;
    size_t off;          /* into fk_config, or into fk_optim_config for [optim] keys */
    size_t size;         /* of a K_STR field */
    const char *def;     /* default; "ce=1 kd=0.1 ..." for method-dependent ones; NULL = none */
    unsigned methods;    /* [distill] keys: the methods it applies to */
    const char *help;
} key_spec;

#define C(f) offsetof(fk_config, f), sizeof(((fk_config *)0)->f)
#define O(f) offsetof(fk_optim_config, f), 0

static const key_spec KEYS[] = {
    {"run", "name", K_STR, C(name), "(config file name)", 0, "run name"},
    {"run", "out_dir", K_STR, C(out_dir), "runs/<name>", 0, "where metrics, checkpoints and the config copy go"},
    {"run", "seed", K_U64, C(seed), "0", 0, "one seed for init, shuffling and augmentation"},
    {"run", "eval_every", K_INT, C(eval_every), "1", 0, "evaluate on the test split every N epochs"},
    {"run", "log_every", K_INT, C(log_every), "50", 0, "steps between plain progress lines (no terminal)"},

    {"data", "dataset", K_DATA, 0, 0, "cifar100", 0, "cifar100 | cifar10 | tinyimagenet | imagefolder | fashion-mnist | mnist"},
    {"data", "root", K_DATA, 0, 0, "(per dataset)", 0, "folder of the downloaded data set"},
    {"data", "input_size", K_DATA, 0, 0, "(per dataset)", 0, "side of the square model input"},
    {"data", "resize", K_DATA, 0, 0, "input_size*8/7", 0, "shorter side before the evaluation center crop"},
    {"data", "augment", K_DATA, 0, 0, "standard", 0, "standard | none"},
    {"data", "shuffle", K_DATA, 0, 0, "true", 0, "shuffle the training split each epoch"},
    {"data", "subset", K_DATA, 0, 0, "0", 0, "use the first N training images, balanced per class (0 = all)"},
    {"data", "test_subset", K_DATA, 0, 0, "0", 0, "evaluate on the first N test images, balanced per class (0 = all)"},
    {"data", "workers", K_DATA, 0, 0, "0", 0, "loader threads (0 = min(4, cores))"},
    {"data", "channels", K_DATA, 0, 0, "(data set's)", 0, "1 or 3 (grey images repeated to 3)"},
    {"data", "cache", K_DATA, 0, 0, "true", 0, "tinyimagenet: keep a decoded cache file beside the data"},
    {"data", "mean", K_DATA, 0, 0, "(per dataset)", 0, "normalisation mean, 1 or 3 values"},
    {"data", "std", K_DATA, 0, 0, "(per dataset)", 0, "normalisation std, 1 or 3 values"},

    {"teacher", "model", K_STR, C(teacher_model), "", 0, "teacher architecture (figkd-cl models)"},
    {"teacher", "checkpoint", K_STR, C(teacher_checkpoint), "", 0,
     "teacher weights (safetensors); trained first and saved there when missing"},
    {"student", "model", K_STR, C(student_model), NULL, 0, "student architecture (required)"},
    {"student", "init", K_STR, C(student_init), "", 0, "optional safetensors to start the student from"},

    {"distill", "method", K_METHOD, C(method), "figkd", 0, "ce | kd | dkd | figkd"},
    {"distill", "alpha", K_DOUBLE, C(alpha), "ce=1 kd=0.1 dkd=1 figkd=1", M_ALL,
     "ce/kd/figkd: weight of the cross-entropy; dkd: weight of the target-class term"},
    {"distill", "beta", K_DOUBLE, C(beta), "kd=0.9 dkd=8 figkd=1", M_KD | M_DKD | M_FIGKD,
     "kd: weight of the KD term; dkd: weight of the non-target term; figkd: weight of the detail loss"},
    {"distill", "ce_weight", K_DOUBLE, C(ce_weight), "dkd=1", M_DKD, "dkd: weight of the cross-entropy"},
    {"distill", "temperature", K_DOUBLE, C(temperature), "kd=4 dkd=4", M_KD | M_DKD, "softmax temperature T"},
    {"distill", "warmup_epochs", K_DOUBLE, C(warmup_epochs), "dkd=20", M_DKD,
     "dkd: the DKD term is scaled by min(epoch / warmup_epochs, 1), epochs counted from 1"},
    {"distill", "bands", K_BANDS, C(bands), "figkd=LH,HL,HH", M_FIGKD, "wavelet bands compared: any of LL, LH, HL, HH"},
    {"distill", "loss", K_LOSS, C(detail_l1), "figkd=mse", M_FIGKD, "mse | l1"},
    {"distill", "shape", K_SHAPE, C(shape_h), "figkd=auto", M_FIGKD,
     "HxW grid of the logits (auto: largest divisor of C up to sqrt(C) rows)"},

    {"optim", "lr", K_DOUBLE, O(lr), "0.05", 0, "base learning rate"},
    {"optim", "momentum", K_DOUBLE, O(momentum), "0.9", 0, "SGD momentum"},
    {"optim", "weight_decay", K_DOUBLE, O(weight_decay), "5e-4", 0, "L2 weight decay on every parameter"},
    {"optim", "nesterov", K_BOOL, O(nesterov), "false", 0, "Nesterov momentum"},
    {"optim", "batch_size", K_INT, O(batch_size), "64", 0, "images per step"},
    {"optim", "epochs", K_INT, O(epochs), "240", 0, "training epochs"},
    {"optim", "max_steps", K_LONG, O(max_steps), "0", 0, "stop after N steps (0 = no limit)"},
    {"optim", "schedule", K_SCHED, O(schedule), "multistep", 0, "multistep | cosine"},
    {"optim", "milestones", K_MILESTONES, O(n_milestones), "150,180,210", 0, "multistep: epochs where lr is multiplied by gamma"},
    {"optim", "gamma", K_DOUBLE, O(gamma), "0.1", 0, "multistep factor"},
    {"optim", "warmup_epochs", K_DOUBLE, O(warmup_epochs), "0", 0, "linear learning-rate warm-up, in epochs"},
};
#define NKEYS (int)(sizeof KEYS / sizeof KEYS[0])
static const char *SECTIONS[] = {"run", "data", "teacher", "student", "distill", "optim", "teacher_optim"};

const char *fk_method_name(fk_method m)
{
    static const char *names[] = {"ce", "kd", "dkd", "figkd"};
    return (unsigned)m < 4 ? names[m] : "?";
}

/* ---- value setters ---------------------------------------------------- */

static int eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

/* Set one key; on error writes a message (without location) into err. */
static int set_value(const key_spec *k, void *base, const char *v, char *err, size_t errsz)
{
    char *p = (char *)base + k->off;
    long l;
    double d;
    switch (k->kind) {
    case K_STR:
        if (strlen(v) >= k->size)
            return snprintf(err, errsz, "value too long (at most %zu characters)", k->size - 1), -1;
        memcpy(p, v, strlen(v) + 1);
        return 0;
    case K_INT:
    case K_LONG:
        if (fk_parse_long(v, &l) || l < 0 || (k->kind == K_INT && l > 1000000000L))
            return snprintf(err, errsz, "'%s' is not a non-negative integer", v), -1;
        if (k->kind == K_INT)
            *(int *)p = (int)l;
        else
            *(long *)p = l;
        return 0;
    case K_U64: {
        char *end;
        if (!*v || *v == '-')
            return snprintf(err, errsz, "'%s' is not a non-negative integer", v), -1;
        unsigned long long u = strtoull(v, &end, 10);
        if (*end)
            return snprintf(err, errsz, "'%s' is not a non-negative integer", v), -1;
        *(unsigned long long *)p = u;
        return 0;
    }
    case K_DOUBLE:
        if (fk_parse_double(v, &d) || !isfinite(d) || d < 0)
            return snprintf(err, errsz, "'%s' is not a non-negative number", v), -1;
        *(double *)p = d;
        return 0;
    case K_BOOL:
        if (eq_nocase(v, "true") || eq_nocase(v, "yes") || !strcmp(v, "1"))
            *(bool *)p = true;
        else if (eq_nocase(v, "false") || eq_nocase(v, "no") || !strcmp(v, "0"))
            *(bool *)p = false;
        else
            return snprintf(err, errsz, "'%s' is not a boolean; valid: true, false", v), -1;
        return 0;
    case K_METHOD:
        for (int m = 0; m < 4; m++)
            if (eq_nocase(v, fk_method_name((fk_method)m))) {
                *(fk_method *)p = (fk_method)m;
                return 0;
            }
        return snprintf(err, errsz, "unknown method '%s'; valid: ce, kd, dkd, figkd", v), -1;
    case K_SCHED:
        if (eq_nocase(v, "multistep"))
            *(fk_schedule *)p = FK_SCHED_MULTISTEP;
        else if (eq_nocase(v, "cosine"))
            *(fk_schedule *)p = FK_SCHED_COSINE;
        else
            return snprintf(err, errsz, "unknown schedule '%s'; valid: multistep, cosine", v), -1;
        return 0;
    case K_MILESTONES: {
        fk_optim_config *o = (fk_optim_config *)base;
        char buf[512];
        snprintf(buf, sizeof buf, "%s", v);
        int n = 0, prev = -1;
        for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
            if (fk_parse_long(tok, &l) || l <= prev || l > 1000000)
                return snprintf(err, errsz, "milestones must be increasing epochs, e.g. 150,180,210; got '%s'", v), -1;
            if (n == FK_MAX_MILESTONES)
                return snprintf(err, errsz, "at most %d milestones", FK_MAX_MILESTONES), -1;
            o->milestones[n++] = (int)l;
            prev = (int)l;
        }
        o->n_milestones = n;
        return 0;
    }
    case K_BANDS: {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", v);
        int mask = 0;
        for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
            int bit = eq_nocase(tok, "LL") ? FK_BAND_LL : eq_nocase(tok, "LH") ? FK_BAND_LH
                    : eq_nocase(tok, "HL") ? FK_BAND_HL : eq_nocase(tok, "HH") ? FK_BAND_HH : 0;
            if (!bit)
                return snprintf(err, errsz, "unknown band '%s'; valid: LL, LH, HL, HH (comma-separated)", tok), -1;
            mask |= bit;
        }
        if (!mask)
            return snprintf(err, errsz, "bands must name at least one of LL, LH, HL, HH"), -1;
        *(int *)p = mask;
        return 0;
    }
    case K_LOSS:
        if (eq_nocase(v, "mse"))
            *(int *)p = 0;
        else if (eq_nocase(v, "l1"))
            *(int *)p = 1;
        else
            return snprintf(err, errsz, "unknown loss '%s'; valid: mse, l1", v), -1;
        return 0;
    case K_SHAPE: {
        fk_config *c = (fk_config *)base;
        if (eq_nocase(v, "auto")) {
            c->shape_h = c->shape_w = 0;
            return 0;
        }
        int h, w;
        char tail;
        if (sscanf(v, "%dx%d%c", &h, &w, &tail) != 2 || h < 1 || w < 1)
            return snprintf(err, errsz, "shape must be HxW (e.g. 10x10) or auto; got '%s'", v), -1;
        c->shape_h = h;
        c->shape_w = w;
        return 0;
    }
    case K_DATA: {
        fk_config *c = (fk_config *)base;
        int q = fk_error_quiet(1);
        fk_status st = fk_data_config_set(&c->data, k->key, v);
        fk_error_quiet(q);
        if (st != FK_OK)
            return snprintf(err, errsz, "%s", fk_last_error()), -1;
        return 0;
    }
    }
    return -1;
}

/* Default for a method from "ce=1 kd=0.1 ..." or NULL. */
static const char *method_default(const char *def, fk_method m, char *buf, size_t n)
{
    const char *name = fk_method_name(m);
    size_t nl = strlen(name);
    for (const char *p = def; p && *p;) {
        if (!strncmp(p, name, nl) && p[nl] == '=') {
            const char *e = strchr(p + nl + 1, ' ');
            size_t len = e ? (size_t)(e - p - nl - 1) : strlen(p + nl + 1);
            snprintf(buf, n, "%.*s", (int)len, p + nl + 1);
            return buf;
        }
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return NULL;
}

static int is_method_dependent(const key_spec *k)
{
    return k->def && strchr(k->def, '=') && k->methods;
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct parse_ctx {
    fk_config *cfg;
    const char *where;   /* file path, or "--set" */
    FILE *file;
    bool data_only;      /* fk_config_load_data: check [data] only at the end */
    int line;            /* current line (counted by the reader) */
    int section_line;    /* line of the last [section] header */
    int seen[NKEYS];     /* line where set in [optim]/others, 0 = not */
    int seen_t[NKEYS];   /* line where set in [teacher_optim] */
    char error[4096];
} parse_ctx;

static char *reader(char *str, int num, void *stream)
{
    parse_ctx *ctx = stream;
    char *r = fgets(str, num, ctx->file);
    if (r) {
        ctx->line++;
        const char *p = r;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '[')
            ctx->section_line = ctx->line;
    }
    return r;
}

static int apply(parse_ctx *ctx, const char *section, const char *name, const char *value, int line)
{
    fk_config *cfg = ctx->cfg;
    int known_section = 0;
    for (size_t s = 0; s < sizeof SECTIONS / sizeof SECTIONS[0]; s++)
        known_section |= !strcmp(section, SECTIONS[s]);
    char loc[1100];
    if (line > 0)
        snprintf(loc, sizeof loc, "%s:%d", ctx->where, line);
    else
        snprintf(loc, sizeof loc, "--set %s.%s", section, name);
    if (!known_section) {
        if (line > 0 && ctx->section_line > 0)
            snprintf(loc, sizeof loc, "%s:%d", ctx->where, ctx->section_line);
        snprintf(ctx->error, sizeof ctx->error,
                 "%s: unknown section [%s]; valid: [run] [data] [teacher] [student] [distill] [optim] [teacher_optim]",
                 loc, section);
        return 0;
    }
    int teacher_optim = !strcmp(section, "teacher_optim");
    const char *sect = teacher_optim ? "optim" : section;
    for (int i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (strcmp(k->section, sect) || strcmp(k->key, name))
            continue;
        void *base = !strcmp(sect, "optim") ? (void *)(teacher_optim ? &cfg->teacher_optim : &cfg->optim)
                                            : (void *)cfg;
        char err[1024];
        if (set_value(k, base, value, err, sizeof err)) {
            snprintf(ctx->error, sizeof ctx->error, "%s: %s.%s: %s", loc, section, name, err);
            return 0;
        }
        (teacher_optim ? ctx->seen_t : ctx->seen)[i] = line > 0 ? line : -1;
        return 1;
    }
    char valid[1024] = "";
    size_t n = 0;
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(KEYS[i].section, sect))
            n += (size_t)snprintf(valid + n, sizeof valid - n, "%s%s", n ? ", " : "", KEYS[i].key);
    snprintf(ctx->error, sizeof ctx->error, "%s: unknown key '%s' in [%s]; valid: %s", loc, name, section, valid);
    return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *ctx = user;
    return apply(ctx, section, name, value, ctx->line);
}

static void set_defaults(fk_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    fk_data_config_default(&cfg->data);
    char err[256];
    for (int i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (!k->def || k->kind == K_DATA || is_method_dependent(k) || k->def[0] == '(' ||
            !strcmp(k->key, "out_dir"))
            continue;
        void *base = !strcmp(k->section, "optim") ? (void *)&cfg->optim : (void *)cfg;
        set_value(k, base, k->def, err, sizeof err);
    }
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = g;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
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

static fk_status finish_data(fk_config *cfg)
{
    int q = fk_error_quiet(1);
    fk_status st = fk_data_config_finish(&cfg->data);
    fk_error_quiet(q);
    if (st != FK_OK)
        return fk_error(st, "%s: [data] %s", cfg->path, fk_last_error());
    return FK_OK;
}

static fk_status finish(parse_ctx *ctx)
{
    fk_config *cfg = ctx->cfg;
    char buf[64], err[512];
    if (ctx->data_only)
        return finish_data(cfg);
    /* method-dependent keys: default, and refuse keys of other methods */
    for (int i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (!k->methods)
            continue;
        if (ctx->seen[i] && !(k->methods & (1u << cfg->method))) {
            char keys[256] = "";
            size_t n = 0;
            for (int j = 0; j < NKEYS; j++)
                if (KEYS[j].methods & (1u << cfg->method))
                    n += (size_t)snprintf(keys + n, sizeof keys - n, "%s%s", n ? ", " : "", KEYS[j].key);
            char loc[1100];
            if (ctx->seen[i] > 0)
                snprintf(loc, sizeof loc, "%s:%d", cfg->path, ctx->seen[i]);
            else
                snprintf(loc, sizeof loc, "--set distill.%s", k->key);
            return fk_error(FK_ERR_ARG, "%s: distill.%s does not apply to method = %s (its keys: %s)", loc, k->key,
                            fk_method_name(cfg->method), keys);
        }
        if (!ctx->seen[i]) {
            const char *d = method_default(k->def, cfg->method, buf, sizeof buf);
            if (d)
                set_value(k, cfg, d, err, sizeof err);
        }
    }
    /* [teacher_optim] defaults to [optim], key by key */
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
    /* required keys and conflicts */
    if (!cfg->student_model[0])
        return fk_error(FK_ERR_ARG, "%s: [student] model is required (see figkd-cl models)", cfg->path);
    if (cfg->method != FK_METHOD_CE && !cfg->teacher_model[0])
        return fk_error(FK_ERR_ARG, "%s: method = %s needs [teacher] model (and checkpoint)", cfg->path,
                        fk_method_name(cfg->method));
    if (cfg->teacher_model[0] && !cfg->teacher_checkpoint[0])
        return fk_error(FK_ERR_ARG, "%s: [teacher] checkpoint is required with a teacher model: the path of "
                        "its safetensors weights (trained first when the file is missing)", cfg->path);
    for (int pass = 0; pass < 2; pass++) {
        const fk_optim_config *o = pass ? &cfg->teacher_optim : &cfg->optim;
        char loc[1200];
        if (o->batch_size < 1)
            return optim_loc(ctx, pass, "batch_size", loc, sizeof loc),
                   fk_error(FK_ERR_ARG, "%s: must be at least 1", loc);
        /* the epoch loop and the cosine schedule need epochs >= 1 (max_steps only shortens a run) */
        if (o->epochs < 1)
            return optim_loc(ctx, pass, "epochs", loc, sizeof loc),
                   fk_error(FK_ERR_ARG, "%s: must be at least 1", loc);
        if (o->lr <= 0)
            return optim_loc(ctx, pass, "lr", loc, sizeof loc), fk_error(FK_ERR_ARG, "%s: must be positive", loc);
        if (o->momentum >= 1)
            return optim_loc(ctx, pass, "momentum", loc, sizeof loc),
                   fk_error(FK_ERR_ARG, "%s: must be below 1", loc);
        if (o->nesterov && o->momentum <= 0)
            return optim_loc(ctx, pass, "nesterov", loc, sizeof loc),
                   fk_error(FK_ERR_ARG, "%s: needs a momentum above 0", loc);
    }
    for (int i = 0; i < NKEYS; i++)
        if (KEYS[i].kind == K_MILESTONES && cfg->optim.schedule == FK_SCHED_COSINE && ctx->seen[i])
            return fk_error(FK_ERR_ARG, "%s:%d: optim.milestones conflicts with schedule = cosine (milestones are "
                            "for multistep)", cfg->path, ctx->seen[i]);
    if (cfg->method == FK_METHOD_DKD && cfg->temperature <= 0)
        return fk_error(FK_ERR_ARG, "%s: distill.temperature must be positive", cfg->path);
    if (cfg->method == FK_METHOD_KD && cfg->temperature <= 0)
        return fk_error(FK_ERR_ARG, "%s: distill.temperature must be positive", cfg->path);
    /* [run] name and out_dir */
    if (!cfg->name[0]) {
        const char *base = strrchr(cfg->path, '/');
        base = base ? base + 1 : cfg->path;
        snprintf(cfg->name, sizeof cfg->name, "%.*s", (int)(strcspn(base, ".")), base);
    }
    if (!cfg->out_dir[0])
        snprintf(cfg->out_dir, sizeof cfg->out_dir, "runs/%s", cfg->name);
    return finish_data(cfg);
}

static fk_status load(fk_config *cfg, const char *path, const char *const *sets, int n_sets, bool data_only)
{
    set_defaults(cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    parse_ctx *ctx = fk_calloc(1, sizeof *ctx);
    if (!ctx)
        return FK_ERR_NOMEM;
    ctx->cfg = cfg;
    ctx->where = path;
    ctx->data_only = data_only;
    fk_status st = FK_OK;
    cfg->text = read_text(path);
    ctx->file = cfg->text ? fopen(path, "r") : NULL;
    if (!ctx->file) {
        st = fk_error(FK_ERR_IO, "%s: cannot read the config file", path);
        goto out;
    }
    int r = ini_parse_stream(reader, ctx, handler, ctx);
    fclose(ctx->file);
    if (ctx->error[0]) {
        st = fk_error(FK_ERR_ARG, "%s", ctx->error);
        goto out;
    }
    if (r > 0) {
        st = fk_error(FK_ERR_ARG, "%s:%d: not an INI line (expected [section] or key = value)", path, r);
        goto out;
    }
    for (int i = 0; i < n_sets; i++) {
        char buf[1200];
        snprintf(buf, sizeof buf, "%s", sets[i]);
        char *dot = strchr(buf, '.'), *eq = strchr(buf, '=');
        if (!dot || !eq || dot > eq) {
            st = fk_error(FK_ERR_ARG, "--set %s: expected section.key=value", sets[i]);
            goto out;
        }
        *dot = *eq = '\0';
        char *val = eq + 1;
        while (*val == ' ')
            val++;
        if (!apply(ctx, buf, dot + 1, val, 0)) {
            st = fk_error(FK_ERR_ARG, "%s", ctx->error);
            goto out;
        }
        size_t len = strlen(cfg->text);
        char *grown = realloc(cfg->text, len + strlen(sets[i]) + 32);
        if (!grown) {
            st = fk_error(FK_ERR_NOMEM, "out of memory");
            goto out;
        }
        cfg->text = grown;
        sprintf(cfg->text + len, "%s# --set %s\n", (len && cfg->text[len - 1] != '\n') ? "\n" : "", sets[i]);
    }
    st = finish(ctx);
out:
    free(ctx);
    if (st != FK_OK) {
        free(cfg->text);
        cfg->text = NULL;
    }
    return st;
}

fk_status fk_config_load(fk_config *cfg, const char *path, const char *const *sets, int n_sets)
{
    return load(cfg, path, sets, n_sets, false);
}

fk_status fk_config_load_data(fk_config *cfg, const char *path)
{
    return load(cfg, path, NULL, 0, true);
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

void fk_config_write_docs(FILE *f)
{
    const char *last = "";
    for (int i = 0; i < NKEYS; i++) {
        const key_spec *k = &KEYS[i];
        if (strcmp(k->section, last)) {
            fprintf(f, "\n### [%s]\n\n| key | default | meaning |\n|---|---|---|\n", k->section);
            last = k->section;
        }
        fprintf(f, "| `%s` | %s%s%s | %s |\n", k->key, k->def ? "`" : "", k->def ? k->def : "(required)",
                k->def ? "`" : "", k->help);
    }
    fprintf(f, "\n### [teacher_optim]\n\nThe keys of [optim]; each one not given takes [optim]'s value.\n");
}
