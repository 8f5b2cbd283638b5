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

/* P, Q, row terms T^2 beta (1 - r_i) / N and G = -T^2 beta / N * d r_i / d P */
static fk_status dist_rows(fk_runtime *rt, fk_tensor student, fk_tensor teacher, fk_tensor work, int n,
                           int c, float T, float beta, int has_grad)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_DIST_ROWS, &k));
    const float term_scale = T * T * beta / (float)n;
    FK_RUN_1D(rt, k, (size_t)n, FK_T(student), FK_T(teacher), FK_T(work), FK_A(n), FK_A(c), FK_A(T),
              FK_A(term_scale), FK_A(-term_scale), FK_A(has_grad));
    return FK_OK;
}

/* column terms T^2 gamma (1 - r_j) / C; G += -T^2 gamma / C * d r_j / d P */
static fk_status dist_cols(fk_runtime *rt, fk_tensor work, int n, int c, float T, float gamma, int has_grad)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_DIST_COLS, &k));
    const float term_scale = T * T * gamma / (float)c;
    FK_RUN_1D(rt, k, (size_t)c, FK_T(work), FK_A(n), FK_A(c), FK_A(term_scale), FK_A(-term_scale),
              FK_A(has_grad));
    return FK_OK;
}

/* dlogits += weight / T * P * (G - <P, G>) row by row */
static fk_status dist_backward(fk_runtime *rt, fk_tensor dlogits, fk_tensor work, int n, int c, float T,
                               float weight)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_DIST_BACKWARD, &k));
    FK_RUN_1D(rt, k, (size_t)n, FK_T(work), FK_T(dlogits), FK_A(n), FK_A(c), FK_A(weight / T));
    return FK_OK;
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
