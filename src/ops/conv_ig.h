/* Implicit-GEMM conv (src/ops/conv_ig.c, cl/conv_ig.cl): the groups == 1
 * forward and data gradient of the per-work-item GEMM devices, without
 * im2col / col2im. */
#ifndef FIGKD_OPS_CONV_IG_H
#define FIGKD_OPS_CONV_IG_H

#include "figkd/ops.h"

/* out (N, C_out, HO, WO) = conv2d(in, weight), no bias */
fk_status fk_conv_ig_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, fk_tensor weight,
                             const fk_conv_dims *d);
/* din (N, C_in, H, W) += the data gradient of dout (N, C_out, HO, WO) */
fk_status fk_conv_ig_backward_data(fk_runtime *rt, fk_tensor din, fk_tensor dout, fk_tensor weight,
                                   const fk_conv_dims *d);
/* dweight (C_out, C_in, KH, KW) += the weight gradient */
fk_status fk_conv_ig_backward_weight(fk_runtime *rt, fk_tensor dweight, fk_tensor dout, fk_tensor in,
                                     const fk_conv_dims *d);

#endif
