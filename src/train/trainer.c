/* The training step: teacher forward (eval mode), student forward (train
 * mode), CE plus the method's term (its row's loss) into one logits
 * gradient, backward, SGD, and metrics accumulated on the device; for a
 * method of two views, forward to backward once per view and the gradients
 * summed before SGD. No host sync unless times are asked for. */
#include "figkd/ops.h"
#include "figkd/parallel_cl.h"
#include "figkd/trainer.h"

#include "figkd/loss.h"

#include <stdlib.h>
#include <string.h>

fk_status fk_loss_spec_from_config(const fk_config *cfg, int classes, fk_loss_spec *out)
{
    memset(out, 0, sizeof *out);
    out->method = cfg->method;
    out->seed = cfg->seed + 2; /* the student's is cfg->seed, the teacher's cfg->seed + 1 */
    return cfg->method->setup(cfg, classes, out);
}

static const fk_model_entry method_params_entry = {.name = "method parameters", .family = "method"};

/* The row's own parameters: its layers as a model of their own, seeded,
 * planned for the batch in train mode. */
static fk_status params_init(fk_step *s, const fk_feats *student, const fk_feats *teacher)
{
    const fk_method *m = s->loss.method;
    if (fk_method_views(m) > 1)
        return fk_error(FK_ERR_ARG, "method %s: parameters of its own and two views are not supported together",
                        m->name);
    fk_model *p = fk_calloc(1, sizeof *p);
    if (!p)
        return FK_ERR_NOMEM;
    p->entry = &method_params_entry;
    fk_graph_init(&p->graph);
    s->params = p;
    FK_TRY(m->build_params(&s->loss, student, teacher, &p->graph));
    FK_TRY(fk_graph_finish(&p->graph));
    FK_TRY(fk_model_to_device(s->rt, p, s->loss.seed));
    return fk_model_plan(p, s->batch, true);
}

/* A row with feature taps: both models expose what it reads; its own checks
 * and scratch, and its own parameters. */
static fk_status feat_init(fk_step *s)
{
    const fk_method *m = s->loss.method;
    fk_model *models[2] = {s->student, s->teacher};
    fk_feats f[2];
    for (int i = 0; i < 2; i++) {
        fk_model_feats(models[i], &f[i]);
        const char *name = models[i]->entry->name;
        if (m->embed && models[i]->graph.embed < 0)
            return fk_error(FK_ERR_ARG, "method %s reads the embedding, which model %s does not expose", m->name,
                            name);
        unsigned have = f[i].count >= 32 ? ~0u : (1u << f[i].count) - 1;
        if (m->stages && !(m->stages & have))
            return fk_error(FK_ERR_ARG, "method %s reads stage outputs, and model %s exposes %s", m->name, name,
                            f[i].count ? "too few" : "none");
    }
    size_t need = 0;
    if (m->feat_setup)
        FK_TRY(m->feat_setup(&s->loss, &f[0], &f[1], &need));
    if (need > s->work_elems)
        s->work_elems = need;
    return m->build_params ? params_init(s, &f[0], &f[1]) : FK_OK;
}

fk_status fk_step_init(fk_step *s, fk_runtime *rt, fk_model *student, fk_model *teacher, const fk_loss_spec *loss,
                       int batch, int classes)
{
    memset(s, 0, sizeof *s);
    s->rt = rt;
    s->student = student;
    s->teacher = loss->method->needs_teacher ? teacher : NULL;
    s->loss = *loss;
    s->batch = batch;
    s->classes = classes;
    if (loss->method->needs_teacher && !teacher)
        return fk_error(FK_ERR_ARG, "method %s needs a teacher", loss->method->name);
    s->work_elems = fk_method_work(loss->method, batch, classes);
    if (FK_METHOD_TAPS(loss->method))
        FK_TRY(feat_init(s));
    FK_TRY(fk_buffer_create(rt, (size_t)batch * classes * sizeof(float), 0, &s->dlogits));
    FK_TRY(fk_buffer_create(rt, FK_STEP_VALUES * sizeof(float), 0, &s->values));
    FK_TRY(fk_buffer_create(rt, FK_ACC_SLOTS * sizeof(float), 0, &s->acc));
    FK_TRY(fk_buffer_create(rt, (s->work_elems + 1) * sizeof(float), 0, &s->work));
    FK_TRY(fk_buffer_fill(rt, s->values, 0, FK_STEP_VALUES, 0.0f));
    s->views = fk_method_views(loss->method);
    if (s->views > 1)
        FK_TRY(fk_buffer_create(rt, (student->graph.params.param_count + 1) * sizeof(float), 0, &s->grads_weak));
    return fk_step_reset_acc(s);
}

void fk_step_free(fk_step *s)
{
    cl_mem m[] = {s->dlogits, s->values, s->acc, s->work, s->grads_weak};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i])
            clReleaseMemObject(m[i]);
    fk_model_free(s->params);
    memset(s, 0, sizeof *s);
}

fk_status fk_step_reset_acc(fk_step *s)
{
    return fk_buffer_fill(s->rt, s->acc, 0, FK_ACC_SLOTS, 0.0f);
}

static fk_tensor vec(cl_mem buf, size_t off, int n)
{
    fk_tensor t = {buf, off, 1, {n, 1, 1, 1}};
    return t;
}

static fk_tensor mat(cl_mem buf, int n, int c)
{
    fk_tensor t = {buf, 0, 2, {n, c, 1, 1}};
    return t;
}

static fk_status topk(fk_step *s, fk_tensor logits, cl_mem y, int n)
{
    return fk_topk_hits(s->rt, s->acc, FK_ACC_TOP1, logits, y, 0, n, s->classes);
}

/* Mark a part's end: with times, finish the queue and add the elapsed time. */
static fk_status lap(fk_step *s, fk_step_times *times, double *slot, double *t0)
{
    if (!times)
        return FK_OK;
    FK_TRY(fk_runtime_finish(s->rt));
    double t = fk_seconds();
    *slot += t - *t0;
    *t0 = t;
    return FK_OK;
}

/* Forward, loss and backward of view v (its images at x + v * n images):
 * CE and the term into values[0], [1] (view 0) or [4], [5] (view 1). */
static fk_status step_view(fk_step *s, cl_mem x, cl_mem y, int v, float weight, fk_step_times *times, double *t0)
{
    fk_runtime *rt = s->rt;
    const fk_loss_spec *L = &s->loss;
    int n = s->batch, c = s->classes;
    fk_model *st = s->student;
    const fk_node *in = &st->graph.nodes[0];
    size_t off = (size_t)v * n * in->c * in->h * in->w, vo = v ? 4 : 0;
    fk_tensor input = {x, off, 4, {n, in->c, in->h, in->w}};
    fk_tensor tlogits = {0}, slogits;
    if (s->teacher) {
        FK_TRY(fk_model_forward(s->teacher, input, false, &tlogits));
        FK_TRY(lap(s, times, times ? &times->teacher_forward : NULL, t0));
    }
    FK_TRY(fk_model_forward(st, input, true, &slogits));
    FK_TRY(lap(s, times, times ? &times->student_forward : NULL, t0));

    fk_tensor dl = mat(s->dlogits, n, c), work = vec(s->work, 0, (int)s->work_elems);
    FK_TRY(fk_buffer_fill(rt, s->dlogits, 0, (size_t)n * c, 0.0f));
    /* gradients are zeroed before the loss: a feature term adds into them */
    FK_TRY(fk_model_zero_grad(st));
    if (s->params)
        FK_TRY(fk_model_zero_grad(s->params));
    FK_TRY(fk_ce_loss(rt, vec(s->values, vo, 1), &dl, slogits, y, 0, n, c, (float)L->ce_weight, work));
    fk_method_io io = {rt, L, vec(s->values, vo + 1, 1), &dl, slogits, tlogits, y, n, c, weight, work, {0}, {0}, v,
                       s->params};
    if (FK_METHOD_TAPS(L->method)) {
        fk_model_feats(st, &io.student_feats);
        fk_model_feats(s->teacher, &io.teacher_feats);
    }
    if (s->gather) /* its term over the global batch, this rank's rows of the gradient */
        FK_TRY(fk_logit_gather_io(s->gather, &io));
    FK_TRY(L->method->loss(&io));
    if (s->gather)
        FK_TRY(fk_logit_gather_scatter(s->gather, &dl));
    if (v == 0) /* accuracy of the weak (or only) view, as the authors' trainer reports */
        FK_TRY(topk(s, slogits, y, n));
    FK_TRY(lap(s, times, times ? &times->loss : NULL, t0));
    FK_TRY(fk_model_backward_from(st, dl));
    FK_TRY(lap(s, times, times ? &times->backward : NULL, t0));
    return FK_OK;
}

fk_status fk_step_run(fk_step *s, cl_mem x, cl_mem y, long epoch, const fk_sgd *sgd, fk_step_times *times)
{
    fk_runtime *rt = s->rt;
    fk_param_store *ps = &s->student->graph.params;
    float weight = (float)fk_method_term_scale(&s->loss, epoch);
    double t0 = times ? fk_seconds() : 0;
    if (s->sync && s->views > 1) /* the buckets go out during the last backward */
        fk_grad_sync_hold(s->sync);
    FK_TRY(step_view(s, x, y, 0, weight, times, &t0));
    if (s->views > 1) {
        /* each view's step starts from zeroed gradients: keep the weak view's, add them back
         * (across processes bucket by bucket, as the strong view's backward completes them) */
        FK_TRY(fk_buffer_copy(rt, s->grads_weak, 0, ps->grads, 0, ps->param_count));
        if (s->sync)
            fk_grad_sync_arm(s->sync, s->grads_weak);
        FK_TRY(step_view(s, x, y, 1, weight, times, &t0));
        if (!s->sync)
            FK_TRY(fk_buffer_axpy(rt, ps->grads, 0, s->grads_weak, 0, 1.0f, ps->param_count));
        FK_TRY(fk_buffer_axpy(rt, s->values, 0, s->values, 4, 1.0f, 2));
        FK_TRY(lap(s, times, times ? &times->backward : NULL, &t0));
    }
    if (s->sync) { /* data parallel: the gradients' means over the ranks */
        if (times) { /* the allreduce alone, without the ranks' imbalance */
            FK_TRY(fk_par_barrier(fk_par_world()));
            FK_TRY(lap(s, times, &times->rank_wait, &t0));
        }
        FK_TRY(fk_grad_sync_end(s->sync));
        FK_TRY(lap(s, times, times ? &times->sync : NULL, &t0));
    }
    /* each rank adds its share of the global batch's mean (summed over the ranks when logged) */
    float share = s->sync ? 1.0f / (float)fk_par_world()->size : 1.0f;
    FK_TRY(fk_buffer_axpy(rt, s->acc, FK_ACC_CE, s->values, 0, share, 2));
    FK_TRY(fk_sgd_step(rt, ps, sgd));
    if (s->params) /* the method's own: the same optimizer, as one SGD over both */
        FK_TRY(fk_sgd_step(rt, &s->params->graph.params, sgd));
    FK_TRY(lap(s, times, times ? &times->update : NULL, &t0));
    return FK_OK;
}

fk_status fk_step_eval(fk_step *s, fk_model *m, cl_mem x, cl_mem y, int n)
{
    fk_tensor input = {x, 0, 4, {s->batch, m->graph.nodes[0].c, m->graph.nodes[0].h, m->graph.nodes[0].w}};
    fk_tensor logits;
    FK_TRY(fk_model_forward(m, input, false, &logits));
    fk_tensor work = vec(s->work, 0, (int)s->work_elems);
    FK_TRY(fk_ce_loss(s->rt, vec(s->values, 2, 1), NULL, logits, y, 0, n, s->classes, 1.0f, work));
    FK_TRY(fk_buffer_axpy(s->rt, s->acc, FK_ACC_CE, s->values, 2, (float)n, 1));
    FK_TRY(fk_nonfinite_rows(s->rt, s->acc, FK_ACC_NONFINITE, logits, n, s->classes));
    return topk(s, logits, y, n);
}
