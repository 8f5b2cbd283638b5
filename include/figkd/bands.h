/* Frequency analysis of logits (host, double precision): the one-level Haar
 * DWT of each row viewed as the FiGKD grid (fk_figkd_grid, zero padding on
 * an odd side, the band formulas of cl/dwt.cl), its low-frequency
 * reconstruction (LL alone) and high-frequency reconstruction (LH, HL, HH),
 * cropped back to the C logits; top-1 of each and the energy per band.
 * Used by `figkd-cl analyze`; checked against pywt in tests. */
#ifndef FIGKD_BANDS_H
#define FIGKD_BANDS_H

#include "figkd/common.h"

enum { FK_RECON_FULL, FK_RECON_LOW, FK_RECON_HIGH, FK_RECON_COUNT };

typedef struct fk_band_stats {
    int classes, grid_h, grid_w;
    long n;
    long correct[FK_RECON_COUNT]; /* top-1 hits of the full, low and high logits */
    double energy[4];             /* sum of squares of LL, LH, HL, HH coefficients */
    int *pred;                    /* optional: n_max * FK_RECON_COUNT arg-max, row-major */
    long n_max;
} fk_band_stats;

/* Band statistics for C classes on an h x w grid (h * w == C). With keep > 0
 * the arg-max of each reconstruction is kept for up to `keep` rows (to
 * compare two models' predictions). */
fk_status fk_band_stats_init(fk_band_stats *s, int classes, int h, int w, long keep);
void fk_band_stats_free(fk_band_stats *s);

/* Add n rows of logits with their labels (labels may be NULL: no hits). */
fk_status fk_band_stats_add(fk_band_stats *s, const float *logits, const int *labels, int n);

/* One row: low and high reconstructions (C doubles each) and band energies. */
void fk_band_split(const float *x, int h, int w, double *low, double *high, double energy[4]);

/* Index of the largest value, the lowest index on ties (torch.argmax). */
int fk_argmax_d(const double *x, int n);

#endif
