/* DKD (Decoupled Knowledge Distillation, Zhao et al., CVPR 2022), as
 * mdistiller's dkd_loss: alpha * TCKD + beta * NCKD, each KL * T^2 / N
 * (cl/loss.cl dkd_forward). */
#include "loss/loss_internal.h"

fk_status fk_dkd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                      fk_tensor teacher, cl_mem labels, size_t labels_off, int n, int c, float alpha,
                      float beta, float temperature, float weight, fk_tensor work)
{
    const char *who = "fk_dkd_loss";
    FK_TRY(fk_loss_check_dims(who, n, c));
    if (c < 2)
        return fk_error(FK_ERR_ARG, "%s: %d class: DKD needs at least 2", who, c);
    if (!(temperature > 0.0f))
        return fk_error(FK_ERR_ARG, "%s: temperature %g must be positive", who, (double)temperature);
    FK_TRY(fk_loss_check_logits(who, n, c, &value, "student", &student, &teacher, &work, dlogits));
    if (!labels)
        return fk_error(FK_ERR_ARG, "%s: labels have no buffer", who);

    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_DKD_FORWARD, &k));
    const float T = temperature;
    FK_LOSS_RUN(rt, k, n, FK_T(student), FK_T(teacher), FK_A(labels), FK_A(labels_off), FK_T(work),
                FK_LOSS_GRAD(dlogits, student), FK_A(c), FK_A(T), FK_A(alpha), FK_A(beta),
                FK_A(weight * T / (float)n));
    return fk_loss_mean(rt, value, work, n, T * T / (float)n);
}
