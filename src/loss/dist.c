/* DIST (Huang et al. 2022): inter- and intra-class Pearson correlation of the
 * softened predictions (cl/dist.cl). Three kernels in queue order, one per
 * launch function below: rows (softmaxes, row correlations and their
 * gradient), columns (column correlations, gradient added), backward
 * (softmax backward into dlogits); then the value is the fixed-order sum
 * of the per-row and per-column terms (cl/loss.cl loss_mean). */
#include "loss/loss_internal.h"

#include <limits.h>

size_t fk_dist_work(int n, int c)
{
    if (n <= 0 || c <= 0)
        return 0;
    return 3 * (size_t)n * (size_t)c + (size_t)n + (size_t)c;
}

static fk_status dist_launch_1d(fk_runtime *rt, cl_kernel k, int count, int line)
{
    size_t global = (size_t)count;
    return fk_launch(rt, k, 1, &global, NULL, __FILE__, line);
}

/* P, Q, row terms T^2 beta (1 - r_i) / N and G = -T^2 beta / N * d r_i / d P */
static fk_status dist_rows(fk_runtime *rt, fk_tensor student, fk_tensor teacher, fk_tensor work, int n,
                           int c, float T, float beta, int has_grad)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "dist", "", "dist_rows", &k));
    cl_ulong s_off = student.off, t_off = teacher.off, w_off = work.off;
    cl_int nn = n, cc = c, g = has_grad;
    float term_scale = T * T * beta / (float)n, grad_scale = -term_scale;
    FK_ARG(k, 0, student.buf);
    FK_ARG(k, 1, s_off);
    FK_ARG(k, 2, teacher.buf);
    FK_ARG(k, 3, t_off);
    FK_ARG(k, 4, work.buf);
    FK_ARG(k, 5, w_off);
    FK_ARG(k, 6, nn);
    FK_ARG(k, 7, cc);
    FK_ARG(k, 8, T);
    FK_ARG(k, 9, term_scale);
    FK_ARG(k, 10, grad_scale);
    FK_ARG(k, 11, g);
    return dist_launch_1d(rt, k, n, __LINE__);
}

/* column terms T^2 gamma (1 - r_j) / C; G += -T^2 gamma / C * d r_j / d P */
static fk_status dist_cols(fk_runtime *rt, fk_tensor work, int n, int c, float T, float gamma, int has_grad)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "dist", "", "dist_cols", &k));
    cl_ulong w_off = work.off;
    cl_int nn = n, cc = c, g = has_grad;
    float term_scale = T * T * gamma / (float)c, grad_scale = -term_scale;
    FK_ARG(k, 0, work.buf);
    FK_ARG(k, 1, w_off);
    FK_ARG(k, 2, nn);
    FK_ARG(k, 3, cc);
    FK_ARG(k, 4, term_scale);
    FK_ARG(k, 5, grad_scale);
    FK_ARG(k, 6, g);
    return dist_launch_1d(rt, k, c, __LINE__);
}

/* dlogits += weight / T * P * (G - <P, G>) row by row */
static fk_status dist_backward(fk_runtime *rt, fk_tensor dlogits, fk_tensor work, int n, int c, float T,
                               float weight)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "dist", "", "dist_backward", &k));
    cl_ulong w_off = work.off, d_off = dlogits.off;
    cl_int nn = n, cc = c;
    float gscale = weight / T;
    FK_ARG(k, 0, work.buf);
    FK_ARG(k, 1, w_off);
    FK_ARG(k, 2, dlogits.buf);
    FK_ARG(k, 3, d_off);
    FK_ARG(k, 4, nn);
    FK_ARG(k, 5, cc);
    FK_ARG(k, 6, gscale);
    return dist_launch_1d(rt, k, n, __LINE__);
}

fk_status fk_dist_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                       fk_tensor teacher, int n, int c, float temperature, float beta, float gamma,
                       float weight, fk_tensor work)
{
    const char *who = "fk_dist_loss";
    size_t nc = (size_t)n * (size_t)c;
    FK_TRY(fk_loss_check_dims(who, n, c));
    if ((long long)n + c > INT_MAX)
        return fk_error(FK_ERR_ARG, "%s: batch %d + classes %d is too large", who, n, c);
    if (!(temperature > 0.0f))
        return fk_error(FK_ERR_ARG, "%s: temperature %g must be positive", who, (double)temperature);
    FK_TRY(fk_loss_check_tensor(who, "value", &value, 1));
    FK_TRY(fk_loss_check_tensor(who, "student", &student, nc));
    FK_TRY(fk_loss_check_tensor(who, "teacher", &teacher, nc));
    FK_TRY(fk_loss_check_tensor(who, "work", &work, fk_dist_work(n, c)));
    if (dlogits)
        FK_TRY(fk_loss_check_tensor(who, "dlogits", dlogits, nc));

    int has_grad = dlogits != NULL;
    FK_TRY(dist_rows(rt, student, teacher, work, n, c, temperature, beta, has_grad));
    FK_TRY(dist_cols(rt, work, n, c, temperature, gamma, has_grad));
    if (has_grad)
        FK_TRY(dist_backward(rt, *dlogits, work, n, c, temperature, weight));
    /* value = sum of the N row terms and C column terms after P, Q, G */
    fk_tensor terms = work;
    terms.off += 3 * nc;
    terms.ndim = 0;
    return fk_loss_mean(rt, value, terms, n + c, 1.0f);
}
