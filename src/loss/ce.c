/* Softmax cross-entropy from logits, mean over the batch (cl/loss.cl ce_forward). */
#include "loss/loss_internal.h"

fk_status fk_ce_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor logits,
                     cl_mem labels, size_t labels_off, int n, int c, float weight, fk_tensor work)
{
    const char *who = "fk_ce_loss";
    FK_TRY(fk_loss_check_dims(who, n, c));
    FK_TRY(fk_loss_check_logits(who, n, c, &value, "logits", &logits, NULL, &work, dlogits));
    if (!labels)
        return fk_error(FK_ERR_ARG, "%s: labels have no buffer", who);

    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_CE_FORWARD, &k));
    FK_LOSS_RUN(rt, k, n, FK_T(logits), FK_A(labels), FK_A(labels_off), FK_T(work), FK_LOSS_GRAD(dlogits, logits),
                FK_A(c), FK_A(weight / (float)n));
    return fk_loss_mean(rt, value, work, n, 1.0f / (float)n);
}
