/* One training stage: load (resume point), validate (batches fit the
 * model), build (plans, step and batch buffers, loader), loop (epochs of
 * double-buffered uploads and steps, losses read back every log_every
 * steps, and twice a second on a terminal for the progress line), save
 * (a checkpoint every epoch and on a stop). */
#include "train/stage.h"
#include "figkd/progress.h"

#include <math.h>
#include <signal.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The state of a stage's loop. */
typedef struct loop {
    stage *S;
    fk_step step;
    fk_grad_sync sync;         /* gradients averaged over the ranks of an MPI job */
    fk_logit_gather gather;    /* a batch-coupled term's logits from every rank */
    fk_pinned pinned;          /* the loader's ring in pinned host memory */
    fk_loader *loader;
    cl_mem x[2], y[2];         /* two batch slots: one uploads while the other trains */
    cl_event ev[2];
    fk_batch pending[2];
    bool has_pending[2];
    int k;                     /* the slot of the next batch */
    cl_mem steplog;            /* per-step [CE, term] since the last read-back */
    float *vals;
    FILE *metrics;
    char metrics_path[1200];
    int B, ch, hh, ww, log_every;
    int G;                     /* the global batch: B on each of the job's ranks */
    int views;                 /* fk_method_views of the loss: a batch slot holds views * B images */
    size_t img;                /* floats of a batch */
    long spe, total_steps;     /* steps per epoch, steps of the stage */
    fk_resume_point at;        /* where this run starts */
    long stepno, steps_this_run;
    double t_run;
    bool tty;
    double t_line;             /* when the progress line was last printed */
    double sum[2];             /* CE and term read back since the last printed line */
    long nsum;
    /* the epoch under way */
    long epoch, first, logged, index;
    bool stop;
} loop;

/* ---- load: the resume point ---- */

/* Read last.safetensors when resuming; *go is false when nothing is left to do. */
static fk_status stage_load(loop *L, bool *go)
{
    stage *S = L->S;
    char path[1200];
    *go = true;
    snprintf(path, sizeof path, "%s/last.safetensors", S->dir);
    int found = S->resume && access(path, F_OK) == 0; /* rank 0's file counts */
    FK_TRY(fk_ranks_found(&found));
    if (found) {
        if (fk_par_root(fk_par_world()))
            FK_TRY(fk_stage_load(S, path, &L->at));
        FK_TRY(fk_ranks_share_resume(S, &L->at));
        printf("[%s] resuming from %s at epoch %ld, batch %ld (step %ld)\n", S->label, path, L->at.epoch + 1,
               L->at.batch, L->at.step);
        if (L->at.done && L->at.epoch >= S->opt->epochs) {
            *go = false;
            return FK_OK;
        }
        if (L->at.done) /* a finished run given more epochs goes on */
            printf("[%s] the run had finished at epoch %ld; continuing to epoch %d\n", S->label, L->at.epoch,
                   S->opt->epochs);
        FK_TRY(fk_buffer_write(S->rt, L->step.acc, 0, sizeof L->at.acc, L->at.acc));
    }
    L->stepno = L->at.step;
    if (S->opt->max_steps > 0 && L->stepno >= S->opt->max_steps) {
        printf("[%s] max_steps = %ld already reached (step %ld): nothing to do\n", S->label, S->opt->max_steps,
               L->stepno);
        *go = false;
    }
    return FK_OK;
}

/* ---- build ---- */

static fk_status build_step(loop *L)
{
    stage *S = L->S;
    if (fk_par_root(fk_par_world()) && fk_mkdirs(S->dir) != 0)
        return fk_error(FK_ERR_IO, "cannot create the output folder %s", S->dir);
    /* inputs (two upload slots) and the step's per-image buffers */
    const fk_node *in = &S->net->graph.nodes[0];
    size_t per_image = 2 * (size_t)L->views * in->c * in->h * in->w * sizeof(float) +
                       4 * (size_t)S->classes * sizeof(float);
    FK_TRY(fk_session_check_memory(S->rt, S->net, true, S->teacher, FK_METHOD_TAPS(S->loss.method), L->B,
                                   per_image));
    FK_TRY(fk_model_plan(S->net, L->B, true));
    if (S->teacher)
        FK_TRY(fk_model_plan_teacher(S->teacher, L->B, FK_METHOD_TAPS(S->loss.method)));
    FK_TRY(fk_step_init(&L->step, S->rt, S->net, S->teacher, &S->loss, L->B, S->classes));
    S->method_params = L->step.params;
    return FK_OK;
}

static fk_status open_metrics(loop *L)
{
    stage *S = L->S;
    char *path = L->metrics_path;
    snprintf(path, sizeof L->metrics_path, "%s/metrics.jsonl", S->dir);
    if (!fk_par_root(fk_par_world()))
        return FK_OK; /* rank 0 writes */
    if (S->resume)
        FK_TRY(fk_metrics_trim(path, L->at.epoch));
    L->metrics = fopen(path, S->resume ? "a" : "w");
    return L->metrics ? FK_OK : fk_error(FK_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
}

/* Close metrics.jsonl; a failed flush or close is an error naming it. */
static fk_status close_metrics(loop *L)
{
    if (!L->metrics)
        return FK_OK;
    int bad = ferror(L->metrics) | fclose(L->metrics);
    L->metrics = NULL;
    return bad ? fk_error(FK_ERR_IO, "%s: write failed: %s", L->metrics_path, strerror(errno)) : FK_OK;
}

static fk_status open_loader(loop *L)
{
    stage *S = L->S;
    fk_loader_opts lo;
    fk_loader_opts_default(&lo);
    lo.train = 1;
    lo.batch = L->B;
    lo.seed = S->seed;
    lo.epoch = L->at.epoch;
    lo.start_batch = L->at.batch;
    lo.allocator = &L->pinned.allocator;
    lo.shard = fk_par_world()->rank;
    lo.shards = fk_par_world()->size;
    lo.views = L->views;
    FK_TRY(fk_loader_create(S->train, &S->cfg->data, &lo, &L->loader));
    L->spe = fk_loader_batches_per_epoch(L->loader);
    if (L->spe < 1)
        return fk_error(FK_ERR_ARG, "%s: the training split has fewer images than one batch (%d)", S->cfg->path,
                        L->B);
    L->total_steps = (long)S->opt->epochs * L->spe;
    if (S->opt->max_steps > 0 && S->opt->max_steps < L->total_steps)
        L->total_steps = S->opt->max_steps;
    return FK_OK;
}

static fk_status make_buffers(loop *L)
{
    fk_runtime *rt = L->S->rt;
    for (int i = 0; i < 2; i++) {
        FK_TRY(fk_buffer_create(rt, L->img * sizeof(float), 0, &L->x[i]));
        FK_TRY(fk_buffer_create(rt, (size_t)L->B * sizeof(int32_t), 0, &L->y[i]));
    }
    FK_TRY(fk_buffer_create(rt, (size_t)L->log_every * 2 * sizeof(float), 0, &L->steplog));
    L->vals = fk_malloc((size_t)L->log_every * 2 * sizeof(float));
    return L->vals ? FK_OK : FK_ERR_NOMEM;
}

/* ---- loop ---- */

/* Hand back the batch of slot i once its upload is done. */
static void release_slot(loop *L, int i)
{
    if (!L->has_pending[i])
        return;
    clWaitForEvents(1, &L->ev[i]);
    clReleaseEvent(L->ev[i]);
    L->ev[i] = NULL;
    fk_loader_release(L->loader, &L->pending[i]);
    L->has_pending[i] = false;
}

/* Validate a batch against the model input and start its upload into slot k. */
static fk_status upload(loop *L, const fk_batch *b)
{
    int k = L->k;
    if (b->count != L->B || b->c != L->ch || b->h != L->hh || b->w != L->ww || b->views != L->views) {
        fk_loader_release(L->loader, b);
        return fk_error(FK_ERR_ARG, "batch of %dx%dx%dx%d does not fit the model input %dx%dx%dx%d", b->count, b->c,
                        b->h, b->w, L->B, L->ch, L->hh, L->ww);
    }
    cl_command_queue q = L->S->rt->queue;
    cl_int err = clEnqueueWriteBuffer(q, L->x[k], CL_FALSE, 0, L->img * sizeof(float), b->images, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueWriteBuffer(q, L->y[k], CL_FALSE, 0, (size_t)L->B * sizeof(int32_t), b->labels, 0, NULL,
                                   &L->ev[k]);
    if (err != CL_SUCCESS) {
        fk_loader_release(L->loader, b);
        return fk_cl_fail(err, "clEnqueueWriteBuffer(batch)", __FILE__, __LINE__);
    }
    L->pending[k] = *b;
    L->has_pending[k] = true;
    release_slot(L, 1 - k); /* the other slot's upload finished long ago */
    return FK_OK;
}

/* A NaN or Inf among the nlog losses read back stops the run. */
static fk_status check_finite(const loop *L, long nlog)
{
    const stage *S = L->S;
    for (long j = 0; j < nlog; j++) {
        float ce = L->vals[2 * j], term = L->vals[2 * j + 1];
        if (isfinite(ce) && isfinite(term))
            continue;
        char last[1300];
        snprintf(last, sizeof last, "%s/last.safetensors", S->dir);
        bool have = access(last, F_OK) == 0;
        return fk_error(FK_ERR_NUMERIC,
                        "[%s] the loss is %s at step %ld (epoch %ld, batch %ld of %ld): stopping; %s%s "
                        "(try a lower lr)",
                        S->label, isnan(ce) || isnan(term) ? "NaN" : "Inf", L->stepno - nlog + j + 1, L->epoch + 1,
                        L->logged + j + 1, L->spe,
                        have ? "the last good checkpoint is " : "no checkpoint was written yet", have ? last : "");
    }
    return FK_OK;
}

/* The progress line after batch `index` (figkd/progress.h): running means
 * since the last line when piped, since the epoch's start on a terminal
 * (acc: the epoch's sums); ETA over this stage and the ones after it. */
static void print_progress(loop *L, long index, const float *acc)
{
    stage *S = L->S;
    double ce = L->sum[0] / (L->nsum ? L->nsum : 1), term = L->sum[1] / (L->nsum ? L->nsum : 1);
    if (L->tty) {
        ce = acc[FK_ACC_CE] / (index + 1);
        term = acc[FK_ACC_TERM] / (index + 1);
    }
    double el = fk_seconds() - L->t_run, rate = L->steps_this_run * L->G / (el > 0 ? el : 1);
    double left = (double)(L->total_steps - L->stepno) * L->G + S->later_work;
    fk_progress p = {S->label, L->epoch + 1, S->opt->epochs, index + 1, L->spe, 1, {"ce"}, {ce}, rate,
                     rate > 0 ? left / rate : -1};
    if (S->loss.method != FK_METHOD_CE) {
        p.n_terms = 3;
        p.names[0] = "loss", p.names[1] = "ce", p.names[2] = S->loss.method->term;
        p.values[0] = S->loss.ce_weight * ce + fk_method_term_scale(&S->loss, L->epoch) * term;
        p.values[1] = ce, p.values[2] = term;
    }
    char line[FK_PROGRESS_COLUMNS + 1];
    fk_progress_format(&p, line, sizeof line);
    printf(L->tty ? "\r\033[K%s" : "%s\n", line);
    fflush(stdout);
    L->t_line = fk_seconds();
    L->sum[0] = L->sum[1] = 0;
    L->nsum = 0;
}

/* Read the per-step losses since the last read (the only sync), check them
 * and, when `show`, print the progress line after batch `index`. */
static fk_status report(loop *L, long index, bool show)
{
    stage *S = L->S;
    long nlog = index + 1 - L->logged;
    float acc[FK_ACC_COUNT];
    FK_TRY(fk_buffer_read(S->rt, L->steplog, 0, (size_t)nlog * 2 * sizeof(float), L->vals));
    FK_TRY(fk_buffer_read(S->rt, L->step.acc, 0, sizeof acc, acc));
    FK_TRY(fk_ranks_reduce_log(L->vals, (size_t)nlog * 2, acc));
    FK_TRY(check_finite(L, nlog));
    L->logged = index + 1;
    for (long j = 0; j < nlog; j++)
        L->sum[0] += L->vals[2 * j], L->sum[1] += L->vals[2 * j + 1];
    L->nsum += nlog;
    if (show)
        print_progress(L, index, acc);
    return FK_OK;
}

/* The batches of one epoch, until its end or a stop. */
static fk_status run_batches(loop *L, const fk_sgd *sgd)
{
    const fk_optim_config *opt = L->S->opt;
    for (;;) {
        fk_batch b;
        FK_TRY(fk_loader_next(L->loader, &b));
        if (b.end_of_epoch)
            return FK_OK;
        L->index = b.index;
        FK_TRY(upload(L, &b));
        int k = L->k;
        FK_TRY(fk_step_run(&L->step, L->x[k], L->y[k], L->epoch, sgd, NULL));
        FK_TRY(fk_buffer_copy(L->S->rt, L->steplog, (size_t)((b.index - L->logged) * 2), L->step.values, 0, 2));
        L->k = 1 - k;
        L->stepno++;
        L->steps_this_run++;
        L->stop = fk_train_stop_signal() || (opt->max_steps > 0 && L->stepno >= opt->max_steps);
        FK_TRY(fk_ranks_agree_stop(&L->stop));
        /* piped: a line every log_every steps; on a terminal, the line
         * rewritten twice a second (a read-back of the few losses since) */
        bool full = b.index + 1 - L->logged == L->log_every, last = b.index + 1 == L->spe || L->stop;
        bool due = L->tty && fk_seconds() - L->t_line >= 0.5;
        if (full || last || due)
            FK_TRY(report(L, b.index, last || due || (full && !L->tty)));
        if (L->stop)
            return FK_OK;
    }
}

static void say_stopped(const loop *L, bool mid_epoch)
{
    const stage *S = L->S;
    int sig = fk_train_stop_signal();
    if (sig && mid_epoch)
        printf("[%s] %s: saved %s/last.safetensors at step %ld; continue with --resume\n", S->label,
               sig == SIGINT ? "interrupted" : "terminated", S->dir, L->stepno);
    else if (sig)
        printf("[%s] %s: saved %s/last.safetensors; continue with --resume\n", S->label,
               sig == SIGINT ? "interrupted" : "terminated", S->dir);
    else
        printf("[%s] max_steps = %ld reached: saved %s/last.safetensors\n", S->label, S->opt->max_steps, S->dir);
}

/* ---- save: the end of an epoch ---- */

/* Evaluate (every eval_every epochs and at the last), write the metrics
 * line, save best (when it is) and last. */
static fk_status end_epoch(loop *L, const float *acc, double lr, double seconds)
{
    stage *S = L->S;
    const fk_config *cfg = S->cfg;
    long e = L->epoch;
    bool do_eval = (e + 1) % (cfg->eval_every > 0 ? cfg->eval_every : 1) == 0 || e + 1 == S->opt->epochs;
    fk_epoch_line line = {e + 1, L->stepno, lr, acc, L->spe, (double)L->spe * L->G, -1, -1, -1,
                          (double)(L->spe - L->first) * L->G, seconds};
    FK_TRY(fk_ranks_share_model(S->net)); /* evaluate and save rank 0's model */
    if (do_eval) {
        FK_TRY(fk_session_evaluate(&L->step, S->net, S->test, cfg, L->x[0], L->y[0], &line.top1, &line.top5,
                                   &line.test_loss));
        S->last_acc = line.top1;
    }
    bool best = do_eval && line.top1 > S->best_acc;
    if (best) {
        S->best_acc = line.top1;
        S->best_epoch = (int)e + 1;
    }
    if (L->metrics)
        FK_TRY(fk_metrics_write(L->metrics, L->metrics_path, S, &line));
    if (do_eval)
        printf("[%s] epoch %ld: test top-1 %.2f%%  top-5 %.2f%%  loss %.4f%s\n", S->label, e + 1, 100 * line.top1,
               100 * line.top5, line.test_loss, best ? "  (best)" : "");
    float zero[FK_ACC_COUNT] = {0};
    bool done = e + 1 == S->opt->epochs;
    /* best before last: last records the best epoch, so a save of best
     * that fails or is killed leaves a last that does not yet claim it */
    if (best)
        FK_TRY(fk_stage_save(S, "best.safetensors", e + 1, 0, L->stepno, zero, done));
    FK_TRY(fk_stage_save(S, "last.safetensors", e + 1, 0, L->stepno, zero, done));
    return fk_step_reset_acc(&L->step);
}

/* One epoch; *more is false after a stop. */
static fk_status run_epoch(loop *L, bool *more)
{
    stage *S = L->S;
    const fk_optim_config *opt = S->opt;
    double lr = fk_optim_lr(opt, (double)L->epoch);
    fk_sgd sgd = {(float)lr, (float)opt->momentum, (float)opt->weight_decay, opt->nesterov};
    double t_epoch = fk_seconds();
    L->first = L->epoch == L->at.epoch ? L->at.batch : 0;
    L->logged = L->index = L->first;
    L->sum[0] = L->sum[1] = 0;
    L->nsum = 0;
    L->stop = false;
    FK_TRY(run_batches(L, &sgd));
    if (L->tty)
        printf("\n");
    for (int i = 0; i < 2; i++)
        release_slot(L, i);
    float acc[FK_ACC_COUNT];
    FK_TRY(fk_buffer_read(S->rt, L->step.acc, 0, sizeof acc, acc));
    FK_TRY(fk_ranks_reduce_log(NULL, 0, acc));
    *more = !L->stop;
    if (L->stop && L->index + 1 < L->spe) {
        /* mid-epoch stop: save the exact position */
        FK_TRY(fk_stage_save(S, "last.safetensors", L->epoch, L->index + 1, L->stepno, acc, false));
        S->interrupted = fk_train_stop_signal() != 0;
        say_stopped(L, true);
        return FK_OK;
    }
    FK_TRY(end_epoch(L, acc, lr, fk_seconds() - t_epoch));
    bool sig = fk_train_stop_signal() != 0;
    FK_TRY(fk_ranks_agree_stop(&sig)); /* every rank of a job goes on, or none */
    if (sig)
        S->interrupted = true;
    if (L->stop || sig) {
        *more = false;
        say_stopped(L, false);
    }
    return FK_OK;
}

static void loop_free(loop *L)
{
    for (int i = 0; i < 2; i++) {
        if (L->has_pending[i]) {
            clWaitForEvents(1, &L->ev[i]);
            fk_loader_release(L->loader, &L->pending[i]);
        }
        if (L->ev[i])
            clReleaseEvent(L->ev[i]);
        if (L->x[i])
            clReleaseMemObject(L->x[i]);
        if (L->y[i])
            clReleaseMemObject(L->y[i]);
    }
    if (L->steplog)
        clReleaseMemObject(L->steplog);
    free(L->vals);
    if (L->loader)
        fk_loader_free(L->loader);
    fk_pinned_free(&L->pinned);
    if (L->metrics)
        fclose(L->metrics);
    fk_ranks_end(L->S, &L->sync, &L->gather);
    L->S->method_params = NULL;
    fk_step_free(&L->step);
}

fk_status fk_stage_run(stage *S)
{
    loop *L = fk_calloc(1, sizeof *L);
    if (!L)
        return FK_ERR_NOMEM;
    const fk_node *in = &S->net->graph.nodes[0];
    L->S = S;
    L->G = S->opt->batch_size;
    fk_status st = fk_ranks_local_batch(S, &L->B);
    L->ch = in->c, L->hh = in->h, L->ww = in->w;
    L->views = fk_method_views(S->loss.method);
    L->img = (size_t)L->views * L->B * L->ch * L->hh * L->ww;
    L->log_every = S->cfg->log_every > 0 ? S->cfg->log_every : 50;
    fk_pinned_init(&L->pinned, S->rt);
    S->best_acc = S->last_acc = -1;
    S->best_epoch = 0;
    bool go = true;
    if (!st)
        st = build_step(L);
    if (!st)
        st = stage_load(L, &go);
    if (!st && go)
        st = fk_ranks_begin(S, &L->sync, &L->gather, &L->step);
    if (!st && go)
        st = open_metrics(L);
    if (!st && go)
        st = open_loader(L);
    if (!st && go)
        st = make_buffers(L);
    /* under mpirun rank 0's stdout is a pty of the launcher: plain lines, and
     * every rank reads the losses back at the same steps */
    L->tty = isatty(STDOUT_FILENO) && !fk_par_many(fk_par_world());
    L->t_run = fk_seconds();
    for (L->epoch = L->at.epoch; !st && go && L->epoch < S->opt->epochs; L->epoch++)
        st = run_epoch(L, &go);
    if (!st) /* a signal one rank took late stops the run on all */
        st = fk_ranks_agree_stop(&S->interrupted);
    fk_status closed = close_metrics(L);
    if (!st)
        st = closed;
    loop_free(L);
    free(L);
    return st;
}
