/* A checkpoint on data: its test accuracy (eval), and eval-mode logits of
 * every image of a split, in file order, as a float32 N x C .npy (predict). */
#include "figkd/train.h"
#include "figkd/io.h"
#include "train/session.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct predict {
    fk_runtime *rt;
    fk_dataset *ds;
    fk_model *m;
    fk_loader *l;
    cl_mem x;
    float *all;   /* (rows, classes) */
} predict;

/* Forward every batch of the split, keeping the logits of its images. */
static fk_status predict_rows(predict *P, int B, int classes, long *rows)
{
    long row = 0;
    for (;;) {
        fk_batch b;
        FK_TRY(fk_loader_next(P->l, &b));
        if (b.end_of_epoch)
            break;
        fk_tensor input = {P->x, 0, 4, {B, b.c, b.h, b.w}}, logits;
        fk_status st = fk_buffer_write(P->rt, P->x, 0, (size_t)b.count * b.c * b.h * b.w * 4, b.images);
        if (!st)
            st = fk_model_forward(P->m, input, false, &logits);
        if (!st)
            st = fk_buffer_read(P->rt, logits.buf, logits.off * 4, (size_t)b.count * classes * 4,
                                P->all + (size_t)row * classes);
        row += b.count;
        fk_loader_release(P->l, &b);
        FK_TRY(st);
    }
    *rows = row;
    return FK_OK;
}

static fk_status predict_all(predict *P, const fk_config *cfg, const char *weights, const char *model,
                             bool train_split, const char *out, fk_predict_result *r)
{
    int B = cfg->optim.batch_size;
    FK_TRY(fk_runtime_create(&P->rt));
    FK_TRY(fk_dataset_open(&cfg->data, train_split, &P->ds));
    int classes = fk_dataset_classes(P->ds);
    FK_TRY(fk_session_model(P->rt, cfg, model ? model : cfg->student_model, classes,
                            fk_session_channels(cfg, P->ds), 0, &P->m));
    FK_TRY(fk_session_load_weights(P->rt, P->m, weights));
    FK_TRY(fk_model_plan(P->m, B, false));
    long n = fk_dataset_count(P->ds);
    P->all = fk_malloc((size_t)n * classes * sizeof(float));
    if (!P->all)
        return FK_ERR_NOMEM;
    const fk_node *in = &P->m->graph.nodes[0];
    FK_TRY(fk_buffer_create(P->rt, (size_t)B * in->c * in->h * in->w * 4, 0, &P->x));
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.train = 0; /* keep the last partial batch, no augmentation, file order */
    o.batch = B;
    FK_TRY(fk_loader_create(P->ds, &cfg->data, &o, &P->l));
    FK_TRY(predict_rows(P, B, classes, &r->rows));
    int64_t shape[2] = {r->rows, classes};
    FK_TRY(fk_npy_write(out, P->all, 2, shape));
    r->classes = classes;
    snprintf(r->model, sizeof r->model, "%s", P->m->entry->name);
    return FK_OK;
}

fk_status fk_predict_run(const fk_config *cfg, const char *weights, const char *model, bool train_split,
                         const char *out, fk_predict_result *r)
{
    predict P;
    memset(&P, 0, sizeof P);
    memset(r, 0, sizeof *r);
    fk_status st = predict_all(&P, cfg, weights, model, train_split, out, r);
    if (P.l)
        fk_loader_free(P.l);
    if (P.x)
        clReleaseMemObject(P.x);
    free(P.all);
    fk_model_free(P.m);
    fk_dataset_free(P.ds);
    fk_runtime_free(P.rt);
    return st;
}

static fk_status eval_all(predict *P, const fk_config *cfg, const char *model, fk_eval_result *r)
{
    FK_TRY(fk_runtime_create(&P->rt));
    FK_TRY(fk_dataset_open(&cfg->data, 0, &P->ds));
    FK_TRY(fk_session_model(P->rt, cfg, model ? model : cfg->student_model, fk_dataset_classes(P->ds),
                            fk_session_channels(cfg, P->ds), 0, &P->m));
    FK_TRY(fk_session_load_weights(P->rt, P->m, r->weights));
    FK_TRY(fk_session_evaluate_model(P->rt, P->m, P->ds, cfg, cfg->optim.batch_size, &r->top1, &r->top5, &r->loss));
    snprintf(r->model, sizeof r->model, "%s", P->m->entry->name);
    r->images = fk_dataset_count(P->ds);
    return FK_OK;
}

fk_status fk_eval_run(const fk_config *cfg, const char *weights, const char *model, fk_eval_result *r)
{
    memset(r, 0, sizeof *r);
    if (weights)
        snprintf(r->weights, sizeof r->weights, "%s", weights);
    else {
        snprintf(r->weights, sizeof r->weights, "%s/best.safetensors", cfg->out_dir);
        if (access(r->weights, F_OK) != 0)
            snprintf(r->weights, sizeof r->weights, "%s/last.safetensors", cfg->out_dir);
    }
    predict P;
    memset(&P, 0, sizeof P);
    fk_status st = eval_all(&P, cfg, model, r);
    fk_model_free(P.m);
    fk_dataset_free(P.ds);
    fk_runtime_free(P.rt);
    return st;
}
