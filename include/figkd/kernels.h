/* Every kernel of cl/ in one list: an id (FK_K_<ID>), its file, its name
 * and the -D options it is built with (FK_DEFS_NONE: none; the others name
 * per-shape values given at the launch, see fk_kernel_defs in runtime.h).
 * Adding a kernel = one line here; src/runtime/kernels.c reads the list. */
#ifndef FIGKD_KERNELS_H
#define FIGKD_KERNELS_H

/* X(ID, file, kernel name, defs) */
#define FK_KERNELS(X)                                                          \
    X(FILL_F32, "util", "fill_f32", NONE)                                      \
    X(AXPY_F32, "util", "axpy_f32", NONE)                                      \
    X(COPY_F32, "util", "copy_f32", NONE)                                      \
    X(RELU_FORWARD, "relu", "relu_forward", NONE)                              \
    X(RELU_BACKWARD, "relu", "relu_backward", NONE)                            \
    X(ADD_FORWARD, "tensor_ops", "add_forward", NONE)                          \
    X(ACC, "tensor_ops", "acc", NONE)                                          \
    X(ADD_RELU_FORWARD, "tensor_ops", "add_relu_forward", NONE)                \
    X(ADD_RELU_BACKWARD, "tensor_ops", "add_relu_backward", NONE)              \
    X(CHANNEL_COPY, "tensor_ops", "channel_copy", NONE)                        \
    X(CHANNEL_ACC, "tensor_ops", "channel_acc", NONE)                          \
    X(SHUFFLE_COPY, "tensor_ops", "shuffle_copy", NONE)                        \
    X(SHUFFLE_ACC, "tensor_ops", "shuffle_acc", NONE)                          \
    X(LINEAR_BIAS_ADD, "linear", "bias_add", NONE)                             \
    X(LINEAR_BIAS_BACKWARD, "linear", "bias_backward", NONE)                   \
    X(MAXPOOL_FORWARD, "pool", "maxpool_forward", POOL)                        \
    X(AVGPOOL_FORWARD, "pool", "avgpool_forward", POOL)                        \
    X(MAXPOOL_BACKWARD, "pool", "maxpool_backward", POOL)                      \
    X(AVGPOOL_BACKWARD, "pool", "avgpool_backward", POOL)                      \
    X(GAP_FORWARD, "pool", "gap_forward", NONE)                                \
    X(GAP_BACKWARD, "pool", "gap_backward", NONE)                              \
    X(BN_APPLY, "batchnorm", "bn_apply", NONE)                                 \
    X(BN_APPLY_RUN, "batchnorm", "bn_apply_run", NONE)                         \
    X(BN_STATS, "batchnorm", "bn_stats", BN)                                   \
    X(BN_STATS_IMG, "batchnorm", "bn_stats_img", BN)                           \
    X(BN_BACKWARD, "batchnorm", "bn_backward", BN)                             \
    X(BN_BACKWARD_IMG, "batchnorm", "bn_backward_img", BN)                     \
    X(BN_BACKWARD_T4, "batchnorm_t4", "bn_backward_t4", BN)                    \
    X(IM2COL, "conv", "im2col", CONV_BATCH)                                    \
    X(IM2COL_PX, "conv", "im2col_px", CONV_BATCH)                              \
    X(COL2IM_ADD, "conv", "col2im_add", CONV_BATCH)                            \
    X(COL2IM_ADD_PX, "conv", "col2im_add_px", CONV_BATCH)                      \
    X(DIRECT_FORWARD, "conv", "direct_forward", CONV)                          \
    X(DIRECT_BACKWARD_WEIGHT, "conv", "direct_backward_weight", CONV)          \
    X(DIRECT_BACKWARD_DATA, "conv", "direct_backward_data", CONV)              \
    X(CONV_BIAS_ADD, "conv", "bias_add", NONE)                                 \
    X(CONV_BIAS_GRAD, "conv", "bias_grad", NONE)                               \
    X(SUM_BATCHES_ADD, "conv", "sum_batches_add", NONE)                        \
    X(GEMM_NN16, "conv_gemm", "gemm_nn16", NONE)                               \
    X(GEMM_NT16, "conv_gemm", "gemm_nt16", NONE)                               \
    X(GEMM_NN_WI, "conv_gemm", "gemm_nn_wi", NONE)                             \
    X(GEMM_NT_WI, "conv_gemm", "gemm_nt_wi", NONE)                             \
    X(LOOP_PROBE, "probe", "loop_probe", NONE)                                 \
    X(LOOP_PROBE_SPLIT, "probe", "loop_probe_split", NONE)                     \
    X(IMAGE_PROBE_BUFFER, "probe_images", "image_probe_buffer", NONE)          \
    X(IMAGE_PROBE_IMAGE, "probe_images", "image_probe_image", NONE)            \
    X(IM2COL_BATCH, "conv_batch", "im2col_batch", CONV_BATCH)                  \
    X(COL2IM_BATCH_ADD, "conv_batch", "col2im_batch_add", CONV_BATCH)          \
    X(CM_TO_NCHW_BIAS, "conv_batch", "cm_to_nchw_bias", NONE)                  \
    X(NCHW_TO_CM, "conv_batch", "nchw_to_cm", NONE)                            \
    X(ROW_SUM_ADD, "conv_batch", "row_sum_add", NONE)                          \
    X(WINO_WEIGHT, "winograd", "wino_weight", NONE)                            \
    X(WINO_INPUT, "winograd", "wino_input", NONE)                              \
    X(WINO_OUTPUT, "winograd", "wino_output", NONE)                            \
    X(WINO_INPUT16, "winograd", "wino_input16", NONE)                          \
    X(WINO_OUTPUT16, "winograd", "wino_output16", NONE)                        \
    X(WINO_GEMM, "winograd", "wino_gemm", NONE)                                \
    X(CONV_EPILOGUE, "winograd", "conv_epilogue", NONE)                        \
    X(IM2COL_T, "conv_wgrad", "im2col_t", CONV_BATCH)                          \
    X(WGRAD_NN16, "conv_wgrad", "wgrad_nn16", NONE)                            \
    X(CHW_TO_HWC, "conv_wgrad", "chw_to_hwc", NONE)                            \
    X(WGRAD_HWC, "conv_wgrad", "wgrad_hwc", CONV_BATCH)                        \
    X(WGRAD_HWC_ADD, "conv_wgrad", "wgrad_hwc_add", CONV_BATCH)                \
    X(CONV_FWD_IG, "conv_ig", "conv_fwd_ig", CONV_IG)                          \
    X(CONV_BWD_DATA_IG, "conv_ig", "conv_bwd_data_ig", CONV_IG)                \
    X(CONV_BWD_WEIGHT_IG, "conv_ig", "conv_bwd_weight_ig", CONV_IG)            \
    X(T4_PACK, "conv_t4", "t4_pack", NONE)                                     \
    X(T4_PACK_IMAGE, "conv_t4", "t4_pack_image", NONE)                         \
    X(CONV_FWD_T4, "conv_t4", "conv_fwd_t4", CONV_T4)                          \
    X(CONV_FWD_T4_ROW, "conv_t4", "conv_fwd_t4_row", CONV_T4)                  \
    X(CONV_WGRAD_T4, "conv_t4", "conv_wgrad_t4", CONV_BATCH)                   \
    X(CE_FORWARD, "loss", "ce_forward", NONE)                                  \
    X(KD_FORWARD, "loss", "kd_forward", NONE)                                  \
    X(DKD_FORWARD, "loss", "dkd_forward", NONE)                                \
    X(LOSS_MEAN, "loss", "loss_mean", NONE)                                    \
    X(DWT_FORWARD, "dwt", "dwt_forward", NONE)                                 \
    X(DWT_INVERSE, "dwt", "dwt_inverse", NONE)                                 \
    X(FIGKD_FORWARD, "dwt", "figkd_forward", NONE)                             \
    X(DIST_ROWS, "dist", "dist_rows", NONE)                                    \
    X(DIST_COLS, "dist", "dist_cols", NONE)                                    \
    X(DIST_BACKWARD, "dist", "dist_backward", NONE)                            \
    X(AT_MAP, "at", "at_map", NONE)                                            \
    X(AT_NORM, "at", "at_norm", NONE)                                          \
    X(AT_BACKWARD, "at", "at_backward", NONE)                                  \
    X(PKT_NORMALIZE, "pkt", "pkt_normalize", NONE)                             \
    X(PKT_ROWS, "pkt", "pkt_rows", NONE)                                       \
    X(PKT_DFS, "pkt", "pkt_dfs", NONE)                                         \
    X(PKT_BACKWARD, "pkt", "pkt_backward", NONE)                               \
    X(RKD_PDIST, "rkd", "rkd_pdist", NONE)                                     \
    X(RKD_DIST_TERM, "rkd", "rkd_dist_term", NONE)                             \
    X(RKD_DIST_BACKWARD, "rkd", "rkd_dist_backward", NONE)                     \
    X(RKD_UNIT, "rkd", "rkd_unit", NONE)                                       \
    X(RKD_ANGLE, "rkd", "rkd_angle", NONE)                                     \
    X(RKD_ANGLE_BACKWARD, "rkd", "rkd_angle_backward", NONE)                   \
    X(MLKD_PROBS, "mlkd", "mlkd_probs", NONE)                                  \
    X(MLKD_CONF, "mlkd", "mlkd_conf", NONE)                                    \
    X(MLKD_CLS, "mlkd", "mlkd_cls", NONE)                                      \
    X(MLKD_MASK, "mlkd", "mlkd_mask", NONE)                                    \
    X(MLKD_CC, "mlkd", "mlkd_cc", NONE)                                        \
    X(MLKD_BC, "mlkd", "mlkd_bc", NONE)                                        \
    X(MLKD_CORR_GRAD, "mlkd", "mlkd_corr_grad", NONE)                          \
    X(MLKD_GRAD, "mlkd", "mlkd_grad", NONE)                                    \
    X(MLKD_VALUE, "mlkd", "mlkd_value", NONE)                                  \
    X(FITNET_MSE, "fitnet", "fitnet_mse", NONE)                                \
    X(SGD_STEP, "sgd", "sgd_step", NONE)                                       \
    X(TOPK_HITS, "metrics", "topk_hits", NONE)                                 \
    X(NONFINITE_ROWS, "metrics", "nonfinite_rows", NONE)

typedef enum fk_kernel_id {
#define FK_KERNEL_ENUM_(id, file, name, defs) FK_K_##id,
    FK_KERNELS(FK_KERNEL_ENUM_)
#undef FK_KERNEL_ENUM_
    FK_K_COUNT
} fk_kernel_id;

/* The -D values a kernel is built with, in this order:
 *   CONV        KH KW STRIDE PAD CIPG COPG HAS_BIAS   (cl/conv.cl's direct kernels)
 *   CONV_BATCH  KH KW STRIDE PAD                      (cl/conv.cl's im2col and col2im, cl/conv_batch.cl,
 *                                                      cl/conv_wgrad.cl, conv_wgrad_t4)
 *   POOL        K S P                                 (cl/pool.cl)
 *   BN          LOCAL                                 (cl/batchnorm.cl, cl/batchnorm_t4.cl)
 *   CONV_IG     KH KW STRIDE PAD IG_IMAGES            (cl/conv_ig.cl)
 *   CONV_T4     KH KW STRIDE EPILOGUE                 (cl/conv_t4.cl's convs) */
typedef enum fk_kernel_defs_kind {
    FK_DEFS_NONE,
    FK_DEFS_CONV,
    FK_DEFS_CONV_BATCH,
    FK_DEFS_POOL,
    FK_DEFS_BN,
    FK_DEFS_CONV_IG,
    FK_DEFS_CONV_T4,
} fk_kernel_defs_kind;

#define FK_DEFS_MAX 8 /* the most -D values of any kind */

#endif
