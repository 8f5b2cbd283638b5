/* Batch norm with the statistics of every replica's batch (SyncBatchNorm),
 * alone or with a ReLU fused in, include/figkd/ops.h. The per-channel sums
 * are taken on the host in double precision and summed over the replicas;
 * the output is applied on the device by the eval-mode kernel with the
 * global mean and variance. */
#include "figkd/ops.h"

#include <math.h>
#include <stdlib.h>

/* A tensor's n floats to the host (allocated; free it). */
static fk_status fetch(fk_runtime *rt, fk_tensor t, size_t n, float **out)
{
    *out = fk_malloc((n ? n : 1) * sizeof(float));
    if (!*out)
        return FK_ERR_NOMEM;
    return fk_buffer_read(rt, t.buf, t.off * sizeof(float), n * sizeof(float), *out);
}

static fk_status store(fk_runtime *rt, fk_tensor t, size_t n, const float *h)
{
    return fk_buffer_write(rt, t.buf, t.off * sizeof(float), n * sizeof(float), h);
}

/* relu: a ReLU fused in (its output in out) */
static fk_status forward_train(const fk_replicas *r, fk_runtime *rt, fk_tensor out, fk_tensor save_mean,
                               fk_tensor save_invstd, fk_tensor in, fk_tensor gamma, fk_tensor beta,
                               fk_tensor running_mean, fk_tensor running_var, fk_tensor num_batches, bool relu,
                               const fk_bn_dims *d)
{
    const int C = d->c;
    const size_t hw = (size_t)d->h * d->w, n = (size_t)d->n * C * hw;
    float *x = NULL, *h = NULL;
    double *s = fk_calloc(2 * (size_t)C + 1, sizeof(double));
    fk_status st = s ? fetch(rt, in, n, &x) : FK_ERR_NOMEM;
    if (!st && !(h = fk_malloc((4 * (size_t)C + 1) * sizeof(float))))
        st = FK_ERR_NOMEM;
    if (st)
        goto out;
    /* two passes, as the single-process kernel: the mean, then the
     * squared deviations from it */
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < C; c++) {
            const float *p = x + ((size_t)i * C + c) * hw;
            double a = 0;
            for (size_t k = 0; k < hw; k++)
                a += p[k];
            s[c] += a;
        }
    s[2 * C] = (double)d->n * (double)hw;
    if ((st = r->sum(r->ctx, s, 2 * (size_t)C + 1)))
        goto out;
    double m = s[2 * C];
    if (m < 2) {
        st = fk_error(FK_ERR_ARG, "batchnorm: train mode needs more than 1 value per channel");
        goto out;
    }
    for (int c = 0; c < C; c++)
        s[c] /= m;
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < C; c++) {
            const float *p = x + ((size_t)i * C + c) * hw;
            double a = 0;
            for (size_t k = 0; k < hw; k++)
                a += ((double)p[k] - s[c]) * ((double)p[k] - s[c]);
            s[C + c] += a;
        }
    if ((st = r->sum(r->ctx, s + C, (size_t)C)))
        goto out;
    float *mean = h, *var = h + C, *rm = h + 2 * C, *rv = h + 3 * C, *nb = h + 4 * C;
    for (int c = 0; c < C; c++) {
        mean[c] = (float)s[c];
        var[c] = (float)(s[C + c] / m);
    }
    /* the output with the global statistics (eval-mode kernel: mean and
     * variance in save_mean and save_invstd, then invstd stored over it) */
    if ((st = store(rt, save_mean, (size_t)C, mean)) || (st = store(rt, save_invstd, (size_t)C, var)))
        goto out;
    if ((st = (relu ? fk_bn_relu_forward_eval : fk_bn_forward_eval)(rt, out, in, gamma, beta, save_mean,
                                                                     save_invstd, d)))
        goto out;
    if ((st = fk_buffer_read(rt, running_mean.buf, running_mean.off * sizeof(float), (size_t)C * sizeof(float), rm)) ||
        (st = fk_buffer_read(rt, running_var.buf, running_var.off * sizeof(float), (size_t)C * sizeof(float), rv)) ||
        (st = fk_buffer_read(rt, num_batches.buf, num_batches.off * sizeof(float), sizeof(float), nb)))
        goto out;
    float mo = d->momentum;
    for (int c = 0; c < C; c++) {
        rm[c] = (1.0f - mo) * rm[c] + mo * mean[c];
        rv[c] = (1.0f - mo) * rv[c] + mo * (float)(s[C + c] / (m - 1));
        var[c] = (float)(1.0 / sqrt(s[C + c] / m + (double)d->eps));
    }
    nb[0] += 1.0f;
    if (!(st = store(rt, save_invstd, (size_t)C, var)) && !(st = store(rt, running_mean, (size_t)C, rm)) &&
        !(st = store(rt, running_var, (size_t)C, rv)))
        st = store(rt, num_batches, 1, nb);
out:
    free(s);
    free(x);
    free(h);
    return st;
}

fk_status fk_bn_forward_train_sync(const fk_replicas *r, fk_runtime *rt, fk_tensor out, fk_tensor save_mean,
                                   fk_tensor save_invstd, fk_tensor in, fk_tensor gamma, fk_tensor beta,
                                   fk_tensor running_mean, fk_tensor running_var, fk_tensor num_batches,
                                   const fk_bn_dims *d)
{
    return forward_train(r, rt, out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var,
                         num_batches, false, d);
}

fk_status fk_bn_relu_forward_train_sync(const fk_replicas *r, fk_runtime *rt, fk_tensor out, fk_tensor save_mean,
                                        fk_tensor save_invstd, fk_tensor in, fk_tensor gamma, fk_tensor beta,
                                        fk_tensor running_mean, fk_tensor running_var, fk_tensor num_batches,
                                        const fk_bn_dims *d)
{
    return forward_train(r, rt, out, save_mean, save_invstd, in, gamma, beta, running_mean, running_var,
                         num_batches, true, d);
}

/* gate: a fused ReLU's output (dout is its gradient), or NULL */
static fk_status backward(const fk_replicas *r, fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma,
                          const fk_tensor *dbeta, fk_tensor dout, const fk_tensor *gate, fk_tensor in,
                          fk_tensor gamma, fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d)
{
    const int C = d->c;
    const size_t hw = (size_t)d->h * d->w, n = (size_t)d->n * C * hw;
    float *x = NULL, *dy = NULL, *dx = NULL, *h = NULL;
    double *s = fk_calloc(4 * (size_t)C + 1, sizeof(double));
    fk_status st = s ? FK_OK : FK_ERR_NOMEM;
    if (!st)
        st = fetch(rt, in, n, &x);
    if (!st)
        st = fetch(rt, dout, n, &dy);
    if (!st && gate) {
        /* the BN's gradient as the unfused ReLU's backward leaves it in a
         * zeroed buffer (fk_relu_backward): 0 + dy where y > 0, else 0 */
        float *y = NULL;
        if (!(st = fetch(rt, *gate, n, &y)))
            for (size_t i = 0; i < n; i++)
                dy[i] = y[i] > 0.0f ? 0.0f + dy[i] : 0.0f;
        free(y);
    }
    if (!st && !(h = fk_malloc(5 * (size_t)C * sizeof(float))))
        st = FK_ERR_NOMEM;
    float *g = h, *mean = h + C, *invstd = h + 2 * C, *pg = h + 3 * C;
    if (!st && !(st = fk_buffer_read(rt, gamma.buf, gamma.off * sizeof(float), (size_t)C * sizeof(float), g)) &&
        !(st = fk_buffer_read(rt, save_mean.buf, save_mean.off * sizeof(float), (size_t)C * sizeof(float), mean)))
        st = fk_buffer_read(rt, save_invstd.buf, save_invstd.off * sizeof(float), (size_t)C * sizeof(float), invstd);
    if (st)
        goto out;
    /* s[c]: sum dy, s[C + c]: sum dy * xhat over this rank; s[2C..4C) the
     * same over all ranks, s[4C] the samples of all ranks */
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < C; c++) {
            size_t at = ((size_t)i * C + c) * hw;
            double a = 0, b = 0;
            for (size_t k = 0; k < hw; k++) {
                a += dy[at + k];
                b += (double)dy[at + k] * (((double)x[at + k] - mean[c]) * invstd[c]);
            }
            s[c] += a;
            s[C + c] += b;
        }
    for (int c = 0; c < 2 * C; c++)
        s[2 * C + c] = s[c];
    s[4 * C] = (double)d->n * (double)hw;
    if ((st = r->sum(r->ctx, s + 2 * C, 2 * (size_t)C + 1)))
        goto out;
    double m = s[4 * C];
    const fk_tensor *pt[2] = {dgamma, dbeta};
    for (int j = 0; j < 2; j++) {
        if (!pt[j])
            continue;
        fk_tensor t = *pt[j];
        if ((st = fk_buffer_read(rt, t.buf, t.off * sizeof(float), (size_t)C * sizeof(float), pg)))
            goto out;
        for (int c = 0; c < C; c++)
            pg[c] += (float)s[(j == 0 ? C : 0) + c];
        if ((st = store(rt, t, (size_t)C, pg)))
            goto out;
    }
    if (!din)
        goto out;
    if ((st = fetch(rt, *din, n, &dx)))
        goto out;
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < C; c++) {
            size_t at = ((size_t)i * C + c) * hw;
            double k = (double)g[c] * invstd[c], mdy = s[2 * C + c] / m, mdx = s[3 * C + c] / m;
            for (size_t q = 0; q < hw; q++) {
                double xhat = ((double)x[at + q] - mean[c]) * invstd[c];
                dx[at + q] += (float)(k * ((double)dy[at + q] - mdy - xhat * mdx));
            }
        }
    st = store(rt, *din, n, dx);
out:
    free(s);
    free(x);
    free(dy);
    free(dx);
    free(h);
    return st;
}

fk_status fk_bn_backward_sync(const fk_replicas *r, fk_runtime *rt, const fk_tensor *din, const fk_tensor *dgamma,
                              const fk_tensor *dbeta, fk_tensor dout, fk_tensor in, fk_tensor gamma,
                              fk_tensor save_mean, fk_tensor save_invstd, const fk_bn_dims *d)
{
    return backward(r, rt, din, dgamma, dbeta, dout, NULL, in, gamma, save_mean, save_invstd, d);
}

fk_status fk_bn_relu_backward_sync(const fk_replicas *r, fk_runtime *rt, const fk_tensor *din,
                                   const fk_tensor *dgamma, const fk_tensor *dbeta, fk_tensor dout, fk_tensor out,
                                   fk_tensor in, fk_tensor gamma, fk_tensor save_mean, fk_tensor save_invstd,
                                   const fk_bn_dims *d)
{
    return backward(r, rt, din, dgamma, dbeta, dout, &out, in, gamma, save_mean, save_invstd, d);
}
