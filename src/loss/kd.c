/* KD (Hinton et al.): T^2 * mean over the batch of KL(softmax(t/T) || softmax(s/T))
 * (cl/loss.cl kd_forward). */
#include "loss/loss_internal.h"

fk_status fk_kd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                     fk_tensor teacher, int n, int c, float temperature, float weight, fk_tensor work)
{
    const char *who = "fk_kd_loss";
    size_t nc = (size_t)n * (size_t)c;
    FK_TRY(fk_loss_check_dims(who, n, c));
    if (!(temperature > 0.0f))
        return fk_error(FK_ERR_ARG, "%s: temperature %g must be positive", who, (double)temperature);
    FK_TRY(fk_loss_check_tensor(who, "value", &value, 1));
    FK_TRY(fk_loss_check_tensor(who, "student", &student, nc));
    FK_TRY(fk_loss_check_tensor(who, "teacher", &teacher, nc));
    FK_TRY(fk_loss_check_tensor(who, "work", &work, fk_loss_work(n, c)));
    if (dlogits)
        FK_TRY(fk_loss_check_tensor(who, "dlogits", dlogits, nc));

    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "loss", "", "kd_forward", &k));
    cl_ulong s_off = student.off, t_off = teacher.off, w_off = work.off;
    cl_ulong d_off = dlogits ? dlogits->off : 0;
    cl_mem d_buf = dlogits ? dlogits->buf : student.buf;
    cl_int has_grad = dlogits != NULL, cc = c;
    float T = temperature, gscale = weight * T / (float)n;
    FK_ARG(k, 0, student.buf);
    FK_ARG(k, 1, s_off);
    FK_ARG(k, 2, teacher.buf);
    FK_ARG(k, 3, t_off);
    FK_ARG(k, 4, work.buf);
    FK_ARG(k, 5, w_off);
    FK_ARG(k, 6, d_buf);
    FK_ARG(k, 7, d_off);
    FK_ARG(k, 8, has_grad);
    FK_ARG(k, 9, cc);
    FK_ARG(k, 10, T);
    FK_ARG(k, 11, gscale);
    FK_TRY(fk_loss_launch_rows(rt, k, n, __FILE__, __LINE__));
    return fk_loss_mean(rt, value, work, n, T * T / (float)n);
}
