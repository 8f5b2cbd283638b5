/* mlkd (Jin, Wang, Lin, "Multi-Level Logit Distillation", CVPR 2023), as
 * the authors' code (github.com/Jin-Ying/Multi-Level-Logit-Distillation,
 * mdistiller/distillers/KD_ours.py, trainer "ours" with the weak/strong
 * loader of mdistiller/dataset/cifar100.py):
 *   alpha * (CE(weak) + CE(strong)) + beta * (term(weak) + term(strong)),
 * the terms of src/loss/mlkd.c over the temperatures [T, 3, 5, 2, 6]. Two
 * views per step (the step runs the student and the teacher on both; the
 * loader adds the strong augmentation, src/data/augment.c). The defaults are
 * their CIFAR-100 ones: cfg.KD.TEMPERATURE 4, CE_WEIGHT 0.1, KD_WEIGHT 0.9
 * (mdistiller/engine/cfg.py, not overridden by configs/cifar100/ours/).
 * `standardize = on` is the logit-standardisation variant of MLKD.py
 * (sunshangquan/logit-standardization-KD): KD on z-scored logits. */
#include "figkd/config.h"
#include "figkd/method.h"

typedef struct values {
    double alpha, beta, temperature;
    int standardize;
} values;

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, FK_DISTILL_AT(values, alpha), "0.1", NULL, false,
     "weight of the cross-entropy (of each view)"},
    {"beta", FK_KEY_NUMBER, FK_DISTILL_AT(values, beta), "0.9", NULL, false,
     "weight of the instance-, class- and batch-level terms"},
    {"temperature", FK_KEY_NUMBER, FK_DISTILL_AT(values, temperature), "4", NULL, true,
     "first of the temperatures [T, 3, 5, 2, 6]"},
    {"standardize", FK_KEY_CHOICE, FK_DISTILL_AT(values, standardize), "off", "off,on", false,
     "KD on z-scored logits (logit standardisation)"},
};

typedef struct params {
    double temperature;
    int standardize;
} params;

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    values v;
    fk_method_params_copy(&v, sizeof v, cfg->distill, sizeof cfg->distill);
    if (v.standardize && classes < 2)
        return fk_error(FK_ERR_ARG, "distill.standardize = on needs 2 classes or more");
    params p = {v.temperature, v.standardize};
    return FK_SPEC_SET(spec, v.alpha, v.beta, &p);
}

static fk_status loss(const fk_method_io *io)
{
    params p;
    FK_PARAMS_GET(&p, io->spec);
    const float temps[FK_MLKD_TEMPS] = {(float)p.temperature, 3.0f, 5.0f, 2.0f, 6.0f};
    return fk_mlkd_loss(io->rt, io->value, io->dlogits, io->student, io->teacher, io->n, io->c, temps, io->view,
                        p.standardize, io->weight, io->work);
}

const fk_method fk_method_mlkd = {
    .name = "mlkd", .term = "mlkd", .needs_teacher = true,
    .help = "MLKD: instance-, class- and batch-level alignment over 5 temperatures, weak and strong views",
    FK_METHOD_KEYS(keys), .setup = setup, .loss = loss, .work = fk_mlkd_work, .views = 2,
    .whole_batch = true,
};
