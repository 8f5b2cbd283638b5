/* rkd (Park et al. 2019, "Relational Knowledge Distillation"): alpha * CE +
 * distance * the distance relation + angle * the angle relation of the
 * embeddings within the batch (src/loss/rkd.c), as mdistiller's
 * mdistiller/distillers/RKD.py rkd_loss on feats["pooled_feat"] of the
 * student and the teacher (squared = False, eps 1e-12). Defaults are
 * mdistiller's mdistiller/engine/cfg.py CFG.RKD: DISTANCE_WEIGHT 25,
 * ANGLE_WEIGHT 50, CE_WEIGHT 1, FEAT_WEIGHT 1. */
#include "figkd/config.h"
#include "figkd/method.h"

typedef struct values {
    double alpha, distance, angle;
} values;

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, FK_DISTILL_AT(values, alpha), "1", NULL, false, "weight of the cross-entropy"},
    {"distance", FK_KEY_NUMBER, FK_DISTILL_AT(values, distance), "25", NULL, false,
     "weight of the distance relation (pairwise distances over their mean)"},
    {"angle", FK_KEY_NUMBER, FK_DISTILL_AT(values, angle), "50", NULL, false,
     "weight of the angle relation (cosines of the angles of every triple)"},
};

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    (void)classes;
    values v;
    fk_method_params_copy(&v, sizeof v, cfg->distill, sizeof cfg->distill);
    return FK_SPEC_SET(spec, v.alpha, 1.0, &v);
}

static int width(const fk_tensor *t)
{
    return t->shape[1] * t->shape[2] * t->shape[3];
}

static fk_status feat_setup(const fk_loss_spec *spec, const fk_feats *s, const fk_feats *t, size_t *work)
{
    (void)spec;
    if (s->embed.shape[0] < 2)
        return fk_error(FK_ERR_ARG, "RKD needs a batch of 2 or more");
    *work = fk_rkd_work(s->embed.shape[0], width(&s->embed), width(&t->embed));
    return FK_OK;
}

static fk_status loss(const fk_method_io *io)
{
    values v;
    FK_PARAMS_GET(&v, io->spec);
    const fk_feats *s = &io->student_feats, *t = &io->teacher_feats;
    return fk_rkd_loss(io->rt, io->value, s->embed, io->dlogits ? &s->dembed : NULL, t->embed, (float)v.distance,
                       (float)v.angle, io->weight, io->work);
}

const fk_method fk_method_rkd = {
    .name = "rkd", .term = "rkd", .needs_teacher = true,
    .help = "RKD: distance and angle relations of the embeddings within the batch",
    FK_METHOD_KEYS(keys), .setup = setup, .loss = loss, .embed = true, .feat_setup = feat_setup,
};
