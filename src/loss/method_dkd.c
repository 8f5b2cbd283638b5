/* dkd (Zhao et al., CVPR 2022): ce_weight * CE + min((epoch + 1) / warmup, 1) *
 * (alpha * TCKD + beta * NCKD), as mdistiller's DKD (src/loss/dkd.c). */
#include "figkd/config.h"
#include "figkd/method.h"

#include <math.h>

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, offsetof(fk_config, alpha), "1", NULL, false, "weight of the target-class term (TCKD)"},
    {"beta", FK_KEY_NUMBER, offsetof(fk_config, beta), "8", NULL, false, "weight of the non-target term (NCKD)"},
    {"ce_weight", FK_KEY_NUMBER, offsetof(fk_config, ce_weight), "1", NULL, false, "weight of the cross-entropy"},
    {"temperature", FK_KEY_NUMBER, offsetof(fk_config, temperature), "4", NULL, true, "softmax temperature T"},
    {"warmup_epochs", FK_KEY_NUMBER, offsetof(fk_config, warmup_epochs), "20", NULL, false,
     "the DKD term is scaled by min(epoch / warmup_epochs, 1), epochs counted from 1"},
};

typedef struct params {
    double alpha, beta, temperature, warmup_epochs;
} params;

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    (void)classes;
    params p = {cfg->alpha, cfg->beta, cfg->temperature, cfg->warmup_epochs};
    return FK_SPEC_SET(spec, cfg->ce_weight, 1.0, &p);
}

static double term_scale(const fk_loss_spec *spec, long epoch)
{
    params p;
    FK_PARAMS_GET(&p, spec);
    if (p.warmup_epochs > 0)
        return spec->term_weight * fmin((epoch + 1) / p.warmup_epochs, 1.0);
    return spec->term_weight;
}

static fk_status loss(const fk_method_io *io)
{
    params p;
    FK_PARAMS_GET(&p, io->spec);
    return fk_dkd_loss(io->rt, io->value, io->dlogits, io->student, io->teacher, io->labels, 0, io->n, io->c,
                       (float)p.alpha, (float)p.beta, (float)p.temperature, io->weight, io->work);
}

const fk_method fk_method_dkd = {
    .name = "dkd", .term = "dkd", .needs_teacher = true,
    .help = "Decoupled KD: target-class and non-target-class KL terms, with a warm-up",
    FK_METHOD_KEYS(keys), .setup = setup, .term_scale = term_scale, .loss = loss,
};
