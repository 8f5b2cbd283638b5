/* MLKD (Jin, Wang, Lin, CVPR 2023): instance-, class- and batch-level
 * alignment of the softened predictions over several temperatures, with the
 * teacher-confidence shares of the authors' code (cl/mlkd.cl has the
 * definitions and the work layout). Kernels in queue order: probs (P, Q and
 * the KD row terms); on the weak view conf, cls and mask (the shares m, mc),
 * cc and bc (the correlation matrices and their row terms); grad (into
 * dlogits) and value (the fixed-order sum). */
#include "loss/loss_internal.h"

#include <limits.h>
#include <math.h>

size_t fk_mlkd_work(int n, int c)
{
    if (n <= 0 || c <= 0)
        return 0;
    size_t N = (size_t)n, C = (size_t)c, K = FK_MLKD_TEMPS;
    return 2 * K * N * C + K * C * C + K * N * N + K * (2 * N + C) + 3 * N * C + 4 * N + 2 * C + 2;
}

fk_status fk_mlkd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                       fk_tensor teacher, int n, int c, const float temps[FK_MLKD_TEMPS], int view, int standardize,
                       float weight, fk_tensor work)
{
    const char *who = "fk_mlkd_loss";
    size_t nc = (size_t)n * (size_t)c;
    FK_TRY(fk_loss_check_dims(who, n, c));
    if ((long long)c * c * FK_MLKD_TEMPS > INT_MAX || (long long)n * n * FK_MLKD_TEMPS > INT_MAX)
        return fk_error(FK_ERR_ARG, "%s: batch %d or classes %d is too large", who, n, c);
    for (int k = 0; k < FK_MLKD_TEMPS; k++)
        if (!(temps[k] > 0.0f) || !isfinite(temps[k]))
            return fk_error(FK_ERR_ARG, "%s: temperature %g must be positive", who, (double)temps[k]);
    if (view != 0 && view != 1)
        return fk_error(FK_ERR_ARG, "%s: view %d (0: weak, 1: strong)", who, view);
    if (standardize && c < 2)
        return fk_error(FK_ERR_ARG, "%s: standardised logits need 2 classes or more", who);
    FK_TRY(fk_loss_check_tensor(who, "value", &value, 1));
    FK_TRY(fk_loss_check_tensor(who, "student", &student, nc));
    FK_TRY(fk_loss_check_tensor(who, "teacher", &teacher, nc));
    FK_TRY(fk_loss_check_tensor(who, "work", &work, fk_mlkd_work(n, c)));
    if (dlogits)
        FK_TRY(fk_loss_check_tensor(who, "dlogits", dlogits, nc));

    const float *T = temps;
    int stand = standardize ? 1 : 0;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_MLKD_PROBS, &k));
    FK_RUN_1D(rt, k, (size_t)n * FK_MLKD_TEMPS, FK_T(student), FK_T(teacher), FK_T(work), FK_A(n), FK_A(c),
              FK_A(T[0]), FK_A(T[1]), FK_A(T[2]), FK_A(T[3]), FK_A(T[4]), FK_A(stand));
    if (view == 0) {
        FK_TRY(fk_kernel(rt, FK_K_MLKD_CONF, &k));
        FK_RUN_1D(rt, k, (size_t)n, FK_T(teacher), FK_T(work), FK_A(n), FK_A(c));
        FK_TRY(fk_kernel(rt, FK_K_MLKD_CLS, &k));
        FK_RUN_1D(rt, k, (size_t)c, FK_T(teacher), FK_T(work), FK_A(n), FK_A(c));
        FK_TRY(fk_kernel(rt, FK_K_MLKD_MASK, &k));
        FK_RUN_1D(rt, k, 1, FK_T(work), FK_A(n), FK_A(c));
        FK_TRY(fk_kernel(rt, FK_K_MLKD_CC, &k));
        FK_RUN_1D(rt, k, (size_t)c * FK_MLKD_TEMPS, FK_T(work), FK_A(n), FK_A(c));
        FK_TRY(fk_kernel(rt, FK_K_MLKD_BC, &k));
        FK_RUN_1D(rt, k, (size_t)n * FK_MLKD_TEMPS, FK_T(work), FK_A(n), FK_A(c));
    }
    /* one temperature per launch, the correlations' part over (i, b):
     * every work-item's loops stay short (llvmpipe's loop limit) */
    for (int kt = 0; dlogits && kt < FK_MLKD_TEMPS; kt++) {
        if (view == 0) {
            FK_TRY(fk_kernel(rt, FK_K_MLKD_CORR_GRAD, &k));
            FK_RUN(rt, k, 2, ((size_t[]){(size_t)n, (size_t)c}), NULL, FK_T(work), FK_A(n), FK_A(c), FK_A(kt));
        }
        FK_TRY(fk_kernel(rt, FK_K_MLKD_GRAD, &k));
        FK_RUN_1D(rt, k, (size_t)n, FK_T(student), FK_T(teacher), FK_T(work), FK_T(*dlogits), FK_A(n), FK_A(c),
                  FK_A(T[0]), FK_A(T[1]), FK_A(T[2]), FK_A(T[3]), FK_A(T[4]), FK_A(stand), FK_A(view),
                  FK_A(weight), FK_A(kt));
    }
    FK_TRY(fk_kernel(rt, FK_K_MLKD_VALUE, &k));
    FK_RUN_1D(rt, k, 1, FK_T(work), FK_T(value), FK_A(n), FK_A(c), FK_A(view));
    return FK_OK;
}
