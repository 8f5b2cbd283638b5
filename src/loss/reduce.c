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

fk_status fk_loss_launch_rows(fk_runtime *rt, cl_kernel k, int n, const char *file, int line)
{
    size_t global = (size_t)n * FK_LOSS_WG, local = FK_LOSS_WG;
    return fk_launch(rt, k, 1, &global, &local, file, line);
}

fk_status fk_loss_mean(fk_runtime *rt, fk_tensor value, fk_tensor work, int n, float scale)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "loss", "", "loss_mean", &k));
    cl_ulong value_off = value.off, work_off = work.off;
    FK_ARG(k, 0, value.buf);
    FK_ARG(k, 1, value_off);
    FK_ARG(k, 2, work.buf);
    FK_ARG(k, 3, work_off);
    FK_ARG(k, 4, n);
    FK_ARG(k, 5, scale);
    size_t global = FK_LOSS_WG, local = FK_LOSS_WG;
    FK_LAUNCH(rt, k, 1, &global, &local);
    return FK_OK;
}
