/* Evaluation metrics on the device (cl/metrics.cl). */
#include "figkd/ops.h"

fk_status fk_topk_hits(fk_runtime *rt, cl_mem acc, size_t acc_off, fk_tensor logits,
                       cl_mem labels, size_t labels_off, int n, int c)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_TOPK_HITS, &k));
    size_t global = 1;
    FK_RUN(rt, k, 1, &global, NULL, FK_T(logits), FK_A(n), FK_A(c), FK_A(labels), FK_A(labels_off), FK_A(acc),
           FK_A(acc_off));
    return FK_OK;
}

fk_status fk_nonfinite_rows(fk_runtime *rt, cl_mem acc, size_t acc_off, fk_tensor logits,
                            int n, int c)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_NONFINITE_ROWS, &k));
    size_t global = 1;
    FK_RUN(rt, k, 1, &global, NULL, FK_T(logits), FK_A(n), FK_A(c), FK_A(acc), FK_A(acc_off));
    return FK_OK;
}
