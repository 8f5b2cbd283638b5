/* at (Zagoruyko and Komodakis 2017, "Paying More Attention to Attention"):
 * alpha * CE + beta * the sum over stages 1, 2, ... of the attention-map
 * distance (src/loss/at.c), as mdistiller's mdistiller/distillers/AT.py:
 * at_loss(feats["feats"][1:] of the student and the teacher, p), the stages
 * paired in order up to the shorter list (Python's zip). Defaults are
 * mdistiller's mdistiller/engine/cfg.py CFG.AT: P 2, CE_WEIGHT 1,
 * FEAT_WEIGHT 1000. */
#include "figkd/config.h"
#include "figkd/method.h"

typedef struct values {
    double alpha, beta, p;
} values;

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, FK_DISTILL_AT(values, alpha), "1", NULL, false, "weight of the cross-entropy"},
    {"beta", FK_KEY_NUMBER, FK_DISTILL_AT(values, beta), "1000", NULL, false, "weight of the attention term"},
    {"p", FK_KEY_NUMBER, FK_DISTILL_AT(values, p), "2", NULL, true,
     "power of the features in the attention map (mean over channels of f^p)"},
};

typedef struct params {
    double p;
} params;

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    (void)classes;
    values v;
    fk_method_params_copy(&v, sizeof v, cfg->distill, sizeof cfg->distill);
    params p = {v.p};
    return FK_SPEC_SET(spec, v.alpha, v.beta, &p);
}

/* stages 1 .. min(student's, teacher's) - 1 */
static int stages(const fk_feats *s, const fk_feats *t)
{
    int n = s->count < t->count ? s->count : t->count;
    return n - 1;
}

static fk_status feat_setup(const fk_loss_spec *spec, const fk_feats *s, const fk_feats *t, size_t *work)
{
    (void)spec;
    int n = stages(s, t);
    if (n <= 0)
        return fk_error(FK_ERR_ARG, "AT needs two stage outputs or more in both models");
    *work = fk_at_work(&s->stage[1], &t->stage[1], n);
    return *work ? FK_OK : FK_ERR_ARG;
}

static fk_status loss(const fk_method_io *io)
{
    params p;
    FK_PARAMS_GET(&p, io->spec);
    const fk_feats *s = &io->student_feats, *t = &io->teacher_feats;
    return fk_at_loss(io->rt, io->value, &s->stage[1], io->dlogits ? &s->dstage[1] : NULL, &t->stage[1],
                      stages(s, t), (float)p.p, io->weight, io->work);
}

const fk_method fk_method_at = {
    .name = "at", .term = "at", .needs_teacher = true,
    .help = "AT: attention maps (channel mean of f^p, normalised) of every stage output after the first",
    FK_METHOD_KEYS(keys), .setup = setup, .loss = loss,
    .stages = FK_STAGES_FROM(1), .feat_setup = feat_setup,
};
