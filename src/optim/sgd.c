/* SGD over the whole parameter store in one launch (cl/sgd.cl). */
#include "figkd/optim.h"

fk_status fk_sgd_step(fk_runtime *rt, fk_param_store *ps, const fk_sgd *opt)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_SGD_STEP, &k));
    size_t global = fk_round_up(ps->param_count, 256);
    FK_RUN(rt, k, 1, &global, NULL, FK_A(ps->params), FK_A(ps->grads), FK_A(ps->momentum), FK_A(ps->param_count),
           FK_A(opt->lr), FK_A(opt->momentum), FK_A(opt->weight_decay), FK_A((cl_int)opt->nesterov));
    return FK_OK;
}
