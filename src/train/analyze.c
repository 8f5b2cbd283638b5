/* `figkd-cl analyze`: how well a model predicts from the low- and the
 * high-frequency part of its logits (include/figkd/bands.h), over a split,
 * and with a teacher beside it, how often the two agree per reconstruction. */
#include "figkd/bands.h"
#include "figkd/loss.h"
#include "figkd/train.h"

#include <string.h>

/* Band statistics of one model's predictions; keeps the arg-maxes. */
static fk_status analyze_model(const fk_config *cfg, const char *weights, const char *model, bool train_split,
                               fk_band_stats *s, fk_analyze_model *out)
{
    fk_predictions p;
    FK_TRY(fk_predictions_run(cfg, weights, model, train_split, false, &p));
    int h, w;
    fk_figkd_grid(p.classes, &h, &w);
    fk_status st = fk_band_stats_init(s, p.classes, h, w, p.rows);
    if (!st)
        st = fk_band_stats_add(s, p.logits, p.labels, (int)p.rows);
    if (!st) {
        snprintf(out->model, sizeof out->model, "%s", p.model);
        double total = 0;
        for (int b = 0; b < 4; b++)
            total += s->energy[b];
        for (int r = 0; r < FK_RECON_COUNT; r++)
            out->top1[r] = s->n ? (double)s->correct[r] / (double)s->n : 0;
        for (int b = 0; b < 4; b++)
            out->energy[b] = total > 0 ? s->energy[b] / total : 0;
    }
    fk_predictions_free(&p);
    return st;
}

fk_status fk_analyze_run(const fk_config *cfg, const char *weights, const char *model, const char *teacher_weights,
                         bool train_split, fk_analyze_result *r)
{
    memset(r, 0, sizeof *r);
    fk_band_stats s, t;
    memset(&t, 0, sizeof t);
    FK_TRY(analyze_model(cfg, weights, model, train_split, &s, &r->student));
    r->n = s.n;
    r->classes = s.classes;
    r->grid_h = s.grid_h;
    r->grid_w = s.grid_w;
    fk_status st = FK_OK;
    if (teacher_weights) {
        st = analyze_model(cfg, teacher_weights, cfg->teacher_model, train_split, &t, &r->teacher);
        if (!st && t.n != s.n)
            st = fk_error(FK_ERR_ARG, "analyze: the teacher saw %ld images, the student %ld", t.n, s.n);
        if (!st) {
            r->has_teacher = true;
            for (int k = 0; k < FK_RECON_COUNT; k++) {
                long same = 0;
                for (long i = 0; i < s.n; i++)
                    same += s.pred[i * FK_RECON_COUNT + k] == t.pred[i * FK_RECON_COUNT + k];
                r->agreement[k] = s.n ? (double)same / (double)s.n : 0;
            }
        }
    }
    fk_band_stats_free(&s);
    fk_band_stats_free(&t);
    return st;
}
