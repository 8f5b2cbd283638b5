/* figkd-cl train CONFIG [--set section.key=value ...] [--resume]
 *
 * Teacher stage (when [teacher] checkpoint is missing), then the student
 * stage. Every epoch: evaluation, one line in metrics.jsonl, last.safetensors
 * and best.safetensors written atomically with the optimizer state, the
 * position in the data and the config text, so --resume continues to the
 * numbers an uninterrupted run gives. SIGINT/SIGTERM finish the step, save
 * and exit with 128 + the signal (130, 143); a NaN or Inf loss stops the run
 * naming the step and keeps the last good checkpoint. The logged loss is
 * ce_weight * CE + fk_loss_term_scale() * term, the loss that is trained. */
#include "cli/commands.h"
#include "train/session.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

/* The first SIGINT/SIGTERM asks the run to finish its step and save; a
 * second one ends the process at once (checkpoints are written atomically,
 * so the last complete one stays). */
static void on_signal(int sig)
{
    if (stop_signal) {
        static const char msg[] = "\nfigkd-cl: second signal: stopping now\n";
        if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
            /* nothing more can be done in a handler */
        }
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_signal = sig;
}

typedef struct stage {
    fk_runtime *rt;
    const fk_config *cfg;
    const char *label;          /* "teacher" or "student" */
    char dir[1100];             /* out_dir or out_dir/teacher */
    fk_model *net, *teacher;
    const fk_optim_config *opt;
    fk_loss_spec loss;
    fk_dataset *train, *test;
    int classes;
    uint64_t seed;
    bool resume;
    /* results */
    double best_acc, last_acc;
    int best_epoch;
    bool interrupted;
} stage;

static const char *term_name(fk_method m)
{
    return m == FK_METHOD_KD ? "kd" : m == FK_METHOD_DKD ? "dkd" : m == FK_METHOD_FIGKD ? "figkd" : "none";
}

static void fmt_eta(double s, char *buf, size_t n)
{
    long t = s > 0 && s < 1e8 ? (long)s : 0;
    snprintf(buf, n, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
}

/* Save the stage's checkpoint at (epoch, batch): the next batch to run. */
static fk_status save_ckpt(stage *S, const char *file, long epoch, long batch, long step, const float *acc, bool done)
{
    char path[1200], e[32], b[32], s[32], best[64], be[32], a[160], seed[32];
    snprintf(path, sizeof path, "%s/%s", S->dir, file);
    snprintf(e, sizeof e, "%ld", epoch);
    snprintf(b, sizeof b, "%ld", batch);
    snprintf(s, sizeof s, "%ld", step);
    snprintf(best, sizeof best, "%.17g", S->best_acc);
    snprintf(be, sizeof be, "%d", S->best_epoch);
    snprintf(a, sizeof a, "%.9g,%.9g,%.9g,%.9g", acc[0], acc[1], acc[2], acc[3]);
    snprintf(seed, sizeof seed, "%" PRIu64, S->seed);
    const char *keys[] = {"figkd.stage", "figkd.model", "figkd.epoch", "figkd.batch", "figkd.step",
                          "figkd.best_acc", "figkd.best_epoch", "figkd.acc", "figkd.seed", "figkd.done",
                          "figkd.config"};
    const char *vals[] = {S->label, S->net->entry->name, e, b, s, best, be, a, seed, done ? "1" : "0",
                          S->cfg->text ? S->cfg->text : ""};
    return fk_checkpoint_save(S->rt, &S->net->graph.params, path, true, keys, vals, sizeof keys / sizeof keys[0]);
}

static long meta_long(const fk_st_file *f, const char *key)
{
    const char *v = fk_st_meta(f, key);
    long x = 0;
    return v && fk_parse_long(v, &x) == 0 ? x : 0;
}

/* Keep only the metrics lines of epochs <= last_epoch (a resumed run
 * rewrites what came after its checkpoint). */
static void trim_metrics(const char *path, long last_epoch)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *o = fopen(tmp, "w");
    char line[4096];
    while (o && fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"epoch\": ");
        if (p && atol(p + 9) <= last_epoch)
            fputs(line, o);
    }
    fclose(f);
    if (o && fclose(o) == 0)
        rename(tmp, path);
}

static fk_status run_stage(stage *S)
{
    fk_runtime *rt = S->rt;
    const fk_config *cfg = S->cfg;
    const fk_optim_config *opt = S->opt;
    int B = opt->batch_size;
    fk_status st = FK_OK;
    fk_step step;
    fk_loader *loader = NULL;
    cl_mem x[2] = {NULL, NULL}, y[2] = {NULL, NULL}, steplog = NULL;
    cl_event ev[2] = {NULL, NULL};
    fk_batch pending[2];
    bool has_pending[2] = {false, false};
    FILE *metrics = NULL;
    float *vals = NULL;   /* per-step [CE, term] read back every log_every steps */
    fk_pinned pinned;     /* the loader's ring in pinned host memory */
    memset(&step, 0, sizeof step);
    fk_pinned_init(&pinned, rt);

    if (fk_mkdirs(S->dir) != 0)
        return fk_error(FK_ERR_IO, "cannot create the output folder %s", S->dir);
    FK_TRY(fk_model_plan(S->net, B, true));
    if (S->teacher)
        FK_TRY(fk_model_plan(S->teacher, B, false));
    FK_TRY(fk_step_init(&step, rt, S->net, S->teacher, &S->loss, B, S->classes));

    long epoch0 = 0, batch0 = 0, stepno = 0;
    float acc0[FK_ACC_COUNT] = {0};
    S->best_acc = -1;
    S->last_acc = -1;
    S->best_epoch = 0;
    char path[1200];
    snprintf(path, sizeof path, "%s/last.safetensors", S->dir);
    if (S->resume && access(path, F_OK) == 0) {
        fk_st_file meta;
        if ((st = fk_checkpoint_load(rt, &S->net->graph.params, path, true, &meta)))
            goto out;
        epoch0 = meta_long(&meta, "figkd.epoch");
        batch0 = meta_long(&meta, "figkd.batch");
        stepno = meta_long(&meta, "figkd.step");
        S->best_epoch = (int)meta_long(&meta, "figkd.best_epoch");
        const char *v = fk_st_meta(&meta, "figkd.best_acc");
        S->best_acc = v ? atof(v) : -1;
        v = fk_st_meta(&meta, "figkd.acc");
        if (v)
            sscanf(v, "%f,%f,%f,%f", &acc0[0], &acc0[1], &acc0[2], &acc0[3]);
        bool done = meta_long(&meta, "figkd.done") == 1;
        fk_st_free(&meta);
        printf("[%s] resuming from %s at epoch %ld, batch %ld (step %ld)\n", S->label, path, epoch0 + 1, batch0,
               stepno);
        if (done) {
            S->last_acc = S->best_acc;
            goto out;
        }
        if ((st = fk_buffer_write(rt, step.acc, 0, sizeof acc0, acc0)))
            goto out;
    }
    if (opt->max_steps > 0 && stepno >= opt->max_steps) {
        printf("[%s] max_steps = %ld already reached (step %ld): nothing to do\n", S->label, opt->max_steps, stepno);
        goto out;
    }
    snprintf(path, sizeof path, "%s/metrics.jsonl", S->dir);
    if (S->resume)
        trim_metrics(path, epoch0);
    metrics = fopen(path, S->resume ? "a" : "w");
    if (!metrics) {
        st = fk_error(FK_ERR_IO, "cannot write %s", path);
        goto out;
    }

    fk_loader_opts lo;
    fk_loader_opts_default(&lo);
    lo.train = 1;
    lo.batch = B;
    lo.seed = S->seed;
    lo.epoch = epoch0;
    lo.start_batch = batch0;
    lo.allocator = &pinned.allocator;
    if ((st = fk_loader_create(S->train, &cfg->data, &lo, &loader)))
        goto out;
    long spe = fk_loader_batches_per_epoch(loader);
    if (spe < 1) {
        st = fk_error(FK_ERR_ARG, "%s: the training split has fewer images than one batch (%d)", cfg->path, B);
        goto out;
    }
    int ch = S->net->graph.nodes[0].c, hh = S->net->graph.nodes[0].h, ww = S->net->graph.nodes[0].w;
    size_t img = (size_t)B * ch * hh * ww;
    int log_every = cfg->log_every > 0 ? cfg->log_every : 50;
    for (int i = 0; i < 2; i++) {
        if ((st = fk_buffer_create(rt, img * sizeof(float), 0, &x[i])) ||
            (st = fk_buffer_create(rt, (size_t)B * sizeof(int32_t), 0, &y[i])))
            goto out;
    }
    if ((st = fk_buffer_create(rt, (size_t)log_every * 2 * sizeof(float), 0, &steplog)))
        goto out;
    vals = fk_malloc((size_t)log_every * 2 * sizeof(float));
    if (!vals) {
        st = FK_ERR_NOMEM;
        goto out;
    }
    long total_steps = (long)opt->epochs * spe;
    if (opt->max_steps > 0 && opt->max_steps < total_steps)
        total_steps = opt->max_steps;
    bool tty = isatty(STDOUT_FILENO);
    double t_run = fk_seconds();
    long steps_this_run = 0;
    int k = 0;

    for (long e = epoch0; e < opt->epochs && st == FK_OK; e++) {
        double lr = fk_optim_lr(opt, (double)e);
        fk_sgd sgd = {(float)lr, (float)opt->momentum, (float)opt->weight_decay, opt->nesterov};
        double t_epoch = fk_seconds();
        long first = (e == epoch0) ? batch0 : 0, logged = first, index = first;
        bool stop = false;
        for (;;) {
            fk_batch b;
            if ((st = fk_loader_next(loader, &b)))
                goto out;
            if (b.end_of_epoch)
                break;
            index = b.index;
            if (b.count != B || b.c != ch || b.h != hh || b.w != ww) {
                st = fk_error(FK_ERR_ARG, "batch of %dx%dx%dx%d does not fit the model input %dx%dx%dx%d", b.count,
                              b.c, b.h, b.w, B, ch, hh, ww);
                fk_loader_release(loader, &b);
                goto out;
            }
            cl_int err = clEnqueueWriteBuffer(rt->queue, x[k], CL_FALSE, 0, img * sizeof(float), b.images, 0, NULL, NULL);
            if (err == CL_SUCCESS)
                err = clEnqueueWriteBuffer(rt->queue, y[k], CL_FALSE, 0, (size_t)B * sizeof(int32_t), b.labels, 0,
                                           NULL, &ev[k]);
            if (err != CL_SUCCESS) {
                fk_loader_release(loader, &b);
                st = fk_cl_fail(err, "clEnqueueWriteBuffer(batch)", __FILE__, __LINE__);
                goto out;
            }
            pending[k] = b;
            has_pending[k] = true;
            /* the other slot's upload finished long ago: hand its batch back */
            int o = 1 - k;
            if (has_pending[o]) {
                clWaitForEvents(1, &ev[o]);
                clReleaseEvent(ev[o]);
                ev[o] = NULL;
                fk_loader_release(loader, &pending[o]);
                has_pending[o] = false;
            }
            if ((st = fk_step_run(&step, x[k], y[k], e, &sgd, NULL)))
                goto out;
            if ((st = fk_buffer_copy(rt, steplog, (size_t)((b.index - logged) * 2), step.values, 0, 2)))
                goto out;
            k = 1 - k;
            stepno++;
            steps_this_run++;
            bool last_of_epoch = b.index + 1 == spe;
            stop = stop_signal || (opt->max_steps > 0 && stepno >= opt->max_steps);
            if (b.index + 1 - logged == log_every || last_of_epoch || stop) {
                /* read the per-step losses since the last read: the only sync */
                long nlog = b.index + 1 - logged;
                float acc[FK_ACC_COUNT];
                if ((st = fk_buffer_read(rt, steplog, 0, (size_t)nlog * 2 * sizeof(float), vals)) ||
                    (st = fk_buffer_read(rt, step.acc, 0, sizeof acc, acc)))
                    goto out;
                for (long j = 0; j < nlog; j++)
                    if (!isfinite(vals[2 * j]) || !isfinite(vals[2 * j + 1])) {
                        char last[1300];
                        snprintf(last, sizeof last, "%s/last.safetensors", S->dir);
                        bool have = access(last, F_OK) == 0;
                        st = fk_error(FK_ERR_NUMERIC,
                                      "[%s] the loss is %s at step %ld (epoch %ld, batch %ld of %ld): stopping; %s%s "
                                      "(try a lower lr)",
                                      S->label, isnan(vals[2 * j]) || isnan(vals[2 * j + 1]) ? "NaN" : "Inf",
                                      stepno - nlog + j + 1, e + 1, logged + j + 1, spe,
                                      have ? "the last good checkpoint is " : "no checkpoint was written yet",
                                      have ? last : "");
                        goto out;
                    }
                logged = b.index + 1;
                double seen = (double)(b.index + 1) * B;
                double el = fk_seconds() - t_run, rate = steps_this_run * B / (el > 0 ? el : 1);
                char eta[32];
                fmt_eta((total_steps - stepno) * B / (rate > 0 ? rate : 1), eta, sizeof eta);
                float lastl = (float)(S->loss.ce_weight * vals[2 * (nlog - 1)] +
                                      fk_loss_term_scale(&S->loss, e) * vals[2 * (nlog - 1) + 1]);
                printf("%s[%s] epoch %ld/%d  step %ld/%ld  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s%s",
                       tty ? "\r\033[K" : "", S->label, e + 1, opt->epochs, b.index + 1, spe, lastl,
                       100.0 * acc[FK_ACC_TOP1] / seen, rate, eta, tty ? "" : "\n");
                fflush(stdout);
            }
            if (stop)
                break;
        }
        if (tty)
            printf("\n");
        /* drain the pending uploads */
        for (int i = 0; i < 2; i++)
            if (has_pending[i]) {
                clWaitForEvents(1, &ev[i]);
                clReleaseEvent(ev[i]);
                ev[i] = NULL;
                fk_loader_release(loader, &pending[i]);
                has_pending[i] = false;
            }
        float acc[FK_ACC_COUNT];
        if ((st = fk_buffer_read(rt, step.acc, 0, sizeof acc, acc)))
            goto out;
        if (stop && index + 1 < spe) {
            /* mid-epoch stop: save the exact position */
            if ((st = save_ckpt(S, "last.safetensors", e, index + 1, stepno, acc, false)))
                goto out;
            S->interrupted = stop_signal != 0;
            if (stop_signal)
                printf("[%s] %s: saved %s/last.safetensors at step %ld; continue with --resume\n", S->label,
                       stop_signal == SIGINT ? "interrupted" : "terminated", S->dir, stepno);
            else
                printf("[%s] max_steps = %ld reached: saved %s/last.safetensors\n", S->label, opt->max_steps, S->dir);
            goto out;
        }
        double secs = fk_seconds() - t_epoch, n = (double)(spe - first) * B;
        double count = (double)spe * B;
        bool do_eval = (e + 1) % (cfg->eval_every > 0 ? cfg->eval_every : 1) == 0 || e + 1 == opt->epochs;
        double top1 = -1, top5 = -1, tloss = -1;
        if (do_eval) {
            if ((st = fk_session_evaluate(&step, S->net, S->test, cfg, x[0], y[0], &top1, &top5, &tloss)))
                goto out;
            S->last_acc = top1;
        }
        bool best = do_eval && top1 > S->best_acc;
        if (best) {
            S->best_acc = top1;
            S->best_epoch = (int)e + 1;
        }
        fprintf(metrics,
                "{\"stage\": \"%s\", \"epoch\": %ld, \"step\": %ld, \"lr\": %.9g, \"loss\": %.6f, \"ce\": %.6f, "
                "\"%s\": %.6f, \"train_acc\": %.6f",
                S->label, e + 1, stepno, lr, (S->loss.ce_weight * acc[FK_ACC_CE] + fk_loss_term_scale(&S->loss, e) * acc[FK_ACC_TERM]) / spe,
                acc[FK_ACC_CE] / spe, term_name(S->loss.method), acc[FK_ACC_TERM] / spe, acc[FK_ACC_TOP1] / count);
        if (do_eval)
            fprintf(metrics, ", \"test_acc\": %.6f, \"test_acc5\": %.6f, \"test_loss\": %.6f", top1, top5, tloss);
        fprintf(metrics, ", \"img_per_s\": %.1f, \"seconds\": %.2f}\n", n / (secs > 0 ? secs : 1), secs);
        fflush(metrics);
        if (do_eval)
            printf("[%s] epoch %ld: test top-1 %.2f%%  top-5 %.2f%%  loss %.4f%s\n", S->label, e + 1, 100 * top1,
                   100 * top5, tloss, best ? "  (best)" : "");
        float zero[FK_ACC_COUNT] = {0};
        bool done = e + 1 == opt->epochs;
        if ((st = save_ckpt(S, "last.safetensors", e + 1, 0, stepno, zero, done)))
            goto out;
        if (best && (st = save_ckpt(S, "best.safetensors", e + 1, 0, stepno, zero, done)))
            goto out;
        if ((st = fk_step_reset_acc(&step)))
            goto out;
        if (stop_signal) {
            S->interrupted = true;
            printf("[%s] %s: saved %s/last.safetensors; continue with --resume\n", S->label,
                   stop_signal == SIGINT ? "interrupted" : "terminated", S->dir);
            goto out;
        }
        if (stop) {
            printf("[%s] max_steps = %ld reached: saved %s/last.safetensors\n", S->label, opt->max_steps, S->dir);
            goto out;
        }
    }
out:
    for (int i = 0; i < 2; i++) {
        if (has_pending[i]) {
            clWaitForEvents(1, &ev[i]);
            fk_loader_release(loader, &pending[i]);
        }
        if (ev[i])
            clReleaseEvent(ev[i]);
        if (x[i])
            clReleaseMemObject(x[i]);
        if (y[i])
            clReleaseMemObject(y[i]);
    }
    if (steplog)
        clReleaseMemObject(steplog);
    free(vals);
    if (loader)
        fk_loader_free(loader);
    fk_pinned_free(&pinned);
    if (metrics)
        fclose(metrics);
    fk_step_free(&step);
    return st;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: figkd-cl train CONFIG [--set section.key=value ...] [--resume]\n");
}

int fk_cmd_train(int argc, char **argv)
{
    const char *config = NULL;
    const char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0;
    bool resume = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc)
            sets[nsets++] = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6))
            sets[nsets++] = argv[i] + 6;
        else if (!strcmp(argv[i], "--resume"))
            resume = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            free(sets);
            return 0;
        } else if (argv[i][0] != '-' && !config)
            config = argv[i];
        else {
            fprintf(stderr, "figkd-cl train: unknown option '%s'\n", argv[i]);
            usage(stderr);
            free(sets);
            return 2;
        }
    }
    if (!config) {
        usage(stderr);
        free(sets);
        return 2;
    }
    fk_config cfg;
    fk_status st = fk_config_load(&cfg, config, sets, nsets);
    free(sets);
    if (st)
        return 1;

    fk_runtime *rt = NULL;
    fk_dataset *train = NULL, *test = NULL;
    fk_model *student = NULL, *teacher = NULL;
    int rc = 1;
    if (fk_runtime_create(&rt) || fk_dataset_open(&cfg.data, 1, &train) || fk_dataset_open(&cfg.data, 0, &test))
        goto out;
    int classes = fk_dataset_classes(train), channels = fk_session_channels(&cfg, train);
    printf("figkd-cl train %s: %s, %ld training and %ld test images, %d classes, device %s\n", config,
           fk_dataset_name(cfg.data.dataset), fk_dataset_count(train), fk_dataset_count(test), classes, rt->dev.name);
    if (fk_mkdirs(cfg.out_dir) != 0) {
        fk_error(FK_ERR_IO, "cannot create the output folder %s", cfg.out_dir);
        goto out;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/config.ini", cfg.out_dir);
    FILE *cf = fopen(path, "w");
    if (cf) {
        fputs(cfg.text, cf);
        fclose(cf);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* the loader threads' reads must not fail with EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    double teacher_acc = -1;
    if (cfg.method != FK_METHOD_CE) {
        if (fk_session_model(rt, &cfg, cfg.teacher_model, classes, channels, cfg.seed + 1, &teacher))
            goto out;
        if (access(cfg.teacher_checkpoint, F_OK) == 0) {
            if (fk_session_load_weights(rt, teacher, cfg.teacher_checkpoint))
                goto out;
            printf("[teacher] %s from %s\n", cfg.teacher_model, cfg.teacher_checkpoint);
        } else {
            printf("[teacher] %s not found: training %s first\n", cfg.teacher_checkpoint, cfg.teacher_model);
            stage T = {.rt = rt, .cfg = &cfg, .label = "teacher", .net = teacher, .opt = &cfg.teacher_optim,
                       .train = train, .test = test, .classes = classes, .seed = cfg.seed + 1, .resume = resume};
            snprintf(T.dir, sizeof T.dir, "%s/teacher", cfg.out_dir);
            T.loss.method = FK_METHOD_CE;
            T.loss.ce_weight = 1.0;
            if (run_stage(&T))
                goto out;
            if (T.interrupted) {
                rc = 128 + (int)stop_signal;
                goto out;
            }
            teacher_acc = T.last_acc;
            char dir[1100];
            snprintf(dir, sizeof dir, "%s", cfg.teacher_checkpoint);
            char *slash = strrchr(dir, '/');
            if (slash) {
                *slash = '\0';
                fk_mkdirs(dir);
            }
            const char *k[] = {"figkd.model", "figkd.config"}, *v[] = {cfg.teacher_model, cfg.text};
            if (fk_checkpoint_save(rt, &teacher->graph.params, cfg.teacher_checkpoint, false, k, v, 2))
                goto out;
            printf("[teacher] saved %s\n", cfg.teacher_checkpoint);
        }
    }
    if (fk_session_model(rt, &cfg, cfg.student_model, classes, channels, cfg.seed, &student))
        goto out;
    if (cfg.student_init[0] && fk_session_load_weights(rt, student, cfg.student_init))
        goto out;
    stage S = {.rt = rt, .cfg = &cfg, .label = "student", .net = student, .teacher = teacher, .opt = &cfg.optim,
               .train = train, .test = test, .classes = classes, .seed = cfg.seed, .resume = resume};
    snprintf(S.dir, sizeof S.dir, "%s", cfg.out_dir);
    if (fk_loss_spec_from_config(&cfg, classes, &S.loss))
        goto out;
    if (teacher && teacher_acc < 0) {
        /* the teacher's own test accuracy, for the summary */
        double t5, tl;
        if (fk_session_evaluate_model(rt, teacher, test, &cfg, cfg.optim.batch_size, &teacher_acc, &t5, &tl))
            goto out;
        printf("[teacher] test top-1 %.2f%%\n", 100 * teacher_acc);
    }
    printf("[student] %s, method %s, %d epochs, batch %d\n", cfg.student_model, fk_method_name(cfg.method),
           cfg.optim.epochs, cfg.optim.batch_size);
    if (run_stage(&S))
        goto out;
    if (S.interrupted) {
        rc = 128 + (int)stop_signal;
        goto out;
    }
    printf("\nsummary (%s, %s):\n", cfg.name, fk_dataset_name(cfg.data.dataset));
    if (teacher)
        printf("  teacher %-12s test top-1 %.2f%%\n", cfg.teacher_model, 100 * teacher_acc);
    if (S.best_acc >= 0)
        printf("  student %-12s test top-1 %.2f%% (best, epoch %d), %.2f%% (last)  [%s]\n", cfg.student_model,
               100 * S.best_acc, S.best_epoch, 100 * S.last_acc, fk_method_name(cfg.method));
    printf("  outputs in %s\n", cfg.out_dir);
    rc = 0;
out:
    fk_model_free(student);
    fk_model_free(teacher);
    fk_dataset_free(train);
    fk_dataset_free(test);
    fk_runtime_free(rt);
    fk_config_free(&cfg);
    return rc;
}
