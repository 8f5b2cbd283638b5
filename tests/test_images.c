/* Image reads in the implicit GEMMs (cl/conv_ig.cl with IG_IMAGES): the
 * device probe and its switches, the runtime's cache of image views, and
 * every implicit-GEMM kernel giving the very same floats through image
 * views as through buffer loads, at offsets into their buffers. And the
 * texel convs (src/ops/conv_t4.c) keeping their work buffer's view while
 * their packs' views replace others in the cache. */
#include "common.h"
#include "ops/conv_ig.h"
#include "ops/conv_t4.h"

#include <stdlib.h>
#include <string.h>

static bool probe(fk_runtime *rt, fk_switch s)
{
    rt->opts.images = s;
    rt->image_loads = 0;
    bool use = false;
    CHECK(fk_device_image_loads(rt, &use) == FK_OK, "probe: %s", fk_last_error());
    return use;
}

static cl_mem filled(fk_runtime *rt, size_t n, unsigned seed)
{
    float *h = malloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++)
        h[i] = (float)((int)((i * 2654435761u + seed) % 61) - 30) / 16.0f;
    cl_mem m;
    CHECK(fk_buffer_create(rt, n * sizeof *h, 0, &m) == FK_OK && fk_buffer_write(rt, m, 0, n * sizeof *h, h) == FK_OK,
          "buffer");
    free(h);
    return m;
}

static float *read_all(fk_runtime *rt, cl_mem m, size_t n)
{
    float *h = malloc(n * sizeof *h);
    CHECK(fk_buffer_read(rt, m, 0, n * sizeof *h, h) == FK_OK, "read");
    return h;
}

/* the three kernels on d with sources at offsets, by buffer loads or image views */
static void run_all(fk_runtime *rt, bool images, const fk_conv_dims *d, float *out[3])
{
    rt->opts.images = images ? FK_SWITCH_ON : FK_SWITCH_OFF;
    rt->image_loads = 0;
    const size_t pad = 37; /* every source starts this far into its buffer */
    const size_t nin = (size_t)d->n * d->c_in * d->h * d->w, nout = (size_t)d->n * d->c_out * d->h_out * d->w_out;
    const size_t nw = (size_t)d->c_out * d->c_in * d->kh * d->kw;
    cl_mem in = filled(rt, nin + pad, 1), w = filled(rt, nw + pad, 2), g = filled(rt, nout + pad, 3);
    cl_mem o = filled(rt, nout, 4), di = filled(rt, nin, 5), dw = filled(rt, nw, 6);
    const fk_tensor tin = {in, pad, 1, {(int)nin, 1, 1, 1}}, tw = {w, pad, 1, {(int)nw, 1, 1, 1}};
    const fk_tensor tg = {g, pad, 1, {(int)nout, 1, 1, 1}}, to = {o, 0, 1, {(int)nout, 1, 1, 1}};
    const fk_tensor tdi = {di, 0, 1, {(int)nin, 1, 1, 1}}, tdw = {dw, 0, 1, {(int)nw, 1, 1, 1}};
    CHECK(fk_conv_ig_forward(rt, to, tin, tw, d) == FK_OK, "forward: %s", fk_last_error());
    CHECK(fk_conv_ig_backward_data(rt, tdi, tg, tw, d) == FK_OK, "data gradient: %s", fk_last_error());
    CHECK(fk_conv_ig_backward_weight(rt, tdw, tg, tin, d) == FK_OK, "weight gradient: %s", fk_last_error());
    out[0] = read_all(rt, o, nout), out[1] = read_all(rt, di, nin), out[2] = read_all(rt, dw, nw);
    cl_mem all[] = {in, w, g, o, di, dw};
    for (int i = 0; i < 6; i++)
        clReleaseMemObject(all[i]);
}

/* Drop every cached view, as a fresh runtime has none. */
static void forget_views(fk_runtime *rt)
{
    for (int i = 0; i < rt->nviews; i++)
        clReleaseMemObject(rt->views[i].img);
    memset(rt->views, 0, sizeof rt->views);
    memset(rt->held, 0, sizeof rt->held);
    rt->nviews = 0, rt->next_view = 0;
}

/* The texel weight gradient with the cache full and its next replacement
 * the work buffer's view, found again at the start, while the image's
 * view is missing: the image's pack must not take the slot of the view
 * the weight gradient then reads. Same floats as with a cache that has
 * room; then both gradients the same way. */
static void texel_views(fk_runtime *rt)
{
    fk_conv_dims d;
    CHECK(fk_conv_dims_init(&d, 2, 5, 9, 9, 6, 3, 1, 1, 1, false) == FK_OK, "dims");
    const size_t nin = (size_t)d.n * d.c_in * d.h * d.w, nout = (size_t)d.n * d.c_out * d.h_out * d.w_out;
    const size_t nw = (size_t)d.c_out * d.c_in * d.kh * d.kw, nwork = fk_conv_t4_work(&d);
    cl_mem in = filled(rt, nin, 7), g = filled(rt, nout, 8), w = filled(rt, nw, 9), work = filled(rt, nwork, 10);
    const fk_tensor tin = {in, 0, 1, {(int)nin, 1, 1, 1}}, tg = {g, 0, 1, {(int)nout, 1, 1, 1}};
    const fk_tensor tw = {w, 0, 1, {(int)nw, 1, 1, 1}}, twork = {work, 0, 1, {(int)nwork, 1, 1, 1}};
    cl_mem fillers[14];
    for (int i = 0; i < 14; i++)
        fillers[i] = filled(rt, 16, 13);
    for (int both = 0; both < 2; both++) {
        float *got[2][2] = {{0}};
        for (int full = 0; full < 2; full++) {
            cl_mem di = filled(rt, nin, 11), dw = filled(rt, nw, 12);
            const fk_tensor tdi = {di, 0, 1, {(int)nin, 1, 1, 1}}, tdw = {dw, 0, 1, {(int)nw, 1, 1, 1}};
            forget_views(rt);
            if (full) { /* slot 0: the work's view, 1: the gradient's, 2-15: others; next to replace: 0 */
                cl_mem v;
                CHECK(fk_buffer_image4(rt, work, &v) == FK_OK && v && fk_buffer_image(rt, g, &v) == FK_OK && v,
                      "views: %s", fk_last_error());
                for (int i = 0; i < 14; i++)
                    CHECK(fk_buffer_image(rt, fillers[i], &v) == FK_OK && v, "filler view %d", i);
                CHECK(rt->nviews == 16 && rt->next_view == 0 && rt->views[0].buf == work, "the cache as arranged");
            }
            bool din_done = false, dw_done = false;
            CHECK(fk_conv_t4_backward(rt, both ? &tdi : NULL, &tdw, tg, tin, tw, twork, &d, &din_done, &dw_done) ==
                          FK_OK &&
                      din_done == (both == 1) && dw_done && fk_runtime_finish(rt) == FK_OK,
                  "texel backward (%s, cache %s): %s", both ? "both" : "weights", full ? "full" : "empty",
                  fk_last_error());
            /* the view its last launch read is still held (a released one
             * could still read right on some drivers) */
            bool kept = false;
            for (int i = 0; i < rt->nviews; i++)
                kept |= rt->views[i].buf == work && rt->views[i].channels == 4;
            CHECK(kept, "texel backward (%s, cache %s): the work's view was dropped before the weight gradient",
                  both ? "both" : "weights", full ? "full" : "empty");
            got[full][0] = read_all(rt, di, nin), got[full][1] = read_all(rt, dw, nw);
            clReleaseMemObject(di), clReleaseMemObject(dw);
        }
        CHECK(!memcmp(got[0][0], got[1][0], nin * sizeof(float)) && !memcmp(got[0][1], got[1][1], nw * sizeof(float)),
              "texel backward (%s): a full view cache changed the gradients", both ? "both" : "weights");
        for (int i = 0; i < 2; i++)
            free(got[i][0]), free(got[i][1]);
    }
    forget_views(rt);
    for (int i = 0; i < 14; i++)
        clReleaseMemObject(fillers[i]);
    cl_mem all[] = {in, g, w, work};
    for (int i = 0; i < 4; i++)
        clReleaseMemObject(all[i]);
}

int main(void)
{
    fk_runtime *rt = NULL;
    int r = fk_test_runtime(&rt);
    if (r)
        return r == FK_TEST_SKIP ? 77 : 1;
    const bool images = rt->dev.images;
    const fk_switch saved = rt->opts.images;

    /* the switches, and the probe's verdict */
    CHECK(!probe(rt, FK_SWITCH_OFF), "FIGKD_IMAGES=0: no images");
    if (!images) {
        rt->opts.images = FK_SWITCH_ON;
        rt->image_loads = 0;
        bool use;
        fk_error_quiet(1);
        CHECK_ERR(fk_device_image_loads(rt, &use), FK_ERR_ARG, "FIGKD_IMAGES=1", "no image support", "");
        fk_error_quiet(0);
        printf("%s has no images: only the refusal is tested\n", rt->dev.name);
        fk_runtime_free(rt);
        return fk_test_result("images");
    }
    CHECK(probe(rt, FK_SWITCH_ON), "FIGKD_IMAGES=1: images");
    const bool verdict = probe(rt, FK_SWITCH_DEFAULT);
    printf("%s (%s): the probe %s image reads\n", rt->dev.name, rt->dev.platform, verdict ? "takes" : "declines");
    if (strstr(rt->dev.platform, "Portable Computing Language"))
        CHECK(!verdict, "PoCL reads images about 19x slower than buffers: the probe must decline them");

    /* the cache: one view per buffer, at most 16, never one of the
     * FK_VIEWS_HELD returned last: with the cache full and slot 0 next to
     * go, three views found again (slots 0, 1 and 2, as a launch reading
     * three buffers asks them) stay while three new ones come */
    forget_views(rt);
    cl_mem bufs[19], views[19] = {0}, again = NULL;
    for (int i = 0; i < 19; i++) {
        CHECK(fk_buffer_create(rt, 64 * sizeof(float), 0, &bufs[i]) == FK_OK, "buffer %d", i);
        if (i < 16)
            CHECK(fk_buffer_image(rt, bufs[i], &views[i]) == FK_OK && views[i], "view %d: %s", i, fk_last_error());
    }
    CHECK(fk_buffer_image(rt, bufs[0], &again) == FK_OK && again == views[0], "the same view again");
    CHECK(rt->nviews == 16 && rt->next_view == 0, "views kept: %d, next %d", rt->nviews, rt->next_view);
    for (int i = 0; i < 3; i++)
        CHECK(fk_buffer_image(rt, bufs[i], &again) == FK_OK && again == views[i], "view %d found again", i);
    for (int i = 16; i < 19; i++) {
        CHECK(fk_buffer_image(rt, bufs[i], &views[i]) == FK_OK && views[i], "view %d: %s", i, fk_last_error());
        int kept = 0;
        for (int j = 0; j < rt->nviews; j++)
            kept += rt->views[j].img == views[0] || rt->views[j].img == views[1] || rt->views[j].img == views[2];
        CHECK(kept == 3, "after view %d: %d of the three asked first kept", i, kept);
    }
    CHECK(rt->nviews == 16, "views kept: %d", rt->nviews);
    for (int i = 0; i < 19; i++)
        clReleaseMemObject(bufs[i]);

    /* the kernels through images give the buffers' floats, exactly */
    static const int shapes[][8] = {
        /* n, c_in, hw, c_out, k, stride, pad */
        {2, 5, 13, 18, 3, 1, 1},
        {3, 17, 9, 7, 3, 2, 1},
        {2, 4, 11, 33, 5, 2, 2},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *v = shapes[s];
        fk_conv_dims d;
        CHECK(fk_conv_dims_init(&d, v[0], v[1], v[2], v[2], v[3], v[4], v[5], v[6], 1, false) == FK_OK, "dims");
        float *plain[3], *viewed[3];
        run_all(rt, false, &d, plain);
        run_all(rt, true, &d, viewed);
        const size_t counts[3] = {(size_t)d.n * d.c_out * d.h_out * d.w_out, (size_t)d.n * d.c_in * d.h * d.w,
                                  (size_t)d.c_out * d.c_in * d.kh * d.kw};
        const char *names[3] = {"forward", "data gradient", "weight gradient"};
        for (int k = 0; k < 3; k++) {
            CHECK(!memcmp(plain[k], viewed[k], counts[k] * sizeof(float)), "shape %zu, %s: image reads differ", s,
                  names[k]);
            free(plain[k]), free(viewed[k]);
        }
    }
    texel_views(rt);
    rt->opts.images = saved;
    fk_runtime_free(rt);
    return fk_test_result("images");
}
