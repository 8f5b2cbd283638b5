/* What a run's files say about where they come from, and what a run may do
 * with an out_dir that already holds one:
 * - checkpoints record model, class count, input size, data set and a hash
 *   of the config text (fk_provenance_keys);
 * - a teacher checkpoint made for another model, class count, input size
 *   or data set is refused before any work (fk_provenance_check_teacher);
 * - a train into an out_dir that holds a run needs --resume (continue: the
 *   keys that shape the run must not have changed) or --force (start
 *   afresh: the old files move to a dated folder, nothing is deleted). */
#include "figkd/ini.h"
#include "train/stage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 64-bit FNV-1a of the config text, as 16 hex digits */
static void config_hash(const fk_config *cfg, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = cfg->text ? cfg->text : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

void fk_provenance_keys(const fk_config *cfg, int classes, fk_provenance *p)
{
    snprintf(p->classes, sizeof p->classes, "%d", classes);
    snprintf(p->input, sizeof p->input, "%d", cfg->data.input_size);
    snprintf(p->dataset, sizeof p->dataset, "%s", fk_dataset_name(cfg->data.dataset));
    config_hash(cfg, p->hash);
}

/* ---- the teacher checkpoint ---- */

static fk_status differs(const char *path, const char *what, const char *file, const char *want)
{
    return fk_error(FK_ERR_ARG, "%s: this teacher checkpoint was made for %s %s, the config needs %s %s: give "
                    "[teacher] checkpoint a path of its own for this run (a missing file is trained first)",
                    path, what, file, what, want);
}

fk_status fk_provenance_check_teacher(const fk_config *cfg, int classes, fk_st_file *meta)
{
    const char *path = cfg->teacher_checkpoint;
    fk_provenance want;
    fk_provenance_keys(cfg, classes, &want);
    const char *model = fk_st_meta(meta, "figkd.model"), *c = fk_st_meta(meta, "figkd.classes");
    const char *in = fk_st_meta(meta, "figkd.input"), *ds = fk_st_meta(meta, "figkd.dataset");
    if (model && strcmp(model, cfg->teacher_model))
        return differs(path, "the model", model, cfg->teacher_model);
    if (c && strcmp(c, want.classes))
        return differs(path, "a class count of", c, want.classes);
    if (in && strcmp(in, want.input))
        return differs(path, "an input size of", in, want.input);
    if (ds && strcmp(ds, want.dataset))
        return differs(path, "the data set", ds, want.dataset);
    return FK_OK;
}

/* ---- an out_dir that holds a run ---- */

/* The files and folders of a run in out_dir, as written by train. */
static const char *const RUN_FILES[] = {"config.ini", "metrics.jsonl", "last.safetensors", "best.safetensors",
                                        "teacher"};
#define N_RUN_FILES (sizeof RUN_FILES / sizeof RUN_FILES[0])

static int present(const char *dir, const char *name)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* The checkpoints that make out_dir hold a run, one that --resume can
 * continue (a run stopped before its first last.safetensors left nothing
 * that a new run does not write again): "last.safetensors, ..." */
static const char *const CHECKPOINTS[] = {"last.safetensors", "teacher/last.safetensors"};

static int run_files(const char *dir, char *list, size_t n)
{
    int found = 0;
    list[0] = '\0';
    for (size_t i = 0; i < sizeof CHECKPOINTS / sizeof CHECKPOINTS[0]; i++)
        if (present(dir, CHECKPOINTS[i])) {
            size_t len = strlen(list);
            snprintf(list + len, n - len, "%s%s", found++ ? ", " : "", CHECKPOINTS[i]);
        }
    return found;
}

/* --force: the run's files move into out_dir/previous-<date>/ (renames in
 * one folder: nothing is deleted). The teacher checkpoint stays when it
 * lives in out_dir: it is an input of the run, not an output. */
static fk_status move_aside(const fk_config *cfg)
{
    char stamp[32], aside[1300];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(aside, sizeof aside, "%s/previous-%s", cfg->out_dir, stamp);
    for (int k = 2; access(aside, F_OK) == 0; k++)
        snprintf(aside, sizeof aside, "%s/previous-%s-%d", cfg->out_dir, stamp, k);
    if (mkdir(aside, 0777) != 0)
        return fk_error(FK_ERR_IO, "%s: cannot create: %s", aside, strerror(errno));
    for (size_t i = 0; i < N_RUN_FILES; i++) {
        char from[1300], to[1400];
        snprintf(from, sizeof from, "%s/%s", cfg->out_dir, RUN_FILES[i]);
        snprintf(to, sizeof to, "%s/%s", aside, RUN_FILES[i]);
        if (access(from, F_OK) == 0 && rename(from, to) != 0)
            return fk_error(FK_ERR_IO, "%s: cannot move to %s: %s", from, to, strerror(errno));
    }
    printf("--force: the previous run's files are in %s\n", aside);
    return FK_OK;
}

/* The --set lines a saved config.ini records ("# --set section.key=value"). */
static int saved_sets(char *text, const char **sets, int max)
{
    int n = 0;
    for (char *line = text; line && *line && n < max;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (!strncmp(line, "# --set ", 8))
            sets[n++] = line + 8;
        line = end ? end + 1 : NULL;
    }
    return n;
}

/* A key that shapes the run and differs between the saved config and cfg. */
static const char *changed_key(const fk_config *was, const fk_config *cfg)
{
    if (strcmp(was->student_model, cfg->student_model))
        return "student.model";
    if (strcmp(was->teacher_model, cfg->teacher_model))
        return "teacher.model";
    if (strcmp(was->teacher_checkpoint, cfg->teacher_checkpoint))
        return "teacher.checkpoint";
    if (was->data.dataset != cfg->data.dataset)
        return "data.dataset";
    if (strcmp(was->data.root, cfg->data.root))
        return "data.root";
    if (was->data.input_size != cfg->data.input_size)
        return "data.input_size";
    if (was->data.subset != cfg->data.subset)
        return "data.subset";
    if (was->optim.batch_size != cfg->optim.batch_size)
        return "optim.batch_size";
    if (was->seed != cfg->seed)
        return "run.seed";
    if (was->method != cfg->method)
        return "distill.method";
    if (memcmp(was->distill, cfg->distill, sizeof cfg->distill))
        return "a [distill] key";
    return NULL;
}

/* --resume: the saved config.ini (with its --set lines) against cfg */
static fk_status check_unchanged(const fk_config *cfg)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/config.ini", cfg->out_dir);
    if (access(path, F_OK) != 0)
        return FK_OK; /* a run from before config.ini was kept: nothing to compare */
    size_t len;
    int r;
    char *text = fk_ini_read(path, &len, &r);
    if (!text)
        return fk_error(FK_ERR_IO, "%s", fk_last_error());
    const char *sets[64];
    int n = saved_sets(text, sets, 64);
    fk_config was;
    int q = fk_error_quiet(1);
    fk_status st = fk_config_load(&was, path, sets, n);
    fk_error_quiet(q);
    if (st) {
        free(text);
        return fk_error(FK_ERR_ARG, "--resume: the saved %s does not load any more (%s): resume with the config "
                        "it was made with, or start afresh with --force", path, fk_last_error());
    }
    const char *key = changed_key(&was, cfg);
    fk_config_free(&was);
    free(text);
    if (key)
        return fk_error(FK_ERR_ARG, "--resume: %s differs from the run in %s (%s): resume with the same value, "
                        "or start afresh with --force", key, cfg->out_dir, path);
    return FK_OK;
}

fk_status fk_provenance_check_dir(const fk_config *cfg, bool resume, bool force)
{
    char list[256];
    int held = run_files(cfg->out_dir, list, sizeof list);
    if (resume) {
        if (!present(cfg->out_dir, "last.safetensors") && !present(cfg->out_dir, "teacher/last.safetensors"))
            return fk_error(FK_ERR_ARG, "--resume: %s holds no checkpoint to resume (no last.safetensors)",
                            cfg->out_dir);
        return check_unchanged(cfg);
    }
    if (!held || force)
        return FK_OK;
    return fk_error(FK_ERR_ARG, "%s already holds a run (%s): --resume continues it, --force starts afresh "
                    "(its files move to %s/previous-<date>/, nothing is deleted)", cfg->out_dir, list,
                    cfg->out_dir);
}

fk_status fk_provenance_prepare_dir(const fk_config *cfg, bool resume, bool force)
{
    FK_TRY(fk_provenance_check_dir(cfg, resume, force));
    char list[256];
    if (!resume && force && run_files(cfg->out_dir, list, sizeof list))
        return move_aside(cfg);
    return FK_OK;
}
