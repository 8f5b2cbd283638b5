/* Evaluation metrics on the device (cl/metrics.cl). */
#include "figkd/ops.h"

fk_status fk_topk_hits(fk_runtime *rt, cl_mem acc, size_t acc_off, fk_tensor logits,
                       cl_mem labels, size_t labels_off, int n, int c)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "metrics", "", "topk_hits", &k));
    cl_ulong off = logits.off, l_off = labels_off, a_off = acc_off;
    cl_int nn = n, cc = c;
    FK_ARG(k, 0, logits.buf);
    FK_ARG(k, 1, off);
    FK_ARG(k, 2, nn);
    FK_ARG(k, 3, cc);
    FK_ARG(k, 4, labels);
    FK_ARG(k, 5, l_off);
    FK_ARG(k, 6, acc);
    FK_ARG(k, 7, a_off);
    size_t global = 1;
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}

fk_status fk_nonfinite_rows(fk_runtime *rt, cl_mem acc, size_t acc_off, fk_tensor logits,
                            int n, int c)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "metrics", "", "nonfinite_rows", &k));
    cl_ulong off = logits.off, a_off = acc_off;
    cl_int nn = n, cc = c;
    FK_ARG(k, 0, logits.buf);
    FK_ARG(k, 1, off);
    FK_ARG(k, 2, nn);
    FK_ARG(k, 3, cc);
    FK_ARG(k, 4, acc);
    FK_ARG(k, 5, a_off);
    size_t global = 1;
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}
