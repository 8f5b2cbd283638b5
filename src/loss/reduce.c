/* Batch mean of per-sample losses and argument checks shared by the losses. */
#include "loss/loss_internal.h"

#include <limits.h>

size_t fk_loss_work(int n, int c)
{
    (void)c;
    return n > 0 ? (size_t)n : 0;
}

fk_status fk_loss_check_dims(const char *who, int n, int c)
{
    if (n <= 0 || c <= 0)
        return fk_error(FK_ERR_ARG, "%s: batch %d and classes %d must be positive", who, n, c);
    if ((long long)n * c > INT_MAX)
        return fk_error(FK_ERR_ARG, "%s: batch %d x classes %d is too large", who, n, c);
    return FK_OK;
}

fk_status fk_loss_check_tensor(const char *who, const char *name, const fk_tensor *t, size_t need)
{
    if (!t->buf)
        return fk_error(FK_ERR_ARG, "%s: %s has no buffer", who, name);
    if (t->ndim > 0 && fk_tensor_numel(t) < need)
        return fk_error(FK_ERR_ARG, "%s: %s holds %zu elements, %zu needed", who, name,
                        fk_tensor_numel(t), need);
    return FK_OK;
}

fk_status fk_loss_check_logits(const char *who, int n, int c, const fk_tensor *value, const char *x_name,
                               const fk_tensor *x, const fk_tensor *teacher, const fk_tensor *work,
                               const fk_tensor *dlogits)
{
    size_t nc = (size_t)n * (size_t)c;
    FK_TRY(fk_loss_check_tensor(who, "value", value, 1));
    FK_TRY(fk_loss_check_tensor(who, x_name, x, nc));
    if (teacher)
        FK_TRY(fk_loss_check_tensor(who, "teacher", teacher, nc));
    FK_TRY(fk_loss_check_tensor(who, "work", work, fk_loss_work(n, c)));
    if (dlogits)
        FK_TRY(fk_loss_check_tensor(who, "dlogits", dlogits, nc));
    return FK_OK;
}

fk_status fk_loss_mean(fk_runtime *rt, fk_tensor value, fk_tensor work, int n, float scale)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_LOSS_MEAN, &k));
    FK_LOSS_RUN(rt, k, 1, FK_T(value), FK_T(work), FK_A(n), FK_A(scale));
    return FK_OK;
}
