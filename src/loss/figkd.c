/* FiGKD detail loss: Haar DWT of the logits viewed as an h x w grid, MSE or
 * L1 between the student's and the teacher's chosen bands (cl/dwt.cl
 * figkd_forward; docs/design.md, "FiGKD loss"). */
#include "loss/loss_internal.h"

void fk_figkd_grid(int c, int *h, int *w)
{
    if (c <= 0) {
        *h = *w = 0;
        return;
    }
    int best = 1;
    for (int d = 1; (long long)d * d <= c; d++)
        if (c % d == 0)
            best = d;
    *h = best;
    *w = c / best;
}

static int popcount4(int m)
{
    return (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1) + ((m >> 3) & 1);
}

fk_status fk_figkd_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *dlogits, fk_tensor student,
                        fk_tensor teacher, int n, int c, int h, int w, int band_mask,
                        fk_detail_kind kind, float weight, fk_tensor work)
{
    const char *who = "fk_figkd_loss";
    FK_TRY(fk_loss_check_dims(who, n, c));
    if (h <= 0 || w <= 0 || (long long)h * w != c)
        return fk_error(FK_ERR_ARG, "%s: grid %dx%d does not hold %d classes", who, h, w, c);
    if (band_mask <= 0 || (band_mask & ~(FK_BAND_LL | FK_BAND_LH | FK_BAND_HL | FK_BAND_HH)))
        return fk_error(FK_ERR_ARG, "%s: band mask 0x%x: choose one or more of LL, LH, HL, HH", who,
                        (unsigned)band_mask);
    if (kind != FK_DETAIL_MSE && kind != FK_DETAIL_L1)
        return fk_error(FK_ERR_ARG, "%s: unknown detail loss kind %d", who, (int)kind);
    FK_TRY(fk_loss_check_logits(who, n, c, &value, "student", &student, &teacher, &work, dlogits));

    /* mean over N * nbands * ceil(h/2) * ceil(w/2) band elements */
    double count = (double)n * popcount4(band_mask) * ((h + 1) / 2) * ((w + 1) / 2);
    float inv = (float)(1.0 / count), gscale = (float)((double)weight / count);

    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_FIGKD_FORWARD, &k));
    FK_LOSS_RUN(rt, k, n, FK_T(student), FK_T(teacher), FK_T(work), FK_LOSS_GRAD(dlogits, student), FK_A(h),
                FK_A(w), FK_A(band_mask), FK_A(kind == FK_DETAIL_L1), FK_A(gscale));
    return fk_loss_mean(rt, value, work, n, inv);
}
