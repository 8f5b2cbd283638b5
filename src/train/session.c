/* Helpers shared by train, eval, bench and predict. */
#include "train/session.h"

#include "figkd/parallel.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

fk_status fk_session_runtime(fk_runtime **out)
{
    fk_runtime_options ro;
    FK_TRY(fk_runtime_options_from_env(&ro));
    ro.local_rank = fk_par_world()->local_rank; /* 0 in one process */
    return fk_runtime_create_opts(&ro, out);
}

static void *pinned_alloc(void *ctx, size_t bytes)
{
    fk_pinned *p = ctx;
    if (p->count == p->capacity) {
        int cap = p->capacity ? 2 * p->capacity : 16;
        cl_mem *m = realloc(p->mems, (size_t)cap * sizeof *m);
        if (!m)
            return NULL;
        p->mems = m;
        void **q = realloc(p->ptrs, (size_t)cap * sizeof *q);
        if (!q)
            return NULL;
        p->ptrs = q;
        p->capacity = cap;
    }
    cl_int err;
    cl_mem m = clCreateBuffer(p->rt->ctx, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, NULL, &err);
    if (err != CL_SUCCESS) {
        fk_cl_fail(err, "clCreateBuffer(pinned batch)", __FILE__, __LINE__);
        return NULL;
    }
    void *ptr = clEnqueueMapBuffer(p->rt->queue, m, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, bytes, 0, NULL, NULL,
                                   &err);
    if (err != CL_SUCCESS) {
        fk_cl_fail(err, "clEnqueueMapBuffer(pinned batch)", __FILE__, __LINE__);
        clReleaseMemObject(m);
        return NULL;
    }
    p->mems[p->count] = m;
    p->ptrs[p->count++] = ptr;
    return ptr;
}

static void pinned_release(void *ctx, void *ptr)
{
    fk_pinned *p = ctx;
    for (int i = 0; i < p->count; i++)
        if (p->ptrs[i] == ptr) {
            clEnqueueUnmapMemObject(p->rt->queue, p->mems[i], ptr, 0, NULL, NULL);
            clFinish(p->rt->queue);
            clReleaseMemObject(p->mems[i]);
            p->mems[i] = p->mems[--p->count];
            p->ptrs[i] = p->ptrs[p->count];
            return;
        }
}

void fk_pinned_init(fk_pinned *p, fk_runtime *rt)
{
    memset(p, 0, sizeof *p);
    p->rt = rt;
    p->allocator.alloc = pinned_alloc;
    p->allocator.free = pinned_release;
    p->allocator.ctx = p;
}

void fk_pinned_free(fk_pinned *p)
{
    while (p->count > 0)
        pinned_release(p, p->ptrs[0]);
    free(p->mems);
    free(p->ptrs);
    memset(p, 0, sizeof *p);
}

int fk_session_channels(const fk_config *cfg, const fk_dataset *ds)
{
    return cfg->data.channels ? cfg->data.channels : fk_dataset_channels(ds);
}

fk_status fk_session_model(fk_runtime *rt, const fk_config *cfg, const char *name, int classes, int channels,
                           uint64_t seed, fk_model **out)
{
    fk_model_opts o = {classes, cfg->data.input_size, channels};
    FK_TRY(fk_model_build(name, &o, out));
    fk_status st = fk_model_to_device(rt, *out, seed);
    if (st != FK_OK) {
        fk_model_free(*out);
        *out = NULL;
    }
    return st;
}

fk_status fk_session_weights_model(const fk_config *cfg, const char *weights, const char *model, char *out,
                                   size_t n)
{
    if (model && *model) {
        snprintf(out, n, "%s", model);
        return FK_OK;
    }
    fk_st_file f;
    FK_TRY(fk_st_read_meta(weights, &f));
    const char *named = fk_st_meta(&f, "figkd.model");
    snprintf(out, n, "%s", named && *named ? named : cfg->student_model);
    fk_st_free(&f);
    if (!out[0])
        return fk_error(FK_ERR_ARG, "%s: no model named (figkd.model metadata), none in %s ([student] model) "
                        "and no --model: say which model these weights are for", weights, cfg->path);
    return FK_OK;
}

fk_status fk_session_load_weights(fk_runtime *rt, fk_model *m, const char *path)
{
    return fk_checkpoint_load(rt, &m->graph.params, path, false, NULL);
}

fk_status fk_session_evaluate(fk_step *s, fk_model *m, fk_dataset *ds, const fk_config *cfg, cl_mem x, cl_mem y,
                              double *top1, double *top5, double *loss)
{
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.train = 0;
    o.batch = s->batch;
    o.seed = cfg->seed;
    /* in an MPI job each rank evaluates its share; the counts are summed */
    const fk_par *par = fk_par_world();
    long total = fk_dataset_count(ds), begin, end;
    fk_par_shard(par, total, &begin, &end);
    o.shard = par->rank;
    o.shards = par->size;
    fk_loader *l = NULL;
    fk_pinned pinned;
    fk_pinned_init(&pinned, s->rt);
    o.allocator = &pinned.allocator;
    FK_TRY(fk_step_reset_acc(s));
    /* a rank whose share is empty (fewer test images than ranks) adds nothing */
    fk_status cs = end > begin || !fk_par_many(par) ? fk_loader_create(ds, &cfg->data, &o, &l) : FK_OK;
    if (cs != FK_OK) {
        fk_pinned_free(&pinned);
        return cs;
    }
    fk_status st = FK_OK;
    long seen = 0;
    while (l) {
        fk_batch b;
        if ((st = fk_loader_next(l, &b)) != FK_OK)
            break;
        if (b.end_of_epoch)
            break;
        size_t img = (size_t)b.count * b.c * b.h * b.w;
        st = fk_buffer_write(s->rt, x, 0, img * sizeof(float), b.images);
        if (st == FK_OK)
            st = fk_buffer_write(s->rt, y, 0, (size_t)b.count * sizeof(int32_t), b.labels);
        if (st == FK_OK)
            st = fk_step_eval(s, m, x, y, b.count);
        seen += b.count;
        fk_loader_release(l, &b);
        if (st != FK_OK)
            break;
    }
    if (l)
        fk_loader_free(l);
    fk_pinned_free(&pinned);
    FK_TRY(st);
    float acc[FK_ACC_SLOTS];
    FK_TRY(fk_buffer_read(s->rt, s->acc, 0, sizeof acc, acc));
    long long n_seen = seen;
    FK_TRY(fk_par_sum_f32(par, acc, FK_ACC_SLOTS));
    FK_TRY(fk_par_sum_i64(par, &n_seen, 1));
    seen = (long)n_seen;
    FK_TRY(fk_step_reset_acc(s));
    if (acc[FK_ACC_NONFINITE] > 0)
        return fk_error(FK_ERR_NUMERIC, "evaluation: %.0f of %ld images give NaN or Inf logits: the weights "
                        "(or their BatchNorm statistics) hold NaN or Inf", (double)acc[FK_ACC_NONFINITE], seen);
    double n = seen ? (double)seen : 1.0;
    *top1 = acc[FK_ACC_TOP1] / n;
    *top5 = acc[FK_ACC_TOP5] / n;
    *loss = acc[FK_ACC_CE] / n;
    return FK_OK;
}

fk_status fk_session_evaluate_model(fk_runtime *rt, fk_model *m, fk_dataset *ds, const fk_config *cfg, int batch,
                                    double *top1, double *top5, double *loss)
{
    fk_step s;
    cl_mem x = NULL, y = NULL;
    memset(&s, 0, sizeof s);
    const fk_node *in = &m->graph.nodes[0];
    size_t img = (size_t)batch * in->c * in->h * in->w;
    fk_status st = fk_session_check_memory(rt, m, false, NULL, false, batch, img / (size_t)batch * sizeof(float));
    if (!st)
        st = fk_model_plan(m, batch, false);
    if (!st)
        st = fk_step_init(&s, rt, m, NULL, &(fk_loss_spec){.method = FK_METHOD_CE}, batch, fk_dataset_classes(ds));
    if (!st)
        st = fk_buffer_create(rt, img * sizeof(float), 0, &x);
    if (!st)
        st = fk_buffer_create(rt, (size_t)batch * sizeof(int32_t), 0, &y);
    if (!st)
        st = fk_session_evaluate(&s, m, ds, cfg, x, y, top1, top5, loss);
    fk_step_free(&s);
    if (x)
        clReleaseMemObject(x);
    if (y)
        clReleaseMemObject(y);
    return st;
}

static double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

/* the bytes of the student's and the teacher's plans for batch n */
static fk_status plans_bytes(fk_model *student, bool train, fk_model *teacher, bool teacher_feats, int n,
                             double *bytes)
{
    size_t s = 0, t = 0;
    FK_TRY(fk_model_bytes(student, n, train, &s));
    if (teacher)
        FK_TRY(fk_model_teacher_bytes(teacher, n, teacher_feats, &t));
    *bytes = (double)s + (double)t;
    return FK_OK;
}

fk_status fk_session_check_memory(fk_runtime *rt, fk_model *student, bool train, fk_model *teacher,
                                  bool teacher_feats, int batch, size_t per_image)
{
    /* the plans grow with the batch: their bytes at batch 1 are the fixed
     * part (parameters) plus one image's share */
    double at1, atb;
    FK_TRY(plans_bytes(student, train, teacher, teacher_feats, 1, &at1));
    FK_TRY(plans_bytes(student, train, teacher, teacher_feats, batch, &atb));
    double image = (atb - at1) / (batch > 1 ? batch - 1 : 1) + (double)per_image;
    double fixed = at1 - (atb - at1) / (batch > 1 ? batch - 1 : 1);
    double need = fixed + image * batch, have = (double)rt->dev.global_mem;
    if (need <= have)
        return FK_OK;
    long fits = image > 0 ? (long)((have * 0.9 - fixed) / image) : 0;
    if (fits >= 8)
        fits -= fits % 8;
    char hint[96];
    if (fits >= 1)
        snprintf(hint, sizeof hint, "batch_size = %ld fits", fits);
    else
        snprintf(hint, sizeof hint, "even batch size 1 does not fit: a smaller model or a larger device");
    return fk_error(FK_ERR_NOMEM, "batch size %d needs about %.2f GiB of device memory (%.2f GiB of weights and "
                    "optimizer state, %.3f MiB per image), the device (%s) has %.2f GiB: %s", batch, gib(need),
                    gib(fixed), image / (1024.0 * 1024.0), rt->dev.name, gib(have), hint);
}
