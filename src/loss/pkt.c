/* PKT (probabilistic knowledge transfer) on embeddings (cl/pkt.cl): both
 * embeddings scaled to unit rows, the per-row terms with the gradient of
 * the similarities, the gradient of the scaled rows, the backward into the
 * student's embedding; the value is the fixed-order sum of the row terms
 * (cl/loss.cl loss_mean). */
#include "loss/loss_internal.h"

#include <limits.h>

size_t fk_pkt_work(int n, int ds, int dt)
{
    if (n <= 0 || ds <= 0 || dt <= 0)
        return 0;
    size_t N = (size_t)n;
    return 2 * N + 2 * N * (size_t)ds + N * (size_t)dt + N * N;
}

static fk_status normalize(fk_runtime *rt, fk_tensor f, fk_tensor out, fk_tensor norms, int N, int D)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_PKT_NORMALIZE, &k));
    FK_RUN_1D(rt, k, (size_t)N, FK_T(f), FK_T(out), FK_T(norms), FK_A(N), FK_A(D));
    return FK_OK;
}

fk_status fk_pkt_loss(fk_runtime *rt, fk_tensor value, fk_tensor student, const fk_tensor *dstudent,
                      fk_tensor teacher, float weight, fk_tensor work)
{
    const char *who = "fk_pkt_loss";
    int N = student.shape[0], Ds = (int)(fk_tensor_numel(&student) / (N > 0 ? (size_t)N : 1)),
        Dt = (int)(fk_tensor_numel(&teacher) / (N > 0 ? (size_t)N : 1));
    if (N <= 0 || teacher.shape[0] != N || Ds <= 0 || Dt <= 0)
        return fk_error(FK_ERR_ARG, "%s: student (%d, %d) and teacher (%d, %d) embeddings", who, N, Ds,
                        teacher.shape[0], Dt);
    if ((long long)N * N > INT_MAX || (long long)N * Ds > INT_MAX)
        return fk_error(FK_ERR_ARG, "%s: batch %d x %d is too large", who, N, Ds);
    FK_TRY(fk_loss_check_tensor(who, "value", &value, 1));
    FK_TRY(fk_loss_check_tensor(who, "work", &work, fk_pkt_work(N, Ds, Dt)));
    if (dstudent)
        FK_TRY(fk_loss_check_tensor(who, "dstudent", dstudent, (size_t)N * Ds));
    fk_tensor norms = work, fs = work, ft = work;
    norms.off += (size_t)N;
    fs.off += 2 * (size_t)N;
    ft.off = fs.off + (size_t)N * Ds;
    FK_TRY(normalize(rt, teacher, ft, norms, N, Dt)); /* the teacher's norms are not kept */
    FK_TRY(normalize(rt, student, fs, norms, N, Ds));
    int has_grad = dstudent != NULL;
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_PKT_ROWS, &k));
    const float inv_nn = 1.0f / ((float)N * (float)N);
    FK_RUN_1D(rt, k, (size_t)N, FK_T(work), FK_A(N), FK_A(Ds), FK_A(Dt), FK_A(inv_nn), FK_A(weight),
              FK_A(has_grad));
    if (has_grad) {
        FK_TRY(fk_kernel(rt, FK_K_PKT_DFS, &k));
        FK_RUN_1D(rt, k, (size_t)N * Ds, FK_T(work), FK_A(N), FK_A(Ds), FK_A(Dt));
        FK_TRY(fk_kernel(rt, FK_K_PKT_BACKWARD, &k));
        FK_RUN_1D(rt, k, (size_t)N, FK_T(student), FK_T(*dstudent), FK_T(work), FK_A(N), FK_A(Ds), FK_A(Dt));
    }
    fk_tensor terms = work;
    terms.ndim = 0;
    return fk_loss_mean(rt, value, terms, N, 1.0f);
}
