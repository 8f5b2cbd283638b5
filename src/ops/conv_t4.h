/* Convolution on four-channel texels (src/ops/conv_t4.c, cl/conv_t4.cl):
 * the groups == 1 forward, weight gradient and data gradient of the devices
 * whose implicit GEMMs read through image views (Mesa's llvmpipe). */
#ifndef FIGKD_OPS_CONV_T4_H
#define FIGKD_OPS_CONV_T4_H

#include "figkd/ops.h"

#include <stdbool.h>

/* Floats of work either pass of d takes (its packed image and weights). */
size_t fk_conv_t4_work(const fk_conv_dims *d);
/* out (N, C_out, HO, WO) = conv2d(in, weight) (+ bias) (+ res), then ReLU
 * with relu; *done false (and nothing run) where the work or the device's
 * images cannot hold it */
fk_status fk_conv_t4_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight, const fk_tensor *bias,
                             const fk_tensor *res, bool relu, fk_tensor work, const fk_conv_dims *d, bool *done);
/* *din (N, C_in, H, W) += the data gradient of dout and *dweight (C_out,
 * C_in, KH, KW) += the weight gradient, either NULL when not wanted, the
 * output gradient packed once for both; *din_done / *dw_done say which
 * ran (none where the work or the device's images cannot hold them) */
fk_status fk_conv_t4_backward(fk_runtime *rt, const fk_tensor *din, const fk_tensor *dweight, fk_tensor dout,
                              fk_tensor in, fk_tensor weight, fk_tensor work, const fk_conv_dims *d, bool *din_done,
                              bool *dw_done);

#endif
