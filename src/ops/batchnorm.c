/* BatchNorm2d forward (train and eval) and backward (cl/batchnorm.cl),
 * alone or with the ReLU after it fused in (fk_bn_relu_*). CPU devices use
 * the per-image variants of the per-channel kernels (bn_stats_img,
 * bn_backward_img). */
#include "figkd/ops.h"

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

/* A per-channel kernel (built for the work-group size) and its launch:
 * one work-group of `local` items per channel. */
static fk_status bn_kernel(fk_runtime *rt, fk_kernel_id id, const fk_bn_dims *d, cl_kernel *k,
                           size_t global_local[2])
{
    int local = bn_local(rt);
    global_local[0] = (size_t)d->c * (size_t)local;
    global_local[1] = (size_t)local;
    return fk_kernel_defs(rt, id, &local, k);
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

#define BN_RUN 8 /* elements per work-item of bn_apply_run (cl/batchnorm.cl) */

static fk_status bn_apply(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor mean, fk_tensor stat,
                          int stat_is_var, fk_tensor gamma, fk_tensor beta, int relu, const fk_bn_dims *d)
{
    /* devices that leave long loops early (Mesa's llvmpipe,
     * src/runtime/probe.c; probed on CPU devices, as the conv path does)
     * load one SIMD lane at a time: BN_RUN elements
     * per work-item there, the parameters loaded once for them (forced with
     * FIGKD_CONV_GEMM=wi or =ig, the llvmpipe-shaped kernels) */
    long limit = rt->opts.conv_gemm == FK_CONV_GEMM_WI || rt->opts.conv_gemm == FK_CONV_GEMM_IG;
    if (!limit && rt->dev.is_cpu)
        FK_TRY(fk_device_loop_limit(rt, &limit));
    cl_kernel k;
    FK_TRY(fk_kernel(rt, limit ? FK_K_BN_APPLY_RUN : FK_K_BN_APPLY, &k));
    int hw = d->h * d->w;
    size_t global[3] = {fk_round_up(limit ? ((size_t)hw + BN_RUN - 1) / BN_RUN : (size_t)hw, 16), (size_t)d->c,
                        (size_t)d->n};
    FK_RUN(rt, k, 3, global, NULL, FK_T(out), FK_T(in), FK_T(mean), FK_T(stat), FK_T(gamma), FK_T(beta),
           FK_A(d->c), FK_A(hw), FK_A(stat_is_var), FK_A(d->eps), FK_A(relu));
    return FK_OK;
}

static fk_status forward_train(fk_runtime *rt, fk_tensor out, fk_tensor save_mean, fk_tensor save_invstd,
                               fk_tensor in, fk_tensor gamma, fk_tensor beta, fk_tensor running_mean,
                               fk_tensor running_var, fk_tensor num_batches, int relu, const fk_bn_dims *d)
{
    FK_TRY(check_dims(d, true));
    cl_kernel k;
    size_t gl[2];
    FK_TRY(bn_kernel(rt, rt->dev.is_cpu ? FK_K_BN_STATS_IMG : FK_K_BN_STATS, d, &k, gl));
    FK_RUN(rt, k, 1, &gl[0], &gl[1], FK_T(in), FK_T(save_mean), FK_T(save_invstd), FK_T(running_mean),
           FK_T(running_var), FK_T(num_batches), FK_A(d->n), FK_A(d->c), FK_A(d->h * d->w), FK_A(d->eps),
           FK_A(d->momentum));
    return bn_apply(rt, out, in, save_mean, save_invstd, 0, gamma, beta, relu, d);
}

fk_status fk_bn_forward_train(fk_runtime *rt, fk_tensor out, fk_tensor save_mean, fk_tensor save_invstd,
                              fk_tensor in, fk_tensor gamma, fk_tensor beta, fk_tensor running_mean,
                              fk_tensor running_var, fk_tensor num_batches, const fk_bn_dims *d)
{
    return forward_train(rt, out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var,
                         num_batches, 0, d);
}

fk_status fk_bn_relu_forward_train(fk_runtime *rt, fk_tensor out, fk_tensor save_mean, fk_tensor save_invstd,
                                   fk_tensor in, fk_tensor gamma, fk_tensor beta, fk_tensor running_mean,
                                   fk_tensor running_var, fk_tensor num_batches, const fk_bn_dims *d)
{
    return forward_train(rt, out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var,
                         num_batches, 1, d);
}

fk_status fk_bn_forward_eval(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor gamma,
                             fk_tensor beta, fk_tensor running_mean, fk_tensor running_var,
                             const fk_bn_dims *d)
{
    FK_TRY(check_dims(d, false));
    return bn_apply(rt, out, in, running_mean, running_var, 1, gamma, beta, 0, d);
}

fk_status fk_bn_relu_forward_eval(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor gamma,
                                  fk_tensor beta, fk_tensor running_mean, fk_tensor running_var,
                                  const fk_bn_dims *d)
{
    FK_TRY(check_dims(d, false));
    return bn_apply(rt, out, in, running_mean, running_var, 1, gamma, beta, 1, d);
}

/* bn_backward_t4 (cl/batchnorm_t4.cl) reads in, dout and the gate g
 * through CL_RGBA views on the CPU devices whose convs read images
 * (fk_device_image_loads: llvmpipe) where H*W and every offset are whole
 * texels and a work-item's loops stay short (llvmpipe leaves a kernel
 * after 65535 iterations); views[] (in, dout, g) are NULL otherwise. The
 * runtime keeps the three views (FK_VIEWS_HELD) for the launch. */
#define BN_T4_BUDGET 16384u

static fk_status backward_views(fk_runtime *rt, fk_tensor in, fk_tensor dout, fk_tensor g, const fk_bn_dims *d,
                                cl_mem views[3])
{
    const size_t hw = (size_t)d->h * d->w, local = (size_t)bn_local(rt);
    const size_t loops = 2 * (((size_t)d->n + local - 1) / local) * (hw / 4 + 1);
    if (!rt->dev.is_cpu || hw % 4 || in.off % 4 || dout.off % 4 || g.off % 4 || loops > BN_T4_BUDGET)
        return FK_OK;
    bool images;
    FK_TRY(fk_device_image_loads(rt, &images));
    if (!images)
        return FK_OK;
    const fk_tensor t[3] = {in, dout, g};
    for (int i = 0; i < 3; i++) {
        FK_TRY(fk_buffer_image4_to(rt, t[i].buf, t[i].off + (size_t)d->n * d->c * hw, &views[i]));
        if (!views[i]) {
            views[0] = views[1] = views[2] = NULL;
            return FK_OK;
        }
    }
    return FK_OK;
}

/* gate: the fused ReLU's output, or NULL without one */
static fk_status backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma, const fk_tensor *dbeta,
                          fk_tensor dout, const fk_tensor *gate, fk_tensor in, fk_tensor gamma,
                          fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d)
{
    FK_TRY(check_dims(d, true));
    if (!din && !dgamma && !dbeta)
        return FK_OK;
    cl_kernel k;
    size_t gl[2];
    const fk_tensor g = gate ? *gate : dout; /* a skipped gate still needs a valid argument */
    cl_mem views[3] = {NULL, NULL, NULL};
    FK_TRY(backward_views(rt, in, dout, g, d, views));
    if (views[0] && views[1] && views[2]) {
        FK_TRY(bn_kernel(rt, FK_K_BN_BACKWARD_T4, d, &k, gl));
        FK_RUN(rt, k, 1, &gl[0], &gl[1], FK_T(din ? *din : dout), FK_T(dgamma ? *dgamma : dout),
               FK_T(dbeta ? *dbeta : dout), FK_A(views[1]), FK_A((int)(dout.off / 4)), FK_A(views[2]),
               FK_A((int)(g.off / 4)), FK_A(views[0]), FK_A((int)(in.off / 4)), FK_T(gamma), FK_T(save_mean),
               FK_T(save_invstd), FK_A(d->n), FK_A(d->c), FK_A(d->h * d->w), FK_A(din ? 1 : 0),
               FK_A(dgamma ? 1 : 0), FK_A(dbeta ? 1 : 0), FK_A(gate ? 1 : 0));
        return FK_OK;
    }
    FK_TRY(bn_kernel(rt, rt->dev.is_cpu ? FK_K_BN_BACKWARD_IMG : FK_K_BN_BACKWARD, d, &k, gl));
    /* a skipped gradient still needs a valid buffer argument: dout stands in */
    FK_RUN(rt, k, 1, &gl[0], &gl[1], FK_T(din ? *din : dout), FK_T(dgamma ? *dgamma : dout),
           FK_T(dbeta ? *dbeta : dout), FK_T(dout), FK_T(g), FK_T(in), FK_T(gamma),
           FK_T(save_mean), FK_T(save_invstd), FK_A(d->n), FK_A(d->c), FK_A(d->h * d->w), FK_A(din ? 1 : 0),
           FK_A(dgamma ? 1 : 0), FK_A(dbeta ? 1 : 0), FK_A(gate ? 1 : 0));
    return FK_OK;
}

fk_status fk_bn_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma,
                         const fk_tensor *dbeta, fk_tensor dout, fk_tensor in, fk_tensor gamma,
                         fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d)
{
    return backward(rt, din, dgamma, dbeta, dout, NULL, in, gamma, save_mean, save_invstd, d);
}

fk_status fk_bn_relu_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma,
                              const fk_tensor *dbeta, fk_tensor dout, fk_tensor out, fk_tensor in,
                              fk_tensor gamma, fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d)
{
    return backward(rt, din, dgamma, dbeta, dout, &out, in, gamma, save_mean, save_invstd, d);
}
