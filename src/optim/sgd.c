/* SGD over the whole parameter store in one launch (cl/sgd.cl). */
#include "figkd/optim.h"

fk_status fk_sgd_step(fk_runtime *rt, fk_param_store *ps, const fk_sgd *opt)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "sgd", "", "sgd_step", &k));
    cl_ulong n = ps->param_count;
    cl_int nesterov = opt->nesterov;
    FK_ARG(k, 0, ps->params);
    FK_ARG(k, 1, ps->grads);
    FK_ARG(k, 2, ps->momentum);
    FK_ARG(k, 3, n);
    FK_ARG(k, 4, opt->lr);
    FK_ARG(k, 5, opt->momentum);
    FK_ARG(k, 6, opt->weight_decay);
    FK_ARG(k, 7, nesterov);
    size_t global = fk_round_up(ps->param_count, 256);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}
