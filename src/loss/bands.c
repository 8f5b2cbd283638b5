/* Logit frequency analysis on the host (include/figkd/bands.h). */
#include "figkd/bands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int fk_argmax_d(const double *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* x[r * w + c], or 0 outside the h x w grid (the zero padding) */
static double at(const float *x, int h, int w, int r, int c)
{
    return r < h && c < w ? (double)x[r * w + c] : 0.0;
}

static void put(double *y, int h, int w, int r, int c, double v)
{
    if (r < h && c < w)
        y[r * w + c] = v;
}

void fk_band_split(const float *x, int h, int w, double *low, double *high, double energy[4])
{
    for (int i = 0; 2 * i < h; i++) {
        for (int j = 0; 2 * j < w; j++) {
            int r = 2 * i, c = 2 * j;
            double a = at(x, h, w, r, c), b = at(x, h, w, r, c + 1);
            double cc = at(x, h, w, r + 1, c), d = at(x, h, w, r + 1, c + 1);
            double ll = 0.5 * (a + b + cc + d), lh = 0.5 * (a + b - cc - d);
            double hl = 0.5 * (a - b + cc - d), hh = 0.5 * (a - b - cc + d);
            energy[0] += ll * ll;
            energy[1] += lh * lh;
            energy[2] += hl * hl;
            energy[3] += hh * hh;
            /* the inverse (the same matrix) with the other bands at zero */
            double lo = 0.5 * ll;
            put(low, h, w, r, c, lo);
            put(low, h, w, r, c + 1, lo);
            put(low, h, w, r + 1, c, lo);
            put(low, h, w, r + 1, c + 1, lo);
            put(high, h, w, r, c, 0.5 * (lh + hl + hh));
            put(high, h, w, r, c + 1, 0.5 * (lh - hl - hh));
            put(high, h, w, r + 1, c, 0.5 * (-lh + hl - hh));
            put(high, h, w, r + 1, c + 1, 0.5 * (-lh - hl + hh));
        }
    }
}

fk_status fk_band_stats_init(fk_band_stats *s, int classes, int h, int w, long keep)
{
    memset(s, 0, sizeof *s);
    if (classes <= 0 || h <= 0 || w <= 0 || (long long)h * w != classes)
        return fk_error(FK_ERR_ARG, "band analysis: grid %dx%d does not hold %d classes", h, w, classes);
    s->classes = classes;
    s->grid_h = h;
    s->grid_w = w;
    if (keep > 0) {
        s->pred = fk_calloc((size_t)keep * FK_RECON_COUNT, sizeof *s->pred);
        if (!s->pred)
            return FK_ERR_NOMEM;
        s->n_max = keep;
    }
    return FK_OK;
}

void fk_band_stats_free(fk_band_stats *s)
{
    free(s->pred);
    memset(s, 0, sizeof *s);
}

fk_status fk_band_stats_add(fk_band_stats *s, const float *logits, const int *labels, int n)
{
    int c = s->classes;
    double *buf = fk_malloc(sizeof(double) * 3 * (size_t)c);
    if (!buf)
        return FK_ERR_NOMEM;
    double *full = buf, *low = buf + c, *high = buf + 2 * c;
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * (size_t)c;
        for (int k = 0; k < c; k++) {
            if (!isfinite(x[k])) {
                free(buf);
                return fk_error(FK_ERR_NUMERIC, "band analysis: row %ld holds NaN or Inf logits (logit %d is %g)", s->n, k,
                                (double)x[k]);
            }
            full[k] = x[k];
        }
        fk_band_split(x, s->grid_h, s->grid_w, low, high, s->energy);
        int pred[FK_RECON_COUNT] = {fk_argmax_d(full, c), fk_argmax_d(low, c), fk_argmax_d(high, c)};
        for (int r = 0; r < FK_RECON_COUNT; r++) {
            if (labels && pred[r] == labels[i])
                s->correct[r]++;
            if (s->n < s->n_max)
                s->pred[s->n * FK_RECON_COUNT + r] = pred[r];
        }
        s->n++;
    }
    free(buf);
    return FK_OK;
}
