/* One-level 2D Haar DWT of logit rows and its inverse (cl/dwt.cl). */
#include "loss/loss_internal.h"

static fk_status check_grid(const char *who, int n, int h, int w)
{
    if (h <= 0 || w <= 0)
        return fk_error(FK_ERR_ARG, "%s: grid %dx%d must be positive", who, h, w);
    return fk_loss_check_dims(who, n, h * w > 0 ? h * w : 1);
}

static size_t band_count(int n, int h, int w)
{
    return (size_t)n * 4 * (size_t)((h + 1) / 2) * (size_t)((w + 1) / 2);
}

fk_status fk_dwt_forward(fk_runtime *rt, fk_tensor bands, fk_tensor x, int n, int h, int w)
{
    const char *who = "fk_dwt_forward";
    FK_TRY(check_grid(who, n, h, w));
    FK_TRY(fk_loss_check_tensor(who, "x", &x, (size_t)n * (size_t)h * (size_t)w));
    FK_TRY(fk_loss_check_tensor(who, "bands", &bands, band_count(n, h, w)));
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "dwt", "", "dwt_forward", &k));
    cl_ulong b_off = bands.off, x_off = x.off;
    cl_int nn = n, hh = h, ww = w;
    FK_ARG(k, 0, bands.buf);
    FK_ARG(k, 1, b_off);
    FK_ARG(k, 2, x.buf);
    FK_ARG(k, 3, x_off);
    FK_ARG(k, 4, nn);
    FK_ARG(k, 5, hh);
    FK_ARG(k, 6, ww);
    size_t global = fk_round_up(band_count(n, h, w) / 4, 64);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}

fk_status fk_dwt_inverse(fk_runtime *rt, fk_tensor x, fk_tensor bands, int n, int h, int w, int band_mask)
{
    const char *who = "fk_dwt_inverse";
    FK_TRY(check_grid(who, n, h, w));
    if (band_mask & ~(FK_BAND_LL | FK_BAND_LH | FK_BAND_HL | FK_BAND_HH))
        return fk_error(FK_ERR_ARG, "%s: band mask 0x%x has unknown bits", who, (unsigned)band_mask);
    FK_TRY(fk_loss_check_tensor(who, "x", &x, (size_t)n * (size_t)h * (size_t)w));
    FK_TRY(fk_loss_check_tensor(who, "bands", &bands, band_count(n, h, w)));
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "dwt", "", "dwt_inverse", &k));
    cl_ulong b_off = bands.off, x_off = x.off;
    cl_int nn = n, hh = h, ww = w, mask = band_mask;
    FK_ARG(k, 0, x.buf);
    FK_ARG(k, 1, x_off);
    FK_ARG(k, 2, bands.buf);
    FK_ARG(k, 3, b_off);
    FK_ARG(k, 4, nn);
    FK_ARG(k, 5, hh);
    FK_ARG(k, 6, ww);
    FK_ARG(k, 7, mask);
    size_t global = fk_round_up(band_count(n, h, w) / 4, 64);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}
