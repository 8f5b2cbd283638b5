/* fk_dwt_forward and fk_dwt_inverse against pywt (tests/ref/gen_loss.py):
 * bands equal pywt.dwt2(x, 'haar', mode='zero') for the grids of
 * C = 10, 40, 67, 100, 120, 200 and odd and thin grids; partial inverses
 * equal pywt.idwt2 with the other bands zeroed (cropped to h x w); the
 * inverse of the forward is the input; nothing is written outside. */
#include "op_fixture.h"

#include "figkd/loss.h"

/* Tolerances (|got - ref| <= atol + rtol * |ref|), inputs of magnitude ~2-8:
 * forward and inverse are sums of 4 float32 terms times 0.5, so a few ulps;
 * the round trip goes through float32 bands twice. */
static const fk_test_tol TOL[] = {
    {"forward", 2e-6, 1e-6},
    {"inverse", 2e-6, 1e-6},
    {"roundtrip", 4e-6, 2e-6},
};
enum { T_FWD, T_INV, T_RT };

static void run_grid(fk_runtime *rt, const fk_st_file *f, int h, int w)
{
    char name[96], what[160];
    snprintf(name, sizeof name, "%dx%d/x", h, w);
    size_t nx = 0, nbands = 0;
    const float *x = fk_test_tensor(f, name, &nx);
    snprintf(name, sizeof name, "%dx%d/bands", h, w);
    const float *bands_ref = fk_test_tensor(f, name, &nbands);
    if (!x || !bands_ref)
        return;
    int n = (int)(nx / (size_t)(h * w));
    CHECK(nbands == (size_t)n * 4 * ((h + 1) / 2) * ((w + 1) / 2), "%dx%d: band count %zu", h, w, nbands);

    float *got = malloc((nx > nbands ? nx : nbands) * sizeof *got);
    cl_mem dx = fx_upload(rt, x, nx), db = fx_upload(rt, NULL, nbands);
    fk_status st = fk_dwt_forward(rt, fx_tensor2(db, FX_GUARD, n, (int)(nbands / (size_t)n)),
                                  fx_tensor2(dx, FX_GUARD, n, h * w), n, h, w);
    snprintf(what, sizeof what, "dwt_forward %dx%d", h, w);
    CHECK(st == FK_OK, "%s: %s", what, fk_last_error());
    if (!fx_read(rt, db, nbands, got, what))
        CHECK(fk_test_close(what, got, bands_ref, nbands, TOL[T_FWD].atol, TOL[T_FWD].rtol) == 0, "%s", what);

    /* round trip: our bands back to x, all four bands */
    cl_mem dr = fx_upload(rt, NULL, nx);
    st = fk_dwt_inverse(rt, fx_tensor2(dr, FX_GUARD, n, h * w), fx_tensor2(db, FX_GUARD, n, (int)(nbands / (size_t)n)),
                        n, h, w, FK_BAND_LL | FK_BAND_LH | FK_BAND_HL | FK_BAND_HH);
    snprintf(what, sizeof what, "dwt_inverse(dwt_forward) %dx%d", h, w);
    CHECK(st == FK_OK, "%s: %s", what, fk_last_error());
    if (!fx_read(rt, dr, nx, got, what))
        CHECK(fk_test_close(what, got, x, nx, TOL[T_RT].atol, TOL[T_RT].rtol) == 0, "%s", what);
    clReleaseMemObject(dr);

    /* partial inverses of pywt's bands */
    cl_mem dpb = fx_upload(rt, bands_ref, nbands);
    for (int mask = 1; mask < 16; mask++) {
        snprintf(name, sizeof name, "%dx%d/inv%d", h, w, mask);
        if (!fk_st_find(f, name))
            continue;
        const float *ref = fk_test_tensor(f, name, NULL);
        cl_mem di = fx_upload(rt, NULL, nx);
        st = fk_dwt_inverse(rt, fx_tensor2(di, FX_GUARD, n, h * w),
                            fx_tensor2(dpb, FX_GUARD, n, (int)(nbands / (size_t)n)), n, h, w, mask);
        snprintf(what, sizeof what, "dwt_inverse %dx%d mask %d", h, w, mask);
        CHECK(st == FK_OK, "%s: %s", what, fk_last_error());
        if (!fx_read(rt, di, nx, got, what))
            CHECK(fk_test_close(what, got, ref, nx, TOL[T_INV].atol, TOL[T_INV].rtol) == 0, "%s", what);
        clReleaseMemObject(di);
    }
    clReleaseMemObject(dpb);
    clReleaseMemObject(dx);
    clReleaseMemObject(db);
    free(got);
}

static void run(fk_runtime *rt, const fk_st_file *f)
{
    /* the grids of the usual class counts (fk_figkd_grid), then odd and thin ones */
    static const int classes[] = {10, 40, 67, 100, 120, 200};
    int grids = 0;
    for (size_t i = 0; i < sizeof classes / sizeof *classes; i++) {
        int h, w;
        fk_figkd_grid(classes[i], &h, &w);
        run_grid(rt, f, h, w);
        grids++;
    }
    static const int extra[][2] = {{3, 5}, {7, 1}, {1, 1}, {4, 25}};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++, grids++)
        run_grid(rt, f, extra[i][0], extra[i][1]);
    printf("%d grids checked\n", grids);

    /* bad arguments are errors, not launches */
    fk_error_quiet(1);
    cl_mem d = fx_upload(rt, NULL, 64);
    CHECK(fk_dwt_forward(rt, fx_tensor2(d, 0, 1, 8), fx_tensor2(d, 0, 1, 8), 1, 0, 4) == FK_ERR_ARG, "h = 0");
    CHECK(fk_dwt_inverse(rt, fx_tensor2(d, 0, 1, 16), fx_tensor2(d, 0, 1, 16), 1, 2, 2, 16) == FK_ERR_ARG,
          "mask bit 16");
    CHECK(fk_dwt_forward(rt, fx_tensor2(d, 0, 1, 3), fx_tensor2(d, 0, 1, 4), 1, 2, 2) == FK_ERR_ARG,
          "bands tensor too small");
    fk_error_quiet(0);
    clReleaseMemObject(d);

}

int main(void) { return fk_test_main("test_dwt", "dwt.safetensors", run); }
