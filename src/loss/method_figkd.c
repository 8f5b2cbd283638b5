/* figkd: alpha * CE + beta * the detail loss, MSE or L1 between the chosen
 * Haar bands of the student's and the teacher's logits viewed as an H x W
 * grid (src/loss/figkd.c, src/loss/dwt.c). */
#include "figkd/config.h"
#include "figkd/method.h"

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, offsetof(fk_config, alpha), "1", NULL, false, "weight of the cross-entropy"},
    {"beta", FK_KEY_NUMBER, offsetof(fk_config, beta), "1", NULL, false, "weight of the detail loss"},
    {"bands", FK_KEY_FLAGS, offsetof(fk_config, bands), "LH,HL,HH", "LL,LH,HL,HH", false,
     "wavelet bands compared: any of LL, LH, HL, HH"},
    {"loss", FK_KEY_CHOICE, offsetof(fk_config, detail_l1), "mse", "mse,l1", false, "the detail loss: mse or l1"},
    {"shape", FK_KEY_GRID, offsetof(fk_config, shape_h), "auto", NULL, false,
     "HxW grid of the logits (auto: largest divisor of C up to sqrt(C) rows)"},
};

typedef struct params {
    int grid_h, grid_w, bands, detail_l1;
} params;

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    params p = {cfg->shape_h, cfg->shape_w, cfg->bands, cfg->detail_l1};
    if (!cfg->shape_h)
        fk_figkd_grid(classes, &p.grid_h, &p.grid_w);
    else if (cfg->shape_h * cfg->shape_w != classes)
        return fk_error(FK_ERR_ARG, "%s: distill.shape = %dx%d holds %d logits, but the data set has %d classes",
                        cfg->path, cfg->shape_h, cfg->shape_w, cfg->shape_h * cfg->shape_w, classes);
    return FK_SPEC_SET(spec, cfg->alpha, cfg->beta, &p);
}

static fk_status loss(const fk_method_io *io)
{
    params p;
    FK_PARAMS_GET(&p, io->spec);
    return fk_figkd_loss(io->rt, io->value, io->dlogits, io->student, io->teacher, io->n, io->c, p.grid_h, p.grid_w,
                         p.bands, p.detail_l1 ? FK_DETAIL_L1 : FK_DETAIL_MSE, io->weight, io->work);
}

const fk_method fk_method_figkd = {
    .name = "figkd", .term = "figkd", .needs_teacher = true,
    .help = "FiGKD: Haar-wavelet detail bands of the logits, student against teacher",
    FK_METHOD_KEYS(keys), .setup = setup, .loss = loss,
};
