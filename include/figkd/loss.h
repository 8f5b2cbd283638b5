/* Losses on logits (N, C) with int32 labels (N), on the device.
 *
 * Each loss function writes its value (a mean over the batch) into
 * value[0] (overwrites) and, when dlogits is not NULL, ADDS
 * weight * d(value)/d(student logits) into dlogits (N, C). Teacher logits
 * are constants. Nothing here waits for the device; values stay on the
 * device until the caller reads them. Scratch comes from the caller,
 * sized by fk_loss_work(n, c) floats (one per sample: the per-sample losses,
 * summed in a fixed order by a second kernel; no float atomics).
 *
 * All are stable for logits of any finite magnitude (max subtraction,
 * log-sum-exp; no log of a probability). A label outside [0, C) makes the
 * value NaN (the caller's finite check catches it) and adds no gradient for
 * that sample. KL terms with a zero target probability count 0 (as
 * PyTorch's kl_div). One loss per file: src/loss/<loss>.c; the row-wise
 * kernels (CE, KD, DKD, batch mean) are in cl/loss.cl, the DWT and FiGKD
 * kernels in cl/dwt.cl. */
#ifndef FIGKD_LOSS_H
#define FIGKD_LOSS_H

#include "figkd/runtime.h"

size_t fk_loss_work(int n, int c);

/* Softmax cross-entropy, mean over the batch, int32 labels (src/loss/ce.c);
 * gradient weight * (softmax - onehot) / N. */
fk_status fk_ce_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor logits,
                     cl_mem labels, size_t labels_off, int n, int c, float weight, fk_tensor work);

/* KD: T^2 * mean over batch of KL(softmax(t/T) || softmax(s/T)) (src/loss/kd.c). */
fk_status fk_kd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                     fk_tensor teacher, int n, int c, float temperature, float weight, fk_tensor work);

/* DKD target (TCKD) and non-target (NCKD) terms: value = alpha*TCKD + beta*NCKD,
 * each times T^2, mean over the batch (src/loss/dkd.c), as mdistiller's
 * dkd_loss: TCKD is the KL of the binary [target, non-target] probabilities
 * of softmax(t/T) and softmax(s/T); NCKD the KL of the softmaxes of
 * t/T and s/T with 1000 subtracted from the target logit. c >= 2. The
 * warm-up factor min(epoch / warmup, 1) is folded into weight by the caller. */
fk_status fk_dkd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                      fk_tensor teacher, cl_mem labels, size_t labels_off, int n, int c, float alpha,
                      float beta, float temperature, float weight, fk_tensor work);

/* ---- FiGKD (src/loss/figkd.c, src/loss/dwt.c; docs/design.md) ---- */

enum { FK_BAND_LL = 1, FK_BAND_LH = 2, FK_BAND_HL = 4, FK_BAND_HH = 8 };
#define FK_BANDS_DETAIL (FK_BAND_LH | FK_BAND_HL | FK_BAND_HH)

typedef enum { FK_DETAIL_MSE, FK_DETAIL_L1 } fk_detail_kind;

/* h = the largest divisor of c with h <= sqrt(c), w = c / h. */
void fk_figkd_grid(int c, int *h, int *w);

/* One-level 2D Haar DWT of each row of x (N, h*w) viewed as h x w with
 * zero padding on an odd side: bands (N, 4, ceil(h/2), ceil(w/2)) in the
 * order LL, LH, HL, HH (pywt's cA, cH, cV, cD). */
fk_status fk_dwt_forward(fk_runtime *rt, fk_tensor bands, fk_tensor x, int n, int h, int w);
/* Inverse: rows (N, h*w) rebuilt from the bands whose bits are set in
 * band_mask (the others taken as zero). */
fk_status fk_dwt_inverse(fk_runtime *rt, fk_tensor x, fk_tensor bands, int n, int h, int w, int band_mask);

/* Detail loss: mean over the chosen bands' elements and the batch
 * (N * popcount(band_mask) * ceil(h/2) * ceil(w/2) elements) of
 * (dwt(s) - dwt(t))^2 (mse) or |dwt(s) - dwt(t)| (l1); h * w must be c.
 * The l1 gradient is sign(diff), 0 at 0 (as torch.abs). */
fk_status fk_figkd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                        fk_tensor teacher, int n, int c, int h, int w, int band_mask,
                        fk_detail_kind kind, float weight, fk_tensor work);

/* ---- DIST (src/loss/dist.c, cl/dist.cl) ---- */

/* DIST (Huang et al. 2022), as the authors' dist_kd.py: with
 * p = softmax(s/T), q = softmax(t/T) row by row,
 * value = T^2 * (beta * (1 - mean over rows of pearson(p[i,:], q[i,:]))
 *              + gamma * (1 - mean over classes of pearson(p[:,j], q[:,j]))),
 * pearson(x, y) = <x - mean x, y - mean y> / (|x - mean x| |y - mean y| + 1e-8).
 * The class term couples the rows: the whole batch goes in one call. work
 * holds fk_dist_work(n, c) floats (not fk_loss_work's). */
size_t fk_dist_work(int n, int c);
fk_status fk_dist_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                       fk_tensor teacher, int n, int c, float temperature, float beta, float gamma,
                       float weight, fk_tensor work);

/* ---- feature losses: AT (src/loss/at.c, cl/at.cl), PKT (src/loss/pkt.c,
 * cl/pkt.cl), RKD (src/loss/rkd.c, cl/rkd.cl) ---- */

/* AT, as mdistiller's AT.py: the sum over `stages` pairs of student and
 * teacher features (N, C, H, W) (channels may differ; the larger map is
 * pooled to the smaller as adaptive_avg_pool2d does) of the mean over N * H * W
 * of (a_s - a_t)^2, a = F.normalize(mean over channels of f^p) per sample.
 * dstudent: NULL, or the stages' gradients, ADDED weight * d value / d f. */
size_t fk_at_work(const fk_tensor *student, const fk_tensor *teacher, int stages);
fk_status fk_at_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *student, const fk_tensor *dstudent,
                     const fk_tensor *teacher, int stages, float p, float weight, fk_tensor work);

/* PKT, as mdistiller's PKT.py (eps 1e-7): embeddings (N, Ds) and (N, Dt),
 * rows scaled to unit norm (f / (|f| + eps)), cosine similarities mapped to
 * (s + 1) / 2 and normalised per row into P (student) and Q (teacher);
 * value = mean over the N x N entries of Q log((Q + eps) / (P + eps)).
 * dstudent: NULL or (N, Ds), ADDED weight * d value / d student. */
size_t fk_pkt_work(int n, int ds, int dt);
fk_status fk_pkt_loss(fk_runtime *rt, fk_tensor value, fk_tensor student, const fk_tensor *dstudent,
                      fk_tensor teacher, float weight, fk_tensor work);

/* RKD, as mdistiller's RKD.py rkd_loss (squared = False, eps 1e-12):
 * embeddings (N, Ds) and (N, Dt), N >= 2; value = distance_weight *
 * mean smooth_l1 of the pairwise distances (each over its mean over the
 * pairs) + angle_weight * mean smooth_l1 of the cosines <u_ab, u_ac>,
 * u_ab = normalize(e_b - e_a), over the N^3 triples. dstudent: NULL or
 * (N, Ds), ADDED weight * d value / d student. */
size_t fk_rkd_work(int n, int ds, int dt);
fk_status fk_rkd_loss(fk_runtime *rt, fk_tensor value, fk_tensor student, const fk_tensor *dstudent,
                      fk_tensor teacher, float distance_weight, float angle_weight, float weight, fk_tensor work);

/* FitNet's hint, as mdistiller's FitNet.py: F.mse_loss(r, t), the mean
 * over every element of (r - t)^2 for r, t (N, C, H, W) of one shape
 * (src/loss/fitnet.c, cl/fitnet.cl). dr: NULL, or weight * d value / d r,
 * WRITTEN (r is a connector's output: dr is the gradient its backward
 * starts from). */
size_t fk_fitnet_work(const fk_tensor *r);
fk_status fk_fitnet_loss(fk_runtime *rt, fk_tensor value, fk_tensor r, const fk_tensor *dr, fk_tensor t,
                         float weight, fk_tensor work);

/* ---- MLKD (src/loss/mlkd.c, cl/mlkd.cl) ---- */

/* MLKD (Jin et al. 2023), one view's term as the authors' KD_ours.py sums
 * it, over FK_MLKD_TEMPS temperatures temps[k] (their order: the configured
 * temperature, 3, 5, 2, 6), with kd_k, cc_k, bc_k the instance-, class- and
 * batch-level losses of cl/mlkd.cl:
 *   view 0 (weak):   sum_k (m + [k >= 3]) kd_k + mc cc_k + m bc_k
 *   view 1 (strong): kd_0 + kd_1 + kd_2
 * m (mc) is the share of samples (classes) whose teacher confidence at T = 1
 * is at or below numpy's median of them; the official code multiplies its
 * batch-mean losses by the mean of the boolean mask, which is this share.
 * standardize: KD on z-scored logits (the logit-standardisation variant of
 * MLKD.py, eps 1e-7, unbiased std; c >= 2). work holds fk_mlkd_work(n, c)
 * floats (not fk_loss_work's). */
#define FK_MLKD_TEMPS 5
size_t fk_mlkd_work(int n, int c);
fk_status fk_mlkd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                       fk_tensor teacher, int n, int c, const float temps[FK_MLKD_TEMPS], int view, int standardize,
                       float weight, fk_tensor work);

#endif
