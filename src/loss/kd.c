/* KD (Hinton et al.): T^2 * mean over the batch of KL(softmax(t/T) || softmax(s/T))
 * (cl/loss.cl kd_forward). */
#include "loss/loss_internal.h"

fk_status fk_kd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                     fk_tensor teacher, int n, int c, float temperature, float weight, fk_tensor work)
{
    const char *who = "fk_kd_loss";
    FK_TRY(fk_loss_check_dims(who, n, c));
    if (!(temperature > 0.0f))
        return fk_error(FK_ERR_ARG, "%s: temperature %g must be positive", who, (double)temperature);
    FK_TRY(fk_loss_check_logits(who, n, c, &value, "student", &student, &teacher, &work, dlogits));

    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_KD_FORWARD, &k));
    const float T = temperature;
    FK_LOSS_RUN(rt, k, n, FK_T(student), FK_T(teacher), FK_T(work), FK_LOSS_GRAD(dlogits, student), FK_A(c),
                FK_A(T), FK_A(weight * T / (float)n));
    return fk_loss_mean(rt, value, work, n, T * T / (float)n);
}
