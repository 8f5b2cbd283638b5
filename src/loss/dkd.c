/* DKD (Decoupled Knowledge Distillation, Zhao et al., CVPR 2022), as
 * mdistiller's dkd_loss: alpha * TCKD + beta * NCKD, each KL * T^2 / N
 * (cl/loss.cl dkd_forward). */
#include "loss/loss_internal.h"

fk_status fk_dkd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                      fk_tensor teacher, cl_mem labels, size_t labels_off, int n, int c, float alpha,
                      float beta, float temperature, float weight, fk_tensor work)
{
    const char *who = "fk_dkd_loss";
    size_t nc = (size_t)n * (size_t)c;
    FK_TRY(fk_loss_check_dims(who, n, c));
    if (c < 2)
        return fk_error(FK_ERR_ARG, "%s: %d class: DKD needs at least 2", who, c);
    if (!(temperature > 0.0f))
        return fk_error(FK_ERR_ARG, "%s: temperature %g must be positive", who, (double)temperature);
    FK_TRY(fk_loss_check_tensor(who, "value", &value, 1));
    FK_TRY(fk_loss_check_tensor(who, "student", &student, nc));
    FK_TRY(fk_loss_check_tensor(who, "teacher", &teacher, nc));
    FK_TRY(fk_loss_check_tensor(who, "work", &work, fk_loss_work(n, c)));
    if (dlogits)
        FK_TRY(fk_loss_check_tensor(who, "dlogits", dlogits, nc));
    if (!labels)
        return fk_error(FK_ERR_ARG, "%s: labels have no buffer", who);

    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "loss", "", "dkd_forward", &k));
    cl_ulong s_off = student.off, t_off = teacher.off, l_off = labels_off, w_off = work.off;
    cl_ulong d_off = dlogits ? dlogits->off : 0;
    cl_mem d_buf = dlogits ? dlogits->buf : student.buf;
    cl_int has_grad = dlogits != NULL, cc = c;
    float T = temperature, gscale = weight * T / (float)n;
    FK_ARG(k, 0, student.buf);
    FK_ARG(k, 1, s_off);
    FK_ARG(k, 2, teacher.buf);
    FK_ARG(k, 3, t_off);
    FK_ARG(k, 4, labels);
    FK_ARG(k, 5, l_off);
    FK_ARG(k, 6, work.buf);
    FK_ARG(k, 7, w_off);
    FK_ARG(k, 8, d_buf);
    FK_ARG(k, 9, d_off);
    FK_ARG(k, 10, has_grad);
    FK_ARG(k, 11, cc);
    FK_ARG(k, 12, T);
    FK_ARG(k, 13, alpha);
    FK_ARG(k, 14, beta);
    FK_ARG(k, 15, gscale);
    FK_TRY(fk_loss_launch_rows(rt, k, n, __FILE__, __LINE__));
    return fk_loss_mean(rt, value, work, n, T * T / (float)n);
}
