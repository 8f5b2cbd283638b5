/* Helpers shared by the loss files (src/loss/), not part of the public API. */
#ifndef FIGKD_LOSS_INTERNAL_H
#define FIGKD_LOSS_INTERNAL_H

#include "figkd/loss.h"

/* Work-group size of the per-sample kernels: LOSS_WG in cl/loss.cl and
 * DWT_WG in cl/dwt.cl. */
#define FK_LOSS_WG 64

/* value[0] = scale * sum(work[0..n)), on the device (cl/loss.cl loss_mean). */
fk_status fk_loss_mean(fk_runtime *rt, fk_tensor value, fk_tensor work, int n, float scale);

/* Argument checks shared by the losses: n, c positive and their product
 * addressable; every tensor has a buffer and, when it carries a shape, at
 * least the elements it is used for. `who` names the caller in messages. */
fk_status fk_loss_check_dims(const char *who, int n, int c);
fk_status fk_loss_check_tensor(const char *who, const char *name, const fk_tensor *t, size_t need);

/* The tensor checks of a logit loss, in this order: value (1 element), x
 * (named x_name) and teacher (when not NULL) with N*C each, work
 * (fk_loss_work), dlogits when given. */
fk_status fk_loss_check_logits(const char *who, int n, int c, const fk_tensor *value, const char *x_name,
                               const fk_tensor *x, const fk_tensor *teacher, const fk_tensor *work,
                               const fk_tensor *dlogits);

/* Launch one work-group of FK_LOSS_WG per sample. */
#define FK_LOSS_RUN(rt, k, n, ...)                                             \
    FK_RUN((rt), (k), 1, (size_t[]){(size_t)(n) * FK_LOSS_WG}, (size_t[]){FK_LOSS_WG}, __VA_ARGS__)

/* The gradient arguments of the loss kernels (dx, dx_off, has_grad): when
 * no gradient is wanted, x stands in for the buffer the kernel ignores. */
#define FK_LOSS_GRAD(dlogits, x) FK_T((dlogits) ? *(dlogits) : (x)), FK_A((dlogits) ? 1 : 0)

#endif
