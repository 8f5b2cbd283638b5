/* figkd-cl tune (include/figkd/train.h): time every way a conv shape of
 * the config's pair can run on this device and keep the fastest in the
 * device's tune cache (src/runtime/tune.c), which train and bench read. */
#include "figkd/ops.h"
#include "figkd/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one distinct (role, shape) of the pair */
typedef struct tune_shape {
    bool frozen;
    fk_conv_dims d;
} tune_shape;

typedef struct tuner {
    fk_runtime *rt;
    long steps;
    tune_shape *shapes;
    int count, cap;
    /* buffers of the shape being timed */
    cl_mem in, out, weight, bias, dout, din, dweight, dbias, work;
    size_t work_elems;
} tuner;

static fk_status add_shape(tuner *t, bool frozen, const fk_conv_dims *d)
{
    if (d->groups != 1) /* grouped convs have one way only */
        return FK_OK;
    for (int i = 0; i < t->count; i++) {
        const tune_shape *o = &t->shapes[i];
        if (o->frozen == frozen && o->d.n == d->n && o->d.c_in == d->c_in && o->d.h == d->h && o->d.w == d->w &&
            o->d.c_out == d->c_out && o->d.kh == d->kh && o->d.stride == d->stride && o->d.pad == d->pad)
            return FK_OK; /* the table's key (bias aside) */
    }
    if (t->count == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        tune_shape *s = realloc(t->shapes, (size_t)cap * sizeof *s);
        if (!s)
            return fk_error(FK_ERR_NOMEM, "tune: out of memory");
        t->shapes = s, t->cap = cap;
    }
    t->shapes[t->count++] = (tune_shape){frozen, *d};
    return FK_OK;
}

/* the conv shapes of a model at batch n */
static fk_status collect(tuner *t, const char *name, const fk_config *cfg, int classes, int channels, int n,
                         bool frozen)
{
    fk_model_opts o = {classes, cfg->data.input_size, channels};
    fk_model *m;
    FK_TRY(fk_model_build(name, &o, &m));
    fk_status st = FK_OK;
    for (int i = 0; i < m->graph.count && !st; i++) {
        fk_conv_dims d;
        if (fk_graph_conv_dims(&m->graph, i, n, &d))
            st = add_shape(t, frozen, &d);
    }
    fk_model_free(m);
    return st;
}

static void release(cl_mem *m)
{
    if (*m)
        clReleaseMemObject(*m);
    *m = NULL;
}

static void release_buffers(tuner *t)
{
    cl_mem *all[] = {&t->in, &t->out, &t->weight, &t->bias, &t->dout, &t->din, &t->dweight, &t->dbias, &t->work};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        release(all[i]);
}

static fk_status make_buffer(tuner *t, cl_mem *m, size_t elems, float value)
{
    FK_TRY(fk_buffer_create(t->rt, (elems ? elems : 1) * sizeof(float), 0, m));
    return fk_buffer_fill(t->rt, *m, 0, elems ? elems : 1, value);
}

static fk_tensor view(cl_mem m, size_t elems)
{
    return (fk_tensor){m, 0, 1, {(int)elems, 1, 1, 1}};
}

/* One pass of the shape as the table's only entry e says (NULL: the
 * device default), work as its plan would give. */
static fk_status run_pass(tuner *t, const tune_shape *s, bool backward)
{
    const fk_conv_dims *d = &s->d;
    const size_t out_elems = (size_t)d->n * d->c_out * d->h_out * d->w_out;
    size_t need = fk_conv_work_on(t->rt, d, !s->frozen);
    if (need > t->work_elems)
        return fk_error(FK_ERR_ARG, "tune: work of %zu floats, the plan asks %zu", t->work_elems, need);
    const fk_tensor in = view(t->in, (size_t)d->n * d->c_in * d->h * d->w), out = view(t->out, out_elems);
    const fk_tensor weight = view(t->weight, (size_t)d->c_out * d->c_in * d->kh * d->kw), bias = view(t->bias, d->c_out);
    const fk_tensor work = view(t->work, need ? need : 1);
    if (s->frozen)
        return fk_conv_forward_fused(t->rt, out, in, weight, &bias, NULL, true, work, d);
    if (!backward)
        return fk_conv_forward(t->rt, out, in, weight, d->bias ? &bias : NULL, work, d);
    const fk_tensor din = view(t->din, (size_t)d->n * d->c_in * d->h * d->w), dout = view(t->dout, out_elems);
    const fk_tensor dw = view(t->dweight, (size_t)d->c_out * d->c_in * d->kh * d->kw), db = view(t->dbias, d->c_out);
    return fk_conv_backward(t->rt, &din, &dw, d->bias ? &db : NULL, dout, in, weight, work, d);
}

/* best of t->steps runs after one warm-up (program builds), in ms */
static fk_status time_pass(tuner *t, const tune_shape *s, const fk_tune_entry *e, bool backward, double *ms)
{
    fk_tune_clear(t->rt);
    if (e)
        FK_TRY(fk_tune_set(t->rt, e));
    FK_TRY(run_pass(t, s, backward));
    FK_TRY(fk_runtime_finish(t->rt));
    double best = 0;
    for (long i = 0; i < t->steps; i++) {
        double t0 = fk_seconds();
        FK_TRY(run_pass(t, s, backward));
        FK_TRY(fk_runtime_finish(t->rt));
        double dt = 1e3 * (fk_seconds() - t0);
        best = i == 0 || dt < best ? dt : best;
    }
    *ms = best;
    return FK_OK;
}

static bool winograd_shape(const fk_conv_dims *d)
{
    return d->groups == 1 && d->kh == 3 && d->stride == 1 && d->pad == 1 && d->c_in >= 8 && d->c_out >= 8;
}

/* the largest work any candidate's plan asks */
static size_t most_work(tuner *t, const tune_shape *s, const fk_tune_entry *cands, int n)
{
    fk_tune_clear(t->rt);
    size_t most = fk_conv_work_on(t->rt, &s->d, !s->frozen);
    for (int i = 0; i < n; i++) {
        fk_tune_clear(t->rt);
        if (fk_tune_set(t->rt, &cands[i]) != FK_OK)
            continue;
        size_t w = fk_conv_work_on(t->rt, &s->d, !s->frozen);
        most = w > most ? w : most;
    }
    return most;
}

/* Time one shape's candidates; the best into *best. */
static fk_status tune_shape_run(tuner *t, const tune_shape *s, fk_tune_entry *best)
{
    const fk_conv_dims *d = &s->d;
    long limit;
    FK_TRY(fk_device_loop_limit(t->rt, &limit));
    /* the own GEMMs are their per-work-item variant where loops are cut */
    fk_conv_gemm gemms[3];
    int ng = 0;
    if (!limit)
        gemms[ng++] = FK_CONV_GEMM_OWN;
    gemms[ng++] = FK_CONV_GEMM_WI;
    gemms[ng++] = FK_CONV_GEMM_CLBLAST;
    fk_tune_way ways[3];
    int nw = 0;
    ways[nw++] = FK_TUNE_COLUMNS;
    if (winograd_shape(d))
        ways[nw++] = FK_TUNE_WINOGRAD;
    fk_tune_entry base = {s->frozen, d->n, d->c_in, d->h, d->w, d->c_out, d->kh, d->stride, d->pad, d->groups,
                          FK_CONV_GEMM_DEFAULT, FK_TUNE_DEFAULT, FK_TUNE_DEFAULT, 0, 0, 0};
    /* candidates: per GEMM the per-sample ways, then the whole batch */
    fk_tune_entry cands[16];
    int nc = 0;
    for (int g = 0; g < ng; g++)
        for (int w = 0; w < nw; w++) {
            cands[nc] = base;
            cands[nc].gemm = gemms[g];
            cands[nc].forward = ways[w];
            cands[nc].backward = s->frozen ? FK_TUNE_DEFAULT : ways[w];
            nc++;
        }
    cands[nc] = base;
    cands[nc].forward = FK_TUNE_BATCH;
    cands[nc].backward = s->frozen ? FK_TUNE_DEFAULT : FK_TUNE_BATCH;
    nc++;

    t->work_elems = most_work(t, s, cands, nc);
    const size_t in_elems = (size_t)d->n * d->c_in * d->h * d->w;
    const size_t out_elems = (size_t)d->n * d->c_out * d->h_out * d->w_out;
    const size_t w_elems = (size_t)d->c_out * d->c_in * d->kh * d->kw;
    FK_TRY(make_buffer(t, &t->in, in_elems, 0.5f));
    FK_TRY(make_buffer(t, &t->out, out_elems, 0.0f));
    FK_TRY(make_buffer(t, &t->weight, w_elems, 0.01f));
    FK_TRY(make_buffer(t, &t->bias, (size_t)d->c_out, 0.1f));
    FK_TRY(make_buffer(t, &t->work, t->work_elems, 0.0f));
    if (!s->frozen) {
        FK_TRY(make_buffer(t, &t->dout, out_elems, 0.01f));
        FK_TRY(make_buffer(t, &t->din, in_elems, 0.0f));
        FK_TRY(make_buffer(t, &t->dweight, w_elems, 0.0f));
        FK_TRY(make_buffer(t, &t->dbias, (size_t)d->c_out, 0.0f));
    }

    /* the device default, then each candidate: forward and backward
     * apart, so that a training entry takes the best of each for a GEMM */
    double def_f, def_b = 0;
    FK_TRY(time_pass(t, s, NULL, false, &def_f));
    if (!s->frozen)
        FK_TRY(time_pass(t, s, NULL, true, &def_b));
    double fwd[16], bwd[16];
    char def_way[64], way[64];
    fk_tune_clear(t->rt);
    fk_conv_choice_describe(t->rt, d, s->frozen, def_way, sizeof def_way);
    for (int i = 0; i < nc; i++) {
        FK_TRY(time_pass(t, s, &cands[i], false, &fwd[i]));
        bwd[i] = 0;
        if (!s->frozen)
            FK_TRY(time_pass(t, s, &cands[i], true, &bwd[i]));
    }
    /* per GEMM: its best forward and best backward (the batch path's
     * GEMMs are CLBlast's whatever the entry's GEMM says) */
    *best = base;
    double best_ms = 0;
    for (int g = 0; g < ng; g++) {
        int bf = nc - 1, bb = nc - 1;
        for (int i = 0; i < nc - 1; i++)
            if (cands[i].gemm == gemms[g]) {
                bf = fwd[i] < fwd[bf] ? i : bf;
                bb = bwd[i] < bwd[bb] ? i : bb;
            }
        double ms = fwd[bf] + bwd[bb];
        if (g == 0 || ms < best_ms) {
            best_ms = ms;
            *best = base;
            best->gemm = gemms[g];
            best->forward = cands[bf].forward;
            best->backward = s->frozen ? FK_TUNE_DEFAULT : cands[bb].backward;
        }
    }
    /* the default's time: the best of its own timing and the candidates
     * that run as it does (each a sample of the same thing) */
    double def_ms = def_f + def_b;
    for (int g = 0; g < ng; g++)
        for (int i = 0; i < nc; i++)
            for (int j = 0; j < nc; j++) {
                fk_tune_entry e = base;
                e.gemm = gemms[g], e.forward = cands[i].forward;
                e.backward = s->frozen ? FK_TUNE_DEFAULT : cands[j].backward;
                fk_tune_clear(t->rt);
                FK_TRY(fk_tune_set(t->rt, &e));
                fk_conv_choice_describe(t->rt, d, s->frozen, way, sizeof way);
                /* the batch candidate's times are any GEMM's */
                if (!strcmp(way, def_way) && (cands[i].gemm == gemms[g] || i == nc - 1) &&
                    (cands[j].gemm == gemms[g] || j == nc - 1) && fwd[i] + bwd[j] < def_ms)
                    def_ms = fwd[i] + bwd[j];
            }
    fk_tune_clear(t->rt);
    FK_TRY(fk_tune_set(t->rt, best));
    fk_conv_choice_describe(t->rt, d, s->frozen, way, sizeof way);
    best->default_ms = def_ms;
    /* the default's way, or within 3% of its time (the timing's noise):
     * keep the default */
    if (!strcmp(way, def_way) || best_ms > 0.97 * def_ms) {
        best->gemm = FK_CONV_GEMM_DEFAULT;
        best->forward = best->backward = FK_TUNE_DEFAULT;
        best_ms = def_ms;
    }
    best->ms = best_ms;
    release_buffers(t);
    return FK_OK;
}

/* ---- CLBlast's own tuner ---------------------------------------------- */

static size_t round_up(size_t v, size_t to)
{
    return (v + to - 1) / to * to;
}

/* best of t->steps CLBlast GEMMs a[m,k] x b[k,n] -> c[m,n] after one warm-up
 * (CLBlast's program build), in ms */
static fk_status time_gemm(tuner *t, size_t m, size_t n, size_t k, cl_mem c, double *ms)
{
    *ms = 0;
    for (long i = -1; i < t->steps; i++) {
        double t0 = fk_seconds();
        FK_TRY(fk_gemm(t->rt, false, false, m, n, k, 1.0f, t->in, 0, k, t->weight, 0, n, 0.0f, c, 0, n));
        FK_TRY(fk_runtime_finish(t->rt));
        double dt = 1e3 * (fk_seconds() - t0);
        *ms = i == 0 || (i > 0 && dt < *ms) ? dt : *ms;
    }
    return FK_OK;
}

/* Where a GEMM of the pair's convs runs on kernel `kernel` (Xgemm, or
 * XgemmDirect below CLBlast's size limit for this device): the one with
 * the most multiply-adds, per-sample (n = HO*WO) or whole-batch (n *= N),
 * of those whose matrices fit in one device buffer each. */
static bool blas_shape(const tuner *t, bool direct, size_t min_indirect, size_t *m, size_t *n, size_t *k)
{
    double most = 0;
    const unsigned long long limit = (unsigned long long)min_indirect * min_indirect * min_indirect;
    for (int i = 0; i < t->count; i++) {
        const fk_conv_dims *d = &t->shapes[i].d;
        for (int whole = 0; whole < 2; whole++) {
            size_t gm = (size_t)d->c_out, gk = (size_t)d->c_in * d->kh * d->kw;
            size_t gn = (size_t)d->h_out * d->w_out * (whole ? (size_t)d->n : 1);
            const unsigned long long macs = (unsigned long long)gm * gn * gk;
            const uint64_t floats = (uint64_t)gn * (gk > gm ? gk : gm); /* the largest of its three matrices */
            if ((macs < limit) != direct || (double)macs <= most || floats * sizeof(float) > t->rt->dev.max_alloc)
                continue;
            most = (double)macs;
            *m = gm, *n = gn, *k = gk;
        }
    }
    return most > 0;
}

/* CLBlast's tuner for one kernel on the pair's largest GEMM that runs on
 * it; the result kept (fk_tune_set_blas, in force) when it is right and
 * at least 3% faster than CLBlast's own values on that GEMM. */
static fk_status tune_blas_kernel(tuner *t, const char *kernel, size_t min_indirect, double fraction)
{
    size_t m = 0, n = 0, k = 0;
    const bool direct = !strcmp(kernel, "XgemmDirect");
    if (!blas_shape(t, direct, min_indirect, &m, &n, &k)) {
        printf("  clblast %-11s no GEMM of the pair runs on it: not tuned\n", kernel);
        return FK_OK;
    }
    fk_blas_params def, tuned;
    memset(&def, 0, sizeof def);
    snprintf(def.kernel, sizeof def.kernel, "%s", kernel);
    tuned = def;
    release_buffers(t);
    int s = fk_blas_retrieve(t->rt->dev.device_id, &def);
    if (s)
        return fk_error(FK_ERR_BLAS, "tune: CLBlast's %s parameters on %s: %s", kernel, t->rt->dev.name,
                        fk_blas_errname(s));
    /* written whole below, by the host or by the GEMMs */
    FK_TRY(fk_buffer_create(t->rt, m * k * sizeof(float), 0, &t->in));
    FK_TRY(fk_buffer_create(t->rt, k * n * sizeof(float), 0, &t->weight));
    FK_TRY(fk_buffer_create(t->rt, m * n * sizeof(float), 0, &t->out));
    FK_TRY(fk_buffer_create(t->rt, m * n * sizeof(float), 0, &t->dout));
    /* inputs that catch a wrong index: a[i] = (i % 13 - 6) / 8, b[i] = (i % 7 - 3) / 4 */
    float *host = fk_malloc((m > n ? m : n) * k * sizeof *host);
    if (!host)
        return FK_ERR_NOMEM;
    for (size_t i = 0; i < m * k; i++)
        host[i] = (float)((int)(i % 13) - 6) / 8.0f;
    fk_status st = fk_buffer_write(t->rt, t->in, 0, m * k * sizeof *host, host);
    for (size_t i = 0; i < k * n && !st; i++)
        host[i] = (float)((int)(i % 7) - 3) / 4.0f;
    if (!st)
        st = fk_buffer_write(t->rt, t->weight, 0, k * n * sizeof *host, host);
    free(host);
    FK_TRY(st);

    double def_ms, ms;
    FK_TRY(time_gemm(t, m, n, k, t->out, &def_ms));
    /* the tuner's own GEMM (Xgemm: m and n multiples of 128, k of 32) */
    const size_t tm = direct ? m : round_up(m, 128), tn = direct ? n : round_up(n, 128), tk = direct ? k : round_up(k, 32);
    double t0 = fk_seconds();
    s = fk_blas_tune(t->rt->queue, tm, tn, tk, fraction, &tuned);
    const double took = fk_seconds() - t0;
    if (s) {
        printf("  clblast %-11s %5zu x %5zu x %5zu: CLBlast's tuner failed (%s, %.0f s): CLBlast's values kept\n",
               kernel, m, n, k, fk_blas_errname(s), took);
        return FK_OK;
    }
    s = fk_blas_override(t->rt->dev.device_id, &tuned);
    if (s)
        return fk_error(FK_ERR_BLAS, "tune: CLBlast refused its tuner's %s parameters: %s", kernel,
                        fk_blas_errname(s));
    FK_TRY(time_gemm(t, m, n, k, t->dout, &ms));
    /* the same products with the tuned values: the same floats up to the order of the sums */
    float *a = fk_malloc(m * n * sizeof *a), *b = fk_malloc(m * n * sizeof *b);
    st = a && b ? FK_OK : FK_ERR_NOMEM;
    if (!st)
        st = fk_buffer_read(t->rt, t->out, 0, m * n * sizeof *a, a);
    if (!st)
        st = fk_buffer_read(t->rt, t->dout, 0, m * n * sizeof *b, b);
    double worst = 0;
    for (size_t i = 0; i < m * n && !st; i++) {
        double e = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)a[i]));
        worst = e > worst || e != e ? e : worst;
    }
    free(a);
    free(b);
    FK_TRY(st);
    const bool right = worst <= 1e-4 * sqrt((double)k), faster = ms < 0.97 * def_ms;
    printf("  clblast %-11s %5zu x %5zu x %5zu: CLBlast's values %8.2f ms, its tuner's %8.2f ms (%.0f s)%s\n", kernel,
           m, n, k, def_ms, ms, took,
           !right ? ": results differ, not kept" : faster ? "" : ": not 3% faster, not kept");
    if (right && faster) {
        tuned.m = m, tuned.n = n, tuned.k = k, tuned.ms = ms, tuned.default_ms = def_ms;
        return fk_tune_set_blas(t->rt, &tuned);
    }
    s = fk_blas_override(t->rt->dev.device_id, &def);
    return s ? fk_error(FK_ERR_BLAS, "tune: CLBlast refused its own %s parameters back: %s", kernel,
                        fk_blas_errname(s))
             : FK_OK;
}

static fk_status tune_blas(tuner *t, double fraction)
{
    if (!fk_blas_tuner_available()) {
        printf("  clblast: this build has no CLBlast tuner (it needs a C++ compiler at build time)\n");
        return FK_OK;
    }
    fk_blas_params routine;
    memset(&routine, 0, sizeof routine);
    snprintf(routine.kernel, sizeof routine.kernel, "GemmRoutine");
    int s = fk_blas_retrieve(t->rt->dev.device_id, &routine);
    size_t min_indirect = 0;
    for (int i = 0; !s && i < routine.count; i++)
        if (!strcmp(routine.names[i], "XGEMM_MIN_INDIRECT_SIZE"))
            min_indirect = routine.values[i];
    if (s || !min_indirect)
        return fk_error(FK_ERR_BLAS, "tune: CLBlast's GEMM size limit on %s: %s", t->rt->dev.name,
                        s ? fk_blas_errname(s) : "no XGEMM_MIN_INDIRECT_SIZE");
    printf("CLBlast's tuner, %.4g of its configurations (direct kernel below %zu^3 multiply-adds):\n", fraction,
           min_indirect);
    fk_status st = tune_blas_kernel(t, "Xgemm", min_indirect, fraction);
    if (!st)
        st = tune_blas_kernel(t, "XgemmDirect", min_indirect, fraction);
    release_buffers(t);
    return st;
}

fk_status fk_tune_run(const fk_config *cfg, long steps, int batch, double blas_fraction, const char *out,
                      fk_tune_result *r)
{
    memset(r, 0, sizeof *r);
    tuner t;
    memset(&t, 0, sizeof t);
    t.steps = steps > 0 ? steps : 1;
    const bool grey = cfg->data.dataset == FK_DATASET_FASHION_MNIST || cfg->data.dataset == FK_DATASET_MNIST;
    const int n = batch ? batch : cfg->optim.batch_size, channels = cfg->data.channels ? cfg->data.channels : grey ? 1 : 3;
    int classes = fk_bench_default_classes(cfg);
    classes = classes ? classes : 100; /* the classifier is no conv */
    FK_TRY(fk_runtime_create(&t.rt));
    fk_runtime_options *o = &t.rt->opts;
    if (o->conv_path || o->conv_gemm || o->winograd) {
        fprintf(stderr, "figkd-cl tune: FIGKD_CONV_PATH, FIGKD_CONV_GEMM and FIGKD_WINOGRAD are ignored while "
                        "timing (they still win over the cache in train and bench)\n");
        o->conv_path = FK_CONV_PATH_DEFAULT, o->conv_gemm = FK_CONV_GEMM_DEFAULT, o->winograd = FK_SWITCH_DEFAULT;
    }
    fk_status st = FK_OK;
    if (out && *out)
        snprintf(r->file, sizeof r->file, "%s", out);
    else
        st = fk_tune_path(t.rt, r->file, sizeof r->file);
    /* the teacher's convs run in the frozen plan's fused forward unless it
     * is not folded (FIGKD_FOLD_TEACHER=0, a method that reads its features) */
    const bool frozen = o->fold_teacher != FK_SWITCH_OFF && !FK_METHOD_TAPS(cfg->method);
    if (!st && cfg->method->needs_teacher)
        st = collect(&t, cfg->teacher_model, cfg, classes, channels, n, frozen);
    if (!st)
        st = collect(&t, cfg->student_model, cfg, classes, channels, n, false);
    if (!st)
        printf("device: %s (%s), driver %s\n%d conv shapes of %s%s%s at batch %d, best of %ld runs each\n",
               t.rt->dev.name, t.rt->dev.platform, t.rt->dev.driver, t.count,
               cfg->method->needs_teacher ? cfg->teacher_model : "", cfg->method->needs_teacher ? " -> " : "",
               cfg->student_model, n, t.steps);
    /* CLBlast first, so that the convs' CLBlast candidates run with its values */
    if (blas_fraction < 0)
        blas_fraction = t.rt->dev.is_cpu ? 0 : 1.0 / 512;
    if (!st && blas_fraction > 0)
        st = tune_blas(&t, blas_fraction);
    r->blas_kernels = t.rt->nblas;
    fk_tune_entry *chosen = t.count ? fk_calloc((size_t)t.count, sizeof *chosen) : NULL;
    if (!st && t.count && !chosen)
        st = FK_ERR_NOMEM;
    for (int i = 0; i < t.count && !st; i++) {
        const fk_conv_dims *d = &t.shapes[i].d;
        st = tune_shape_run(&t, &t.shapes[i], &chosen[i]);
        if (st)
            break;
        const fk_tune_entry *e = &chosen[i];
        char def_way[64], way[64];
        fk_tune_clear(t.rt);
        fk_conv_choice_describe(t.rt, d, e->frozen, def_way, sizeof def_way);
        st = fk_tune_set(t.rt, e);
        fk_conv_choice_describe(t.rt, d, e->frozen, way, sizeof way);
        printf("  %-6s %4d x %4d x %3dx%-3d -> %4d k%d s%d p%d: default %-22s %8.2f ms, chosen %-22s %8.2f ms\n",
               e->frozen ? "frozen" : "train", d->n, d->c_in, d->h, d->w, d->c_out, d->kh, d->stride, d->pad,
               def_way, e->default_ms, way, e->ms);
        r->changed += e->gemm || e->forward || e->backward;
        r->default_ms += e->default_ms;
        r->tuned_ms += e->ms;
    }
    release_buffers(&t);
    if (!st) {
        fk_tune_clear(t.rt);
        for (int i = 0; i < t.count && !st; i++)
            st = fk_tune_set(t.rt, &chosen[i]);
    }
    if (!st)
        st = fk_tune_save(t.rt, r->file);
    if (!st)
        r->shapes = t.count;
    free(chosen);
    free(t.shapes);
    fk_runtime_free(t.rt);
    return st;
}
