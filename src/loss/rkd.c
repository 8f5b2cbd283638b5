/* RKD (relational knowledge distillation) on embeddings (cl/rkd.cl): the
 * pairwise distances of both embeddings, the distance term (one
 * work-item: the means couple every pair), its backward, the unit
 * difference vectors of both, the angle terms with their gradient, the
 * angle backward; the value is the fixed-order sum of the N^2 angle terms
 * and the distance term (cl/loss.cl loss_mean). */
#include "loss/loss_internal.h"

#include <limits.h>

size_t fk_rkd_work(int n, int ds, int dt)
{
    if (n <= 0 || ds <= 0 || dt <= 0)
        return 0;
    size_t NN = (size_t)n * (size_t)n;
    return 4 * NN + 5 + NN * (2 * (size_t)ds + (size_t)dt);
}

fk_status fk_rkd_loss(fk_runtime *rt, fk_tensor value, fk_tensor student, const fk_tensor *dstudent,
                      fk_tensor teacher, float distance_weight, float angle_weight, float weight, fk_tensor work)
{
    const char *who = "fk_rkd_loss";
    int N = student.shape[0];
    int Ds = (int)(fk_tensor_numel(&student) / (N > 0 ? (size_t)N : 1));
    int Dt = (int)(fk_tensor_numel(&teacher) / (N > 0 ? (size_t)N : 1));
    if (N < 2 || teacher.shape[0] != N || Ds <= 0 || Dt <= 0)
        return fk_error(FK_ERR_ARG, "%s: student (%d, %d) and teacher (%d, %d) embeddings (batch 2 or more)", who,
                        N, Ds, teacher.shape[0], Dt);
    int D = Ds > Dt ? Ds : Dt;
    if ((long long)N * N * D > INT_MAX)
        return fk_error(FK_ERR_ARG, "%s: batch %d x %d is too large", who, N, D);
    FK_TRY(fk_loss_check_tensor(who, "value", &value, 1));
    FK_TRY(fk_loss_check_tensor(who, "work", &work, fk_rkd_work(N, Ds, Dt)));
    if (dstudent)
        FK_TRY(fk_loss_check_tensor(who, "dstudent", dstudent, (size_t)N * Ds));
    size_t NN = (size_t)N * N;
    fk_tensor ds = work, dt = work, us = work, ut = work;
    dt.off += NN;
    us.off += 4 * NN + 5;
    ut.off = us.off + NN * Ds;
    int has_grad = dstudent != NULL;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_RKD_PDIST, &k));
    FK_RUN_1D(rt, k, NN, FK_T(student), FK_T(ds), FK_A(N), FK_A(Ds));
    FK_RUN_1D(rt, k, NN, FK_T(teacher), FK_T(dt), FK_A(N), FK_A(Dt));
    FK_TRY(fk_kernel(rt, FK_K_RKD_DIST_TERM, &k));
    FK_RUN_1D(rt, k, 1, FK_T(work), FK_A(N), FK_A(distance_weight));
    if (has_grad) {
        FK_TRY(fk_kernel(rt, FK_K_RKD_DIST_BACKWARD, &k));
        FK_RUN_1D(rt, k, (size_t)N, FK_T(student), FK_T(*dstudent), FK_T(work), FK_A(N), FK_A(Ds),
                  FK_A(weight * distance_weight));
    }
    FK_TRY(fk_kernel(rt, FK_K_RKD_UNIT, &k));
    FK_RUN_1D(rt, k, NN, FK_T(student), FK_T(us), FK_A(N), FK_A(Ds));
    FK_RUN_1D(rt, k, NN, FK_T(teacher), FK_T(ut), FK_A(N), FK_A(Dt));
    FK_TRY(fk_kernel(rt, FK_K_RKD_ANGLE, &k));
    FK_RUN_1D(rt, k, NN, FK_T(student), FK_T(work), FK_A(N), FK_A(Ds), FK_A(Dt), FK_A(angle_weight), FK_A(weight),
              FK_A(has_grad));
    if (has_grad) {
        FK_TRY(fk_kernel(rt, FK_K_RKD_ANGLE_BACKWARD, &k));
        FK_RUN_1D(rt, k, (size_t)N * Ds, FK_T(*dstudent), FK_T(work), FK_A(N), FK_A(Ds), FK_A(Dt));
    }
    fk_tensor terms = work;
    terms.off += 3 * NN + 4;
    terms.ndim = 0;
    return fk_loss_mean(rt, value, terms, (int)NN + 1, 1.0f);
}
