/* Checkpoint and resume policy of a stage: what a checkpoint records beside
 * the weights and the optimizer state (stage, model, position in the data,
 * accumulators, best accuracy, seed, config text), reading it back, and
 * trimming metrics.jsonl to the checkpoint's epoch. */
#include "train/stage.h"

#include "figkd/checkpoint.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

fk_status fk_stage_save(const stage *S, const char *file, long epoch, long batch, long step, const float *acc,
                        bool done)
{
    char path[1200], e[32], b[32], s[32], best[64], be[32], a[160], seed[32], last[64];
    if (!fk_par_root(fk_par_world()))
        return FK_OK; /* rank 0 writes the job's checkpoints */
    fk_provenance pv;
    fk_provenance_keys(S->cfg, S->classes, &pv);
    snprintf(path, sizeof path, "%s/%s", S->dir, file);
    snprintf(e, sizeof e, "%ld", epoch);
    snprintf(b, sizeof b, "%ld", batch);
    snprintf(s, sizeof s, "%ld", step);
    snprintf(best, sizeof best, "%.17g", S->best_acc);
    snprintf(be, sizeof be, "%d", S->best_epoch);
    snprintf(last, sizeof last, "%.17g", S->last_acc);
    snprintf(a, sizeof a, "%.9g,%.9g,%.9g,%.9g", acc[0], acc[1], acc[2], acc[3]);
    snprintf(seed, sizeof seed, "%" PRIu64, S->seed);
    const char *keys[] = {"figkd.stage", "figkd.model", "figkd.epoch", "figkd.batch", "figkd.step",
                          "figkd.best_acc", "figkd.best_epoch", "figkd.acc", "figkd.seed", "figkd.done",
                          "figkd.config", "figkd.last_acc", "figkd.classes", "figkd.input", "figkd.dataset",
                          "figkd.config_hash"};
    const char *vals[] = {S->label, S->net->entry->name, e, b, s, best, be, a, seed, done ? "1" : "0",
                          S->cfg->text ? S->cfg->text : "", last, pv.classes, pv.input, pv.dataset, pv.hash};
    fk_train_saving(true);
    const fk_param_store *stores[] = {&S->net->graph.params,
                                      S->method_params ? &S->method_params->graph.params : NULL};
    fk_status st = fk_checkpoint_save_stores(S->rt, stores, S->method_params ? 2 : 1, path, true, keys, vals,
                                             sizeof keys / sizeof keys[0]);
    fk_train_saving(false);
    return st;
}

/* A number of the checkpoint's metadata: def when absent, an error naming
 * the key when it is not a number. */
static fk_status meta_number(const fk_st_file *f, const char *path, const char *key, double def, double *out)
{
    const char *v = fk_st_meta(f, key);
    *out = def;
    if (v && fk_parse_double(v, out))
        return fk_error(FK_ERR_FORMAT, "%s: metadata %s = '%s' is not a number", path, key, v);
    return FK_OK;
}

/* figkd.acc: FK_ACC_COUNT comma-separated numbers */
static fk_status meta_acc(const fk_st_file *f, const char *path, float *acc)
{
    const char *v = fk_st_meta(f, "figkd.acc");
    memset(acc, 0, FK_ACC_COUNT * sizeof *acc);
    if (!v)
        return FK_OK;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    int n = 0;
    double d;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == FK_ACC_COUNT || fk_parse_double(tok, &d))
            return fk_error(FK_ERR_FORMAT, "%s: metadata figkd.acc = '%s' is not %d numbers", path, v, FK_ACC_COUNT);
        acc[n++] = (float)d;
    }
    return FK_OK;
}

fk_status fk_stage_load(stage *S, const char *path, fk_resume_point *at)
{
    fk_st_file meta;
    fk_param_store *stores[] = {&S->net->graph.params, S->method_params ? &S->method_params->graph.params : NULL};
    FK_TRY(fk_checkpoint_load_stores(S->rt, stores, S->method_params ? 2 : 1, path, true, &meta));
    double epoch, batch, step, best_epoch, done;
    fk_status st = meta_number(&meta, path, "figkd.epoch", 0, &epoch);
    if (!st)
        st = meta_number(&meta, path, "figkd.batch", 0, &batch);
    if (!st)
        st = meta_number(&meta, path, "figkd.step", 0, &step);
    if (!st)
        st = meta_number(&meta, path, "figkd.best_epoch", 0, &best_epoch);
    if (!st)
        st = meta_number(&meta, path, "figkd.best_acc", -1, &S->best_acc);
    if (!st) /* the last evaluation's accuracy; absent in older checkpoints */
        st = meta_number(&meta, path, "figkd.last_acc", -1, &S->last_acc);
    if (!st)
        st = meta_number(&meta, path, "figkd.done", 0, &done);
    if (!st)
        st = meta_acc(&meta, path, at->acc);
    fk_st_free(&meta);
    at->epoch = (long)epoch;
    at->batch = (long)batch;
    at->step = (long)step;
    at->done = done == 1;
    S->best_epoch = (int)best_epoch;
    return st;
}

/* The epoch of a metrics.jsonl line, -1 when it has none. */
static long line_epoch(const char *line)
{
    const char *p = strstr(line, "\"epoch\": ");
    if (!p)
        return -1;
    char *end;
    long e = strtol(p + 9, &end, 10);
    return end > p + 9 && (*end == ',' || *end == '}') ? e : -1;
}

fk_status fk_metrics_trim(const char *path, long last_epoch)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return FK_OK; /* nothing written yet */
    fk_atomic_file af;
    fk_status st = fk_atomic_open(&af, path);
    char line[4096];
    while (!st && fgets(line, sizeof line, f)) {
        long e = line_epoch(line);
        if (e >= 0 && e <= last_epoch)
            st = fk_atomic_write(&af, line, strlen(line));
    }
    if (!st && ferror(f))
        st = fk_error(FK_ERR_IO, "%s: read failed", path);
    fclose(f);
    if (!st)
        return fk_atomic_commit(&af);
    fk_atomic_abort(&af);
    return st;
}
