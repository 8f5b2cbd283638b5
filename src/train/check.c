/* Checks before any work (figkd/check.h): nothing here writes or needs a
 * device; every error is reported where it is found and counted. */
#include "figkd/check.h"
#include "figkd/model.h"
#include "train/stage.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Report an error and count it. */
static void report(int *errors, const char *fmt, ...) FK_PRINTF(2, 3);
static void report(int *errors, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fk_error(FK_ERR_ARG, "%s", msg);
    (*errors)++;
}

/* A call whose error is recorded quietly, then reported with a prefix. */
#define QUIET(st, call)                                                                                             \
    do {                                                                                                            \
        int q_ = fk_error_quiet(1);                                                                                 \
        st = (call);                                                                                                \
        fk_error_quiet(q_);                                                                                         \
    } while (0)

void fk_check_data(const fk_config *cfg, fk_dataset **train, fk_dataset **test, double *seconds, int *errors)
{
    fk_dataset **split[2] = {train, test};
    for (int i = 0; i < 2; i++)
        if (split[i])
            *split[i] = NULL;
    if (cfg->broken & FK_BROKEN_DATA)
        return;
    char said[2048] = "";
    for (int i = 0; i < 2; i++) {
        if (!split[i])
            continue;
        fk_status st;
        double t0 = fk_seconds();
        QUIET(st, fk_dataset_open(&cfg->data, i == 0, split[i]));
        if (seconds)
            seconds[i] = fk_seconds() - t0;
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", fk_last_error());
        /* the test split failing as the training split did (the same
         * message, or the class folders of the two that differ): said once */
        if (st && strcmp(msg, said) && !(said[0] && strstr(said, "differ") && strstr(msg, "differ")))
            report(errors, "%s: %s%s", cfg->path, strstr(msg, "[data]") ? "" : "[data] ", msg);
        if (st)
            snprintf(said, sizeof said, "%s", msg);
    }
    if (train && test && *train && *test && fk_dataset_classes(*train) != fk_dataset_classes(*test))
        report(errors, "%s: [data] root %s: the training split has %d classes, the test split %d: both must have "
               "the same classes", cfg->path, cfg->data.root, fk_dataset_classes(*train), fk_dataset_classes(*test));
}

void fk_check_default_weights(const fk_config *cfg, char *path, size_t n)
{
    snprintf(path, n, "%s/best.safetensors", cfg->out_dir);
    if (access(path, F_OK) != 0)
        snprintf(path, n, "%s/last.safetensors", cfg->out_dir);
}

/* dir, or the nearest folder above it that exists, is a folder we can
 * write in; messages start "label: " */
static void writable(const char *label, const char *dir, int *errors)
{
    char p[1200];
    snprintf(p, sizeof p, "%s", dir[0] ? dir : ".");
    for (;;) {
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/')
            p[--n] = '\0';
        struct stat st;
        if (stat(p, &st) == 0) {
            if (!S_ISDIR(st.st_mode))
                report(errors, "%s: %s is not a folder", label, p);
            else if (access(p, W_OK | X_OK) != 0)
                report(errors, "%s: cannot write in %s: %s", label, p, strerror(errno));
            return;
        }
        if (errno != ENOENT && errno != ENOTDIR) {
            report(errors, "%s: %s: %s", label, p, strerror(errno));
            return;
        }
        char *slash = strrchr(p, '/');
        if (!slash)
            snprintf(p, sizeof p, ".");
        else if (slash == p)
            p[1] = '\0';
        else
            *slash = '\0';
    }
}

void fk_check_dir(const fk_config *cfg, const char *what, const char *dir, int *errors)
{
    char label[2400];
    snprintf(label, sizeof label, "%s: %s %s", cfg->path, what, dir);
    writable(label, dir, errors);
}

void fk_check_output(const char *what, const char *path, int *errors)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        report(errors, "%s %s: is a folder, not a file", what, path);
        return;
    }
    char dir[1200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir] = '\0';
    char label[2400];
    snprintf(label, sizeof label, "%s %s", what, path);
    writable(label, dir, errors);
}

/* The header of a safetensors file that will be read: *meta, or an error. */
static bool read_header(const fk_config *cfg, const char *what, const char *path, fk_st_file *meta, int *errors)
{
    fk_status st;
    QUIET(st, fk_st_read_meta(path, meta));
    if (!st)
        return true;
    report(errors, "%s: %s %s cannot be used: %s", cfg->path, what, path, fk_last_error());
    return false;
}

void fk_check_weights(const fk_config *cfg, const char *path, const char *model, int classes, int *errors)
{
    fk_st_file meta;
    if (!read_header(cfg, "the weights", path, &meta, errors))
        return;
    const char *named = fk_st_meta(&meta, "figkd.model"), *c = fk_st_meta(&meta, "figkd.classes");
    const char *name = model && *model ? model : named && *named ? named : cfg->student_model;
    if (name[0] && !fk_model_find(name))
        report(errors, "%s: unknown model '%s' for %s (figkd-cl models lists the zoo)",
               model && *model ? "--model" : named && *named ? path : cfg->path, name, path);
    else if (!name[0])
        report(errors, "%s: no model named (figkd.model metadata), none in %s ([student] model) and no --model: "
               "say which model these weights are for", path, cfg->path);
    char want[16];
    snprintf(want, sizeof want, "%d", classes);
    if (c && classes > 0 && strcmp(c, want))
        report(errors, "%s: these weights were made for %s classes, the data of %s has %d", path, c, cfg->path,
               classes);
    fk_st_free(&meta);
}

/* The teacher checkpoint: made for this run when it exists, else a place
 * where the trained teacher can be saved. */
static void check_teacher(const fk_config *cfg, int classes, int *errors)
{
    const char *path = cfg->teacher_checkpoint;
    if (!cfg->method->needs_teacher || !path[0] || (cfg->broken & (FK_BROKEN_TEACHER | FK_BROKEN_METHOD)))
        return;
    if (access(path, F_OK) != 0) {
        char what[1200];
        snprintf(what, sizeof what, "%s: [teacher] checkpoint", cfg->path);
        fk_check_output(what, path, errors);
        return;
    }
    fk_st_file meta;
    if (!read_header(cfg, "[teacher] checkpoint", path, &meta, errors))
        return;
    fk_status st = FK_OK;
    if (classes > 0)
        QUIET(st, fk_provenance_check_teacher(cfg, classes, &meta));
    if (st)
        report(errors, "%s: [teacher] checkpoint %s", cfg->path, fk_last_error());
    fk_st_free(&meta);
}

int fk_check_train(const fk_config *cfg, bool resume, bool force, fk_dataset **train, fk_dataset **test)
{
    int errors = cfg->errors;
    fk_check_data(cfg, train, test, NULL, &errors);
    int classes = *train ? fk_dataset_classes(*train) : 0;
    int before = errors;
    fk_check_dir(cfg, "[run] out_dir", cfg->out_dir, &errors);
    if (errors == before) {
        fk_status st;
        QUIET(st, fk_provenance_check_dir(cfg, resume, force));
        if (st)
            report(&errors, "%s: [run] out_dir: %s", cfg->path, fk_last_error());
    }
    check_teacher(cfg, classes, &errors);
    if (cfg->student_init[0]) {
        fk_st_file meta;
        if (read_header(cfg, "[student] init", cfg->student_init, &meta, &errors))
            fk_st_free(&meta);
    }
    return errors;
}
