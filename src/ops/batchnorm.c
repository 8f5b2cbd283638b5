/* BatchNorm2d forward (train and eval) and backward (cl/batchnorm.cl).
 * CPU devices use the per-image variants of the per-channel kernels
 * (bn_stats_img, bn_backward_img). */
#include "figkd/ops.h"

#include <stdio.h>

/* Work-group size of the per-channel kernels: wide on GPUs, narrow on CPUs
 * (each barrier of PoCL's CPU device costs a pass over the work-items);
 * a power of two no larger than the device allows. */
static int bn_local(const fk_runtime *rt)
{
    size_t want = rt->dev.is_cpu ? 16 : 256;
    while (want > 1 && want > rt->dev.max_work_group)
        want /= 2;
    return (int)want;
}

static fk_status bn_kernel(fk_runtime *rt, const char *name, cl_kernel *k, int *local)
{
    char opts[32];
    *local = bn_local(rt);
    snprintf(opts, sizeof opts, "-DLOCAL=%d", *local);
    return fk_kernel_get(rt, "batchnorm", opts, name, k);
}

static fk_status check_dims(const fk_bn_dims *d, bool train)
{
    if (d->n <= 0 || d->c <= 0 || d->h <= 0 || d->w <= 0)
        return fk_error(FK_ERR_ARG, "batchnorm: bad sizes (n %d, c %d, h %d, w %d)", d->n, d->c, d->h, d->w);
    if ((size_t)d->n * (size_t)d->h * (size_t)d->w > 0x7fffffffu)
        return fk_error(FK_ERR_ARG, "batchnorm: %d x %d x %d values per channel is too many", d->n, d->h, d->w);
    if (train && d->n * d->h * d->w < 2)
        return fk_error(FK_ERR_ARG,
                        "batchnorm: train mode needs more than 1 value per channel (n %d, h %d, w %d), "
                        "as PyTorch; use a batch size above 1",
                        d->n, d->h, d->w);
    return FK_OK;
}

static fk_status bn_apply(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor mean, fk_tensor stat,
                          int stat_is_var, fk_tensor gamma, fk_tensor beta, const fk_bn_dims *d)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "batchnorm", "", "bn_apply", &k));
    cl_ulong out_off = out.off, in_off = in.off, mean_off = mean.off, stat_off = stat.off, g_off = gamma.off,
             b_off = beta.off;
    int hw = d->h * d->w;
    FK_ARG(k, 0, out.buf);
    FK_ARG(k, 1, out_off);
    FK_ARG(k, 2, in.buf);
    FK_ARG(k, 3, in_off);
    FK_ARG(k, 4, mean.buf);
    FK_ARG(k, 5, mean_off);
    FK_ARG(k, 6, stat.buf);
    FK_ARG(k, 7, stat_off);
    FK_ARG(k, 8, gamma.buf);
    FK_ARG(k, 9, g_off);
    FK_ARG(k, 10, beta.buf);
    FK_ARG(k, 11, b_off);
    FK_ARG(k, 12, d->c);
    FK_ARG(k, 13, hw);
    FK_ARG(k, 14, stat_is_var);
    FK_ARG(k, 15, d->eps);
    size_t global[3] = {fk_round_up((size_t)hw, 16), (size_t)d->c, (size_t)d->n};
    FK_LAUNCH(rt, k, 3, global, NULL);
    return FK_OK;
}

fk_status fk_bn_forward_train(fk_runtime *rt, fk_tensor out, fk_tensor save_mean, fk_tensor save_invstd,
                              fk_tensor in, fk_tensor gamma, fk_tensor beta, fk_tensor running_mean,
                              fk_tensor running_var, fk_tensor num_batches, const fk_bn_dims *d)
{
    FK_TRY(check_dims(d, true));
    cl_kernel k;
    int local;
    FK_TRY(bn_kernel(rt, rt->dev.is_cpu ? "bn_stats_img" : "bn_stats", &k, &local));
    cl_ulong in_off = in.off, sm_off = save_mean.off, si_off = save_invstd.off, rm_off = running_mean.off,
             rv_off = running_var.off, nb_off = num_batches.off;
    int hw = d->h * d->w;
    FK_ARG(k, 0, in.buf);
    FK_ARG(k, 1, in_off);
    FK_ARG(k, 2, save_mean.buf);
    FK_ARG(k, 3, sm_off);
    FK_ARG(k, 4, save_invstd.buf);
    FK_ARG(k, 5, si_off);
    FK_ARG(k, 6, running_mean.buf);
    FK_ARG(k, 7, rm_off);
    FK_ARG(k, 8, running_var.buf);
    FK_ARG(k, 9, rv_off);
    FK_ARG(k, 10, num_batches.buf);
    FK_ARG(k, 11, nb_off);
    FK_ARG(k, 12, d->n);
    FK_ARG(k, 13, d->c);
    FK_ARG(k, 14, hw);
    FK_ARG(k, 15, d->eps);
    FK_ARG(k, 16, d->momentum);
    size_t lsize = (size_t)local, global = (size_t)d->c * lsize;
    FK_LAUNCH(rt, k, 1, &global, &lsize);
    return bn_apply(rt, out, in, save_mean, save_invstd, 0, gamma, beta, d);
}

fk_status fk_bn_forward_eval(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor gamma,
                             fk_tensor beta, fk_tensor running_mean, fk_tensor running_var,
                             const fk_bn_dims *d)
{
    FK_TRY(check_dims(d, false));
    return bn_apply(rt, out, in, running_mean, running_var, 1, gamma, beta, d);
}

fk_status fk_bn_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma,
                         const fk_tensor *dbeta, fk_tensor dout, fk_tensor in, fk_tensor gamma,
                         fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d)
{
    FK_TRY(check_dims(d, true));
    if (!din && !dgamma && !dbeta)
        return FK_OK;
    cl_kernel k;
    int local;
    FK_TRY(bn_kernel(rt, rt->dev.is_cpu ? "bn_backward_img" : "bn_backward", &k, &local));
    /* a skipped gradient still needs a valid buffer argument: dout stands in */
    fk_tensor none = dout;
    fk_tensor t_din = din ? *din : none, t_dg = dgamma ? *dgamma : none, t_db = dbeta ? *dbeta : none;
    cl_ulong din_off = t_din.off, dg_off = t_dg.off, db_off = t_db.off, dout_off = dout.off, in_off = in.off,
             g_off = gamma.off, sm_off = save_mean.off, si_off = save_invstd.off;
    int hw = d->h * d->w, want_din = din != NULL, want_dg = dgamma != NULL, want_db = dbeta != NULL;
    FK_ARG(k, 0, t_din.buf);
    FK_ARG(k, 1, din_off);
    FK_ARG(k, 2, t_dg.buf);
    FK_ARG(k, 3, dg_off);
    FK_ARG(k, 4, t_db.buf);
    FK_ARG(k, 5, db_off);
    FK_ARG(k, 6, dout.buf);
    FK_ARG(k, 7, dout_off);
    FK_ARG(k, 8, in.buf);
    FK_ARG(k, 9, in_off);
    FK_ARG(k, 10, gamma.buf);
    FK_ARG(k, 11, g_off);
    FK_ARG(k, 12, save_mean.buf);
    FK_ARG(k, 13, sm_off);
    FK_ARG(k, 14, save_invstd.buf);
    FK_ARG(k, 15, si_off);
    FK_ARG(k, 16, d->n);
    FK_ARG(k, 17, d->c);
    FK_ARG(k, 18, hw);
    FK_ARG(k, 19, want_din);
    FK_ARG(k, 20, want_dg);
    FK_ARG(k, 21, want_db);
    size_t lsize = (size_t)local, global = (size_t)d->c * lsize;
    FK_LAUNCH(rt, k, 1, &global, &lsize);
    return FK_OK;
}
