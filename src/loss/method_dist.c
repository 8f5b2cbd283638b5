/* dist (Huang et al. 2022, "Knowledge Distillation from A Stronger
 * Teacher"): alpha * CE + T^2 (beta * inter + gamma * intra), inter and
 * intra being 1 - the mean Pearson correlation of the softened student and
 * teacher predictions over each sample's classes and over each class's
 * samples (src/loss/dist.c). As the authors' code (hunto/DIST_KD,
 * image_classification_sota lib/models/losses/dist_kd.py, eps 1e-8); the
 * defaults are its CIFAR setting (configs/strategies/distill/dist_cifar.yaml:
 * tau 4, beta = gamma = 1, loss weight 2, cross-entropy weight 1), with the
 * loss weight folded into beta and gamma. */
#include "figkd/config.h"
#include "figkd/method.h"

typedef struct values {
    double alpha, beta, gamma, temperature;
} values;

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, FK_DISTILL_AT(values, alpha), "1", NULL, false, "weight of the cross-entropy"},
    {"beta", FK_KEY_NUMBER, FK_DISTILL_AT(values, beta), "2", NULL, false,
     "weight of the inter-class relation (each sample's classes)"},
    {"gamma", FK_KEY_NUMBER, FK_DISTILL_AT(values, gamma), "2", NULL, false,
     "weight of the intra-class relation (each class's samples)"},
    {"temperature", FK_KEY_NUMBER, FK_DISTILL_AT(values, temperature), "4", NULL, true, "softmax temperature T"},
};

typedef struct params {
    double beta, gamma, temperature;
} params;

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    (void)classes;
    values v;
    fk_method_params_copy(&v, sizeof v, cfg->distill, sizeof cfg->distill);
    params p = {v.beta, v.gamma, v.temperature};
    return FK_SPEC_SET(spec, v.alpha, 1.0, &p);
}

static fk_status loss(const fk_method_io *io)
{
    params p;
    FK_PARAMS_GET(&p, io->spec);
    return fk_dist_loss(io->rt, io->value, io->dlogits, io->student, io->teacher, io->n, io->c,
                        (float)p.temperature, (float)p.beta, (float)p.gamma, io->weight, io->work);
}

const fk_method fk_method_dist = {
    .name = "dist", .term = "dist", .needs_teacher = true,
    .help = "DIST: Pearson correlation of the softened predictions, across classes and across the batch",
    FK_METHOD_KEYS(keys), .setup = setup, .loss = loss, .work = fk_dist_work,
};
