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

/* checks shared by the transform and its inverse */
static fk_status check_dwt(const char *who, const fk_tensor *x, const fk_tensor *bands, int n, int h, int w)
{
    FK_TRY(check_grid(who, n, h, w));
    FK_TRY(fk_loss_check_tensor(who, "x", x, (size_t)n * (size_t)h * (size_t)w));
    return fk_loss_check_tensor(who, "bands", bands, band_count(n, h, w));
}

fk_status fk_dwt_forward(fk_runtime *rt, fk_tensor bands, fk_tensor x, int n, int h, int w)
{
    FK_TRY(check_dwt("fk_dwt_forward", &x, &bands, n, h, w));
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_DWT_FORWARD, &k));
    FK_RUN_1D(rt, k, band_count(n, h, w) / 4, FK_T(bands), FK_T(x), FK_A(n), FK_A(h), FK_A(w));
    return FK_OK;
}

fk_status fk_dwt_inverse(fk_runtime *rt, fk_tensor x, fk_tensor bands, int n, int h, int w, int band_mask)
{
    const char *who = "fk_dwt_inverse";
    FK_TRY(check_grid(who, n, h, w));
    if (band_mask & ~(FK_BAND_LL | FK_BAND_LH | FK_BAND_HL | FK_BAND_HH))
        return fk_error(FK_ERR_ARG, "%s: band mask 0x%x has unknown bits", who, (unsigned)band_mask);
    FK_TRY(check_dwt(who, &x, &bands, n, h, w));
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_DWT_INVERSE, &k));
    FK_RUN_1D(rt, k, band_count(n, h, w) / 4, FK_T(x), FK_T(bands), FK_A(n), FK_A(h), FK_A(w), FK_A(band_mask));
    return FK_OK;
}
