/* A checkpoint on data: its test accuracy (eval), and eval-mode outputs of
 * every image of a split, in file order: logits, labels and penultimate
 * features in memory (fk_predictions_run) or as .npy files (predict). */
#include "figkd/check.h"
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
} predict;

/* The classifier's input: the input of the last node (the logits). */
static const fk_node *feature_node(fk_model *m)
{
    fk_graph *g = &m->graph;
    return fk_node_input(g, &g->nodes[g->count - 1], 0);
}

/* Forward every batch of the split, keeping the outputs of its images. */
static fk_status predict_rows(predict *P, int B, fk_predictions *r)
{
    const fk_node *fn = r->features ? feature_node(P->m) : NULL;
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
            st = fk_buffer_read(P->rt, logits.buf, logits.off * 4, (size_t)b.count * r->classes * 4,
                                r->logits + (size_t)row * r->classes);
        if (!st && fn)
            st = fk_buffer_read(P->rt, fn->out.buf, fn->out.off * 4, (size_t)b.count * r->features * 4,
                                r->feats + (size_t)row * r->features);
        memcpy(r->labels + row, b.labels, (size_t)b.count * sizeof *b.labels);
        row += b.count;
        fk_loader_release(P->l, &b);
        FK_TRY(st);
    }
    r->rows = row;
    return FK_OK;
}

static fk_status predict_all(predict *P, const fk_config *cfg, const char *weights, const char *model,
                             bool train_split, fk_predictions *r)
{
    int B = cfg->optim.batch_size;
    FK_TRY(fk_session_runtime(&P->rt));
    FK_TRY(fk_dataset_open(&cfg->data, train_split, &P->ds));
    r->classes = fk_dataset_classes(P->ds);
    char name[64];
    FK_TRY(fk_session_weights_model(cfg, weights, model, name, sizeof name));
    FK_TRY(fk_session_model(P->rt, cfg, name, r->classes,
                            fk_session_channels(cfg, P->ds), 0, &P->m));
    FK_TRY(fk_session_load_weights(P->rt, P->m, weights));
    const fk_node *in0 = &P->m->graph.nodes[0];
    FK_TRY(fk_session_check_memory(P->rt, P->m, false, NULL, false, B, (size_t)in0->c * in0->h * in0->w * sizeof(float)));
    FK_TRY(fk_model_plan(P->m, B, false));
    snprintf(r->model, sizeof r->model, "%s", P->m->entry->name);
    if (r->features) {
        const fk_node *fn = feature_node(P->m);
        r->features = (int)(fk_tensor_numel(&fn->out) / (size_t)B);
    }
    size_t n = (size_t)fk_dataset_count(P->ds);
    r->logits = fk_malloc((n ? n : 1) * (size_t)r->classes * sizeof(float));
    r->labels = fk_malloc((n ? n : 1) * sizeof *r->labels);
    r->feats = r->features ? fk_malloc((n ? n : 1) * (size_t)r->features * sizeof(float)) : NULL;
    if (!r->logits || !r->labels || (r->features && !r->feats))
        return FK_ERR_NOMEM;
    const fk_node *in = &P->m->graph.nodes[0];
    FK_TRY(fk_buffer_create(P->rt, (size_t)B * in->c * in->h * in->w * 4, 0, &P->x));
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.train = 0; /* keep the last partial batch, no augmentation, file order */
    o.batch = B;
    FK_TRY(fk_loader_create(P->ds, &cfg->data, &o, &P->l));
    return predict_rows(P, B, r);
}

void fk_predictions_free(fk_predictions *p)
{
    free(p->logits);
    free(p->labels);
    free(p->feats);
    memset(p, 0, sizeof *p);
}

fk_status fk_predictions_run(const fk_config *cfg, const char *weights, const char *model, bool train_split,
                             bool features, fk_predictions *r)
{
    predict P;
    memset(&P, 0, sizeof P);
    memset(r, 0, sizeof *r);
    r->features = features;
    fk_status st = predict_all(&P, cfg, weights, model, train_split, r);
    if (P.l)
        fk_loader_free(P.l);
    if (P.x)
        clReleaseMemObject(P.x);
    fk_model_free(P.m);
    fk_dataset_free(P.ds);
    fk_runtime_free(P.rt);
    if (st)
        fk_predictions_free(r);
    return st;
}

static fk_status write_predictions(const fk_predictions *p, const fk_predict_files *out)
{
    int64_t shape[2] = {p->rows, p->classes};
    FK_TRY(fk_npy_write(out->logits, p->logits, 2, shape));
    if (out->labels) {
        int64_t *y = fk_malloc((p->rows ? (size_t)p->rows : 1) * sizeof *y);
        if (!y)
            return FK_ERR_NOMEM;
        for (long i = 0; i < p->rows; i++)
            y[i] = p->labels[i];
        fk_status st = fk_npy_write_i64(out->labels, y, 1, shape);
        free(y);
        FK_TRY(st);
    }
    if (out->features) {
        int64_t fshape[2] = {p->rows, p->features};
        FK_TRY(fk_npy_write(out->features, p->feats, 2, fshape));
    }
    return FK_OK;
}

fk_status fk_predict_run(const fk_config *cfg, const char *weights, const char *model, bool train_split,
                         const fk_predict_files *out, fk_predict_result *r)
{
    memset(r, 0, sizeof *r);
    fk_predictions p;
    FK_TRY(fk_predictions_run(cfg, weights, model, train_split, out->features != NULL, &p));
    fk_status st = write_predictions(&p, out);
    r->rows = p.rows;
    r->classes = p.classes;
    snprintf(r->model, sizeof r->model, "%s", p.model);
    fk_predictions_free(&p);
    return st;
}

static fk_status eval_all(predict *P, const fk_config *cfg, const char *model, fk_eval_result *r)
{
    FK_TRY(fk_session_runtime(&P->rt));
    FK_TRY(fk_dataset_open(&cfg->data, 0, &P->ds));
    char name[64];
    FK_TRY(fk_session_weights_model(cfg, r->weights, model, name, sizeof name));
    FK_TRY(fk_session_model(P->rt, cfg, name, fk_dataset_classes(P->ds),
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
    else
        fk_check_default_weights(cfg, r->weights, sizeof r->weights);
    predict P;
    memset(&P, 0, sizeof P);
    fk_status st = eval_all(&P, cfg, model, r);
    fk_model_free(P.m);
    fk_dataset_free(P.ds);
    fk_runtime_free(P.rt);
    return st;
}
