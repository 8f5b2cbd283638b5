/* A stage as one rank of an MPI job (include/figkd/parallel.h): the global
 * batch split over the ranks, rank 0's state shared at the start, the
 * stop decision and the logged numbers agreed. In one process every
 * function here leaves things as they are. */
#include "train/stage.h"

#include <string.h>

fk_status fk_ranks_local_batch(const stage *S, int *local)
{
    const fk_par *par = fk_par_world();
    int B = S->opt->batch_size;
    *local = B;
    if (!fk_par_many(par))
        return FK_OK;
    if (B % par->size != 0)
        return fk_error(FK_ERR_ARG, "%s: [%s] batch_size = %d (the global batch) does not split evenly over %d "
                        "processes; use a multiple of %d", S->cfg->path,
                        S->opt == &S->cfg->optim ? "optim" : "teacher_optim", B, par->size, par->size);
    *local = B / par->size;
    return FK_OK;
}

fk_status fk_ranks_found(int *found)
{
    return fk_par_bcast(fk_par_world(), found, sizeof *found, 0);
}

fk_status fk_ranks_share_resume(stage *S, fk_resume_point *at)
{
    const fk_par *par = fk_par_world();
    if (!fk_par_many(par))
        return FK_OK;
    double r[3] = {S->best_acc, S->last_acc, S->best_epoch};
    FK_TRY(fk_par_bcast(par, at, sizeof *at, 0));
    FK_TRY(fk_par_bcast(par, r, sizeof r, 0));
    S->best_acc = r[0];
    S->last_acc = r[1];
    S->best_epoch = (int)r[2];
    /* the accumulators of the epoch so far count once: on rank 0 */
    if (!fk_par_root(par))
        memset(at->acc, 0, sizeof at->acc);
    return FK_OK;
}

fk_status fk_ranks_attach(fk_step *step, fk_graph *g, bool sync_bn, fk_grad_sync *sync, fk_logit_gather *gather)
{
    static fk_replicas replicas;
    const fk_par *par = fk_par_world();
    const fk_method *m = step->loss.method;
    memset(gather, 0, sizeof *gather);
    FK_TRY(fk_grad_sync_init(sync, par, step->rt, &g->params, FK_GRAD_BUCKET));
    if (!fk_par_many(par))
        return FK_OK;
    /* the method's own parameters have no gradient buckets: refused, not left unaveraged */
    if (step->params)
        return fk_error(FK_ERR_ARG, "[distill] method = %s trains parameters of its own (%s), whose gradients are "
                        "not averaged across processes yet; run it in one process", m->name,
                        step->params->graph.params.items[0].name);
    step->sync = sync;
    if (m->whole_batch) {
        if (FK_METHOD_TAPS(m)) /* the features stay on their rank */
            return fk_error(FK_ERR_ARG, "method %s: a whole-batch term cannot read features", m->name);
        int rows = step->batch * par->size;
        FK_TRY(fk_logit_gather_init(gather, par, step->rt, step->batch, step->classes,
                                    fk_method_work(m, rows, step->classes)));
        step->gather = gather;
    }
    g->after_backward = fk_grad_sync_ready;
    g->after_backward_ctx = sync;
    if (sync_bn) {
        replicas = fk_par_replicas(par);
        g->bn_replicas = &replicas;
    }
    return FK_OK;
}

fk_status fk_ranks_begin(stage *S, fk_grad_sync *sync, fk_logit_gather *gather, fk_step *step)
{
    fk_graph *g = &S->net->graph;
    FK_TRY(fk_ranks_attach(step, g, S->opt->sync_bn, sync, gather));
    return fk_par_bcast_params(fk_par_world(), S->rt, &g->params, true);
}

void fk_ranks_end(stage *S, fk_grad_sync *sync, fk_logit_gather *gather)
{
    fk_ranks_detach(&S->net->graph, sync, gather);
}

void fk_ranks_detach(fk_graph *g, fk_grad_sync *sync, fk_logit_gather *gather)
{
    g->after_backward = NULL;
    g->after_backward_ctx = NULL;
    g->bn_replicas = NULL;
    fk_grad_sync_free(sync);
    fk_logit_gather_free(gather);
}

fk_status fk_ranks_agree_stop(bool *stop)
{
    const fk_par *par = fk_par_world();
    if (!fk_par_many(par))
        return FK_OK;
    int v[2] = {fk_train_stop_signal(), *stop ? 1 : 0};
    FK_TRY(fk_par_max_int(par, v, 2));
    fk_train_adopt_stop(v[0]);
    *stop = v[1] != 0;
    return FK_OK;
}

fk_status fk_ranks_reduce_log(float *vals, size_t nvals, float *acc)
{
    const fk_par *par = fk_par_world();
    if (!fk_par_many(par))
        return FK_OK;
    if (acc)
        FK_TRY(fk_par_sum_f32(par, acc, FK_ACC_COUNT));
    if (vals) {
        FK_TRY(fk_par_sum_f32(par, vals, nvals));
        for (size_t i = 0; i < nvals; i++)
            vals[i] /= (float)par->size;
    }
    return FK_OK;
}

fk_status fk_ranks_share_model(fk_model *m)
{
    return fk_par_bcast_params(fk_par_world(), m->rt, &m->graph.params, false);
}
