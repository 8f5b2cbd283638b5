/* FitNet's hint loss (cl/fitnet.cl): per (sample, channel) plane the sum of
 * squared differences and the gradient, then the fixed-order sum of the
 * planes (cl/loss.cl loss_mean) over the element count. */
#include "loss/loss_internal.h"

#include <limits.h>

size_t fk_fitnet_work(const fk_tensor *r)
{
    if (r->ndim != 4 || r->shape[0] <= 0 || r->shape[1] <= 0)
        return 0;
    return (size_t)r->shape[0] * (size_t)r->shape[1];
}

fk_status fk_fitnet_loss(fk_runtime *rt, fk_tensor value, fk_tensor r, const fk_tensor *dr, fk_tensor t,
                         float weight, fk_tensor work)
{
    const char *who = "fk_fitnet_loss";
    bool same = r.ndim == 4 && t.ndim == 4;
    for (int d = 0; d < 4; d++)
        same = same && r.shape[d] == t.shape[d] && r.shape[d] > 0;
    if (!same)
        return fk_error(FK_ERR_ARG, "%s: the regressed student feature (%d, %d, %d, %d) and the teacher's "
                        "(%d, %d, %d, %d) differ", who, r.shape[0], r.shape[1], r.shape[2], r.shape[3], t.shape[0],
                        t.shape[1], t.shape[2], t.shape[3]);
    size_t numel = fk_tensor_numel(&r), planes = fk_fitnet_work(&r);
    if (numel > INT_MAX)
        return fk_error(FK_ERR_ARG, "%s: %zu elements is too many", who, numel);
    FK_TRY(fk_loss_check_tensor(who, "value", &value, 1));
    FK_TRY(fk_loss_check_tensor(who, "work", &work, planes));
    if (dr)
        FK_TRY(fk_loss_check_tensor(who, "dr", dr, numel));
    int has_grad = dr != NULL, hw = r.shape[2] * r.shape[3];
    float scale = weight * 2.0f / (float)numel;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_FITNET_MSE, &k));
    FK_RUN_1D(rt, k, planes, FK_T(r), FK_T(t), FK_T(work), FK_T(dr ? *dr : r), FK_A((int)planes), FK_A(hw),
              FK_A(scale), FK_A(has_grad));
    return fk_loss_mean(rt, value, work, (int)planes, 1.0f / (float)numel);
}
