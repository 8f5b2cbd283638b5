/* pkt (Passalis and Tefas 2018, "Learning Deep Representations with
 * Probabilistic Knowledge Transfer"): alpha * CE + beta * the KL divergence
 * of the cosine-similarity distributions of the embeddings (src/loss/pkt.c),
 * as mdistiller's mdistiller/distillers/PKT.py pkt_loss on
 * feats["pooled_feat"] of the student and the teacher (the embeddings may
 * differ in width). Defaults are mdistiller's mdistiller/engine/cfg.py
 * CFG.PKT: CE_WEIGHT 1, FEAT_WEIGHT 30000. */
#include "figkd/config.h"
#include "figkd/method.h"

typedef struct values {
    double alpha, beta;
} values;

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, FK_DISTILL_AT(values, alpha), "1", NULL, false, "weight of the cross-entropy"},
    {"beta", FK_KEY_NUMBER, FK_DISTILL_AT(values, beta), "30000", NULL, false,
     "weight of the similarity-distribution term"},
};

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    (void)classes;
    values v;
    fk_method_params_copy(&v, sizeof v, cfg->distill, sizeof cfg->distill);
    return FK_SPEC_SET(spec, v.alpha, v.beta, &v);
}

static int width(const fk_tensor *t)
{
    return t->shape[1] * t->shape[2] * t->shape[3];
}

static fk_status feat_setup(const fk_loss_spec *spec, const fk_feats *s, const fk_feats *t, size_t *work)
{
    (void)spec;
    *work = fk_pkt_work(s->embed.shape[0], width(&s->embed), width(&t->embed));
    return FK_OK;
}

static fk_status loss(const fk_method_io *io)
{
    const fk_feats *s = &io->student_feats, *t = &io->teacher_feats;
    return fk_pkt_loss(io->rt, io->value, s->embed, io->dlogits ? &s->dembed : NULL, t->embed, io->weight,
                       io->work);
}

const fk_method fk_method_pkt = {
    .name = "pkt", .term = "pkt", .needs_teacher = true,
    .help = "PKT: distributions of the cosine similarities of the embeddings within the batch",
    FK_METHOD_KEYS(keys), .setup = setup, .loss = loss, .embed = true, .feat_setup = feat_setup,
};
