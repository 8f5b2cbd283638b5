/* A whole run: open the device and the data, the teacher stage when its
 * checkpoint is missing (or load it), then the student stage. Each stage
 * is src/train/stage.c; the logged loss is ce_weight * CE +
 * fk_method_term_scale() * term, the loss that is trained. */
#include "figkd/check.h"
#include "figkd/train.h"
#include "train/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the stages of a run share. */
typedef struct run {
    const fk_config *cfg;
    bool resume, force;
    fk_runtime *rt;
    fk_dataset *train, *test;
    fk_model *student, *teacher;
    int classes, channels;
    int lock;            /* out_dir/figkd.lock, held for the run (-1: none) */
} run;

/* Device, the output folder and its config.ini (the data sets are open:
 * fk_check_train). */
static fk_status open_run(run *R)
{
    const fk_config *cfg = R->cfg;
    const fk_par *par = fk_par_world();
    FK_TRY(fk_session_runtime(&R->rt));
    char tuned[1024];
    int entries;
    FK_TRY(fk_tune_use(R->rt, tuned, sizeof tuned, &entries));
    R->classes = fk_dataset_classes(R->train);
    R->channels = fk_session_channels(cfg, R->train);
    printf("figkd-cl train %s: %s, %ld training and %ld test images, %d classes, device %s\n", cfg->path,
           fk_dataset_name(cfg->data.dataset), fk_dataset_count(R->train), fk_dataset_count(R->test), R->classes,
           R->rt->dev.name);
    if (entries && fk_par_root(par))
        printf("tuned: %d conv shapes in %s\n", entries, tuned);
    char blas[64];
    fk_tune_blas_names(R->rt, blas, sizeof blas);
    if (blas[0] && fk_par_root(par))
        printf("tuned: CLBlast's %s values in %s\n", blas, tuned);
    if (fk_par_many(par))
        printf("data parallel: %d processes, batch %d each (global %d)%s\n", par->size,
               cfg->optim.batch_size / par->size, cfg->optim.batch_size,
               cfg->optim.sync_bn ? ", batch norm over the global batch" : "");
    if (!fk_par_root(par))
        return FK_OK; /* rank 0 writes the output folder */
    if (fk_mkdirs(cfg->out_dir) != 0)
        return fk_error(FK_ERR_IO, "cannot create the output folder %s", cfg->out_dir);
    /* one run per out_dir: a second one stops here, before writing anything */
    FK_TRY(fk_dir_lock(cfg->out_dir, &R->lock));
    FK_TRY(fk_provenance_prepare_dir(cfg, R->resume, R->force));
    char path[1200];
    snprintf(path, sizeof path, "%s/config.ini", cfg->out_dir);
    const char *text = cfg->text ? cfg->text : "";
    fk_atomic_file af;
    FK_TRY(fk_atomic_open(&af, path));
    FK_TRY(fk_atomic_write(&af, text, strlen(text)));
    return fk_atomic_commit(&af);
}

/* [student] init, less init_exclude: the names left out are said first */
static fk_status load_init(fk_model *m, const fk_config *cfg)
{
    const fk_param_store *ps = &m->graph.params;
    for (int i = 0, said = 0; i < ps->count; i++)
        if (fk_checkpoint_excluded(ps->items[i].name, cfg->student_init_exclude))
            printf("%s %s", said++ ? "," : "[student] init: not taken from the file (init_exclude):",
                   ps->items[i].name);
    if (cfg->student_init_exclude[0])
        printf("\n");
    printf("[student] starts from %s\n", cfg->student_init);
    return fk_checkpoint_load_except(m->rt, &m->graph.params, cfg->student_init, cfg->student_init_exclude);
}

static stage stage_of(const run *R, const char *label, fk_model *net, const fk_optim_config *opt, uint64_t seed)
{
    stage S = {.rt = R->rt, .cfg = R->cfg, .label = label, .net = net, .opt = opt, .train = R->train,
               .test = R->test, .classes = R->classes, .seed = seed, .resume = R->resume};
    return S;
}

/* The student stage's work in teacher-stage images, for the teacher
 * stage's whole-run ETA: its images times the cost of a student step per
 * image (student forward and backward, about 3 forwards, plus the teacher's
 * forward) over a teacher step's (3 teacher forwards). */
static double student_work(const run *R)
{
    const fk_config *cfg = R->cfg;
    fk_model_opts o = {R->classes, cfg->data.input_size, R->channels};
    fk_model *s = NULL;
    double ft = fk_model_macs(R->teacher), fs = ft;
    int q = fk_error_quiet(1);
    if (fk_model_build(cfg->student_model, &o, &s) == FK_OK)
        fs = fk_model_macs(s);
    fk_error_quiet(q);
    fk_model_free(s);
    long B = cfg->optim.batch_size, steps = (long)cfg->optim.epochs * (fk_dataset_count(R->train) / B);
    if (cfg->optim.max_steps > 0 && cfg->optim.max_steps < steps)
        steps = cfg->optim.max_steps;
    return (double)steps * B * (ft > 0 ? (3 * fs + ft) / (3 * ft) : 1);
}

/* Train the teacher with CE into out_dir/teacher, then save its weights
 * at [teacher] checkpoint. */
static fk_status train_teacher(run *R, fk_train_result *res)
{
    const fk_config *cfg = R->cfg;
    printf("[teacher] %s not found: training %s first\n", cfg->teacher_checkpoint, cfg->teacher_model);
    stage T = stage_of(R, "teacher", R->teacher, &cfg->teacher_optim, cfg->seed + 1);
    snprintf(T.dir, sizeof T.dir, "%s/teacher", cfg->out_dir);
    T.loss.method = FK_METHOD_CE;
    T.loss.ce_weight = 1.0;
    T.later_work = student_work(R);
    FK_TRY(fk_stage_run(&T));
    if (T.interrupted) {
        res->signal = fk_train_stop_signal();
        return FK_ERR_INTERRUPTED;
    }
    res->teacher_acc = T.last_acc;
    if (!fk_par_root(fk_par_world()))
        return FK_OK; /* rank 0 saves it */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", cfg->teacher_checkpoint);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        fk_mkdirs(dir);
    }
    fk_provenance pv;
    fk_provenance_keys(cfg, R->classes, &pv);
    char acc[32];
    snprintf(acc, sizeof acc, "%.9g", T.last_acc);
    const char *k[] = {"figkd.model", "figkd.config", "figkd.classes", "figkd.input", "figkd.dataset",
                       "figkd.config_hash", "figkd.test_acc"};
    const char *v[] = {cfg->teacher_model, cfg->text, pv.classes, pv.input, pv.dataset, pv.hash, acc};
    fk_train_saving(true);
    fk_status st = fk_checkpoint_save(R->rt, &R->teacher->graph.params, cfg->teacher_checkpoint, false, k, v, 7);
    fk_train_saving(false);
    FK_TRY(st);
    printf("[teacher] saved %s\n", cfg->teacher_checkpoint);
    return FK_OK;
}

/* A teacher checkpoint that matches the config (provenance.c), announced
 * with what it records; its accuracy is measured again when it records none. */
static fk_status load_teacher(run *R, fk_train_result *res)
{
    const fk_config *cfg = R->cfg;
    fk_st_file meta;
    fk_status st = fk_checkpoint_load(R->rt, &R->teacher->graph.params, cfg->teacher_checkpoint, false, &meta);
    if (st)
        return st;
    st = fk_provenance_check_teacher(cfg, R->classes, &meta);
    const char *ds = fk_st_meta(&meta, "figkd.dataset"), *acc = fk_st_meta(&meta, "figkd.test_acc");
    double a;
    if (!st && acc && !fk_parse_double(acc, &a) && a >= 0)
        res->teacher_acc = a;
    if (!st && res->teacher_acc >= 0)
        printf("[teacher] %s, %s, top-1 %.2f%%, from %s\n", cfg->teacher_model, ds ? ds : "data set not recorded",
               100 * res->teacher_acc, cfg->teacher_checkpoint);
    else if (!st)
        printf("[teacher] %s from %s (%s)\n", cfg->teacher_model, cfg->teacher_checkpoint,
               ds ? ds : "no provenance recorded");
    fk_st_free(&meta);
    return st;
}

/* The teacher of a method that needs one: loaded from its checkpoint, or trained. */
static fk_status teacher_stage(run *R, fk_train_result *res)
{
    const fk_config *cfg = R->cfg;
    if (!cfg->method->needs_teacher)
        return FK_OK;
    FK_TRY(fk_session_model(R->rt, cfg, cfg->teacher_model, R->classes, R->channels, cfg->seed + 1, &R->teacher));
    const fk_par *par = fk_par_world();
    int have = access(cfg->teacher_checkpoint, F_OK) == 0; /* rank 0's file counts */
    FK_TRY(fk_par_bcast(par, &have, sizeof have, 0));
    if (!have)
        return train_teacher(R, res);
    if (fk_par_root(par))
        FK_TRY(load_teacher(R, res));
    /* every rank distils from rank 0's teacher */
    FK_TRY(fk_ranks_share_model(R->teacher));
    return fk_par_bcast(par, &res->teacher_acc, sizeof res->teacher_acc, 0);
}

static fk_status student_stage(run *R, fk_train_result *res)
{
    const fk_config *cfg = R->cfg;
    FK_TRY(fk_session_model(R->rt, cfg, cfg->student_model, R->classes, R->channels, cfg->seed, &R->student));
    if (cfg->student_init[0] && fk_par_root(fk_par_world()))
        FK_TRY(load_init(R->student, cfg)); /* the other ranks take it from rank 0 */
    stage S = stage_of(R, "student", R->student, &cfg->optim, cfg->seed);
    S.teacher = R->teacher;
    snprintf(S.dir, sizeof S.dir, "%s", cfg->out_dir);
    FK_TRY(fk_loss_spec_from_config(cfg, R->classes, &S.loss));
    if (R->teacher && res->teacher_acc < 0) {
        /* the teacher's own test accuracy, for the summary */
        double t5, tl;
        FK_TRY(fk_session_evaluate_model(R->rt, R->teacher, R->test, cfg, cfg->optim.batch_size, &res->teacher_acc,
                                         &t5, &tl));
        printf("[teacher] test top-1 %.2f%%\n", 100 * res->teacher_acc);
    }
    printf("[student] %s, method %s, %d epochs, batch %d\n", cfg->student_model, cfg->method->name, cfg->optim.epochs,
           cfg->optim.batch_size);
    FK_TRY(fk_stage_run(&S));
    res->best_acc = S.best_acc;
    res->last_acc = S.last_acc;
    res->best_epoch = S.best_epoch;
    if (S.interrupted) {
        res->signal = fk_train_stop_signal();
        return FK_ERR_INTERRUPTED;
    }
    return FK_OK;
}

fk_status fk_train_run(const fk_config *cfg, bool resume, bool force, fk_train_result *res)
{
    run R = {.cfg = cfg, .resume = resume, .force = force, .lock = -1};
    fk_train_result none = {-1, -1, -1, 0, 0, 0};
    *res = none;
    /* every check that needs no device, before any work: all errors at once */
    res->errors = fk_check_train(cfg, resume, force, &R.train, &R.test);
    fk_status st = res->errors ? FK_ERR_ARG : open_run(&R);
    if (!st)
        fk_train_catch_signals();
    if (!st)
        st = teacher_stage(&R, res);
    if (!st)
        st = student_stage(&R, res);
    fk_model_free(R.student);
    fk_model_free(R.teacher);
    fk_dataset_free(R.train);
    fk_dataset_free(R.test);
    fk_runtime_free(R.rt);
    if (R.lock >= 0)
        fk_dir_unlock(R.lock);
    return st;
}
