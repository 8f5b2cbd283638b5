/* AT (attention transfer) on feature maps, stage by stage (cl/at.cl): per
 * stage the teacher's map, the student's map, their normalised difference
 * (with its gradient in place of the student's map) and the backward into
 * the student's features; the value is then the fixed-order sum of the
 * per-sample terms of every stage (cl/loss.cl loss_mean). */
#include "loss/loss_internal.h"

#include <limits.h>

/* The common map of a stage: the smaller side of each dimension (the
 * larger map is pooled to it); *P its size. */
static fk_status at_dims(const fk_tensor *s, const fk_tensor *t, int i, int *ho, int *wo, int *P)
{
    int hs = s->shape[2], ws = s->shape[3], ht = t->shape[2], wt = t->shape[3];
    *ho = hs < ht ? hs : ht;
    *wo = ws < wt ? ws : wt;
    if (s->ndim != 4 || t->ndim != 4 || s->shape[0] != t->shape[0] || *ho <= 0 || *wo <= 0)
        return fk_error(FK_ERR_ARG, "AT: stage %d is (%d, %d, %d, %d) in the student and (%d, %d, %d, %d) in the teacher",
                        i, s->shape[0], s->shape[1], hs, ws, t->shape[0], t->shape[1], ht, wt);
    *P = *ho * *wo;
    return FK_OK;
}

size_t fk_at_work(const fk_tensor *student, const fk_tensor *teacher, int stages)
{
    size_t most = 0;
    for (int i = 0; i < stages; i++) {
        int ho = 0, wo = 0, P = 0;
        if (at_dims(&student[i], &teacher[i], i, &ho, &wo, &P) != FK_OK)
            return 0;
        if ((size_t)P > most)
            most = (size_t)P;
    }
    size_t n = stages > 0 ? (size_t)student[0].shape[0] : 0;
    return n * (size_t)stages + 2 * n * most;
}

static fk_status at_map(fk_runtime *rt, fk_tensor f, fk_tensor q, int ho, int wo, float p)
{
    cl_kernel kn;
    FK_TRY(fk_kernel(rt, FK_K_AT_MAP, &kn));
    int N = f.shape[0], C = f.shape[1], H = f.shape[2], W = f.shape[3];
    FK_RUN_1D(rt, kn, (size_t)N * (size_t)ho * (size_t)wo, FK_T(f), FK_T(q), FK_A(N), FK_A(C), FK_A(H), FK_A(W),
              FK_A(ho), FK_A(wo), FK_A(p));
    return FK_OK;
}

fk_status fk_at_loss(fk_runtime *rt, fk_tensor value, const fk_tensor *student, const fk_tensor *dstudent,
                     const fk_tensor *teacher, int stages, float p, float weight, fk_tensor work)
{
    const char *who = "fk_at_loss";
    if (stages <= 0)
        return fk_error(FK_ERR_ARG, "%s: no stages to compare", who);
    if (!(p > 0.0f))
        return fk_error(FK_ERR_ARG, "%s: p %g must be positive", who, (double)p);
    FK_TRY(fk_loss_check_tensor(who, "value", &value, 1));
    size_t need = fk_at_work(student, teacher, stages);
    if (need == 0)
        return FK_ERR_ARG; /* at_dims said why */
    FK_TRY(fk_loss_check_tensor(who, "work", &work, need));
    int N = student[0].shape[0], most = (int)((need - (size_t)N * stages) / (2 * (size_t)N));
    if ((size_t)N * (size_t)stages * 2 > INT_MAX)
        return fk_error(FK_ERR_ARG, "%s: batch %d is too large", who, N);
    fk_tensor terms = work, qs = work, qt = work;
    qs.off += (size_t)N * stages;
    qt.off = qs.off + (size_t)N * most;
    for (int i = 0; i < stages; i++) {
        int ho = 0, wo = 0, P = 0;
        FK_TRY(at_dims(&student[i], &teacher[i], i, &ho, &wo, &P));
        if (student[i].shape[0] != N)
            return fk_error(FK_ERR_ARG, "%s: stage %d has batch %d, stage 0 %d", who, i, student[i].shape[0], N);
        FK_TRY(fk_loss_check_tensor(who, "student", &student[i], fk_tensor_numel(&student[i])));
        FK_TRY(fk_loss_check_tensor(who, "teacher", &teacher[i], fk_tensor_numel(&teacher[i])));
        FK_TRY(at_map(rt, teacher[i], qt, ho, wo, p));
        FK_TRY(at_map(rt, student[i], qs, ho, wo, p));
        int has_grad = dstudent != NULL;
        if (has_grad)
            FK_TRY(fk_loss_check_tensor(who, "dstudent", &dstudent[i], fk_tensor_numel(&student[i])));
        cl_kernel k;
        FK_TRY(fk_kernel(rt, FK_K_AT_NORM, &k));
        const float inv_np = 1.0f / ((float)N * (float)P);
        fk_tensor ti = terms;
        ti.off += (size_t)N * i;
        FK_RUN_1D(rt, k, (size_t)N, FK_T(qs), FK_T(qt), FK_T(ti), FK_A(N), FK_A(P), FK_A(inv_np), FK_A(weight),
                  FK_A(has_grad));
        if (!has_grad)
            continue;
        const fk_tensor *f = &student[i];
        int C = f->shape[1], H = f->shape[2], W = f->shape[3];
        FK_TRY(fk_kernel(rt, FK_K_AT_BACKWARD, &k));
        FK_RUN_1D(rt, k, fk_tensor_numel(f), FK_T(*f), FK_T(dstudent[i]), FK_T(qs), FK_A(N), FK_A(C), FK_A(H),
                  FK_A(W), FK_A(ho), FK_A(wo), FK_A(p));
    }
    terms.ndim = 0;
    return fk_loss_mean(rt, value, terms, N * stages, 1.0f);
}
