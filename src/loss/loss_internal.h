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

/* Launch one work-group of FK_LOSS_WG per sample. */
fk_status fk_loss_launch_rows(fk_runtime *rt, cl_kernel k, int n, const char *file, int line);

#endif
