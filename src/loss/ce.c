/* Softmax cross-entropy from logits, mean over the batch (cl/loss.cl ce_forward). */
#include "loss/loss_internal.h"

fk_status fk_ce_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor logits,
                     cl_mem labels, size_t labels_off, int n, int c, float weight, fk_tensor work)
{
    const char *who = "fk_ce_loss";
    size_t nc = (size_t)n * (size_t)c;
    FK_TRY(fk_loss_check_dims(who, n, c));
    FK_TRY(fk_loss_check_tensor(who, "value", &value, 1));
    FK_TRY(fk_loss_check_tensor(who, "logits", &logits, nc));
    FK_TRY(fk_loss_check_tensor(who, "work", &work, fk_loss_work(n, c)));
    if (dlogits)
        FK_TRY(fk_loss_check_tensor(who, "dlogits", dlogits, nc));
    if (!labels)
        return fk_error(FK_ERR_ARG, "%s: labels have no buffer", who);

    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "loss", "", "ce_forward", &k));
    cl_ulong x_off = logits.off, l_off = labels_off, w_off = work.off;
    cl_ulong d_off = dlogits ? dlogits->off : 0;
    cl_mem d_buf = dlogits ? dlogits->buf : logits.buf;
    cl_int has_grad = dlogits != NULL, cc = c;
    float gscale = weight / (float)n;
    FK_ARG(k, 0, logits.buf);
    FK_ARG(k, 1, x_off);
    FK_ARG(k, 2, labels);
    FK_ARG(k, 3, l_off);
    FK_ARG(k, 4, work.buf);
    FK_ARG(k, 5, w_off);
    FK_ARG(k, 6, d_buf);
    FK_ARG(k, 7, d_off);
    FK_ARG(k, 8, has_grad);
    FK_ARG(k, 9, cc);
    FK_ARG(k, 10, gscale);
    FK_TRY(fk_loss_launch_rows(rt, k, n, __FILE__, __LINE__));
    return fk_loss_mean(rt, value, work, n, 1.0f / (float)n);
}
