/* kd (Hinton et al. 2015): alpha * CE + beta * T^2 KL(softmax(t/T) || softmax(s/T)),
 * as mdistiller's KD (src/loss/kd.c). */
#include "figkd/config.h"
#include "figkd/method.h"

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, offsetof(fk_config, alpha), "0.1", NULL, false, "weight of the cross-entropy"},
    {"beta", FK_KEY_NUMBER, offsetof(fk_config, beta), "0.9", NULL, false, "weight of the KD term"},
    {"temperature", FK_KEY_NUMBER, offsetof(fk_config, temperature), "4", NULL, true, "softmax temperature T"},
};

typedef struct params {
    double temperature;
} params;

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    (void)classes;
    params p = {cfg->temperature};
    return FK_SPEC_SET(spec, cfg->alpha, cfg->beta, &p);
}

static fk_status loss(const fk_method_io *io)
{
    params p;
    FK_PARAMS_GET(&p, io->spec);
    return fk_kd_loss(io->rt, io->value, io->dlogits, io->student, io->teacher, io->n, io->c, (float)p.temperature,
                      io->weight, io->work);
}

const fk_method fk_method_kd = {
    .name = "kd", .term = "kd", .needs_teacher = true,
    .help = "Hinton's knowledge distillation: KL of the softened teacher and student outputs",
    FK_METHOD_KEYS(keys), .setup = setup, .loss = loss,
};
