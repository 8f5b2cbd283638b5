/* fitnet (Romero et al. 2015, "FitNets: Hints for Thin Deep Nets"):
 * alpha * CE + beta * the hint, F.mse_loss(conv_reg(student stage h),
 * teacher stage h) (src/loss/fitnet.c), as mdistiller's
 * mdistiller/distillers/FitNet.py on feats["feats"][HINT_LAYER]. The
 * regressor is mdistiller's ConvReg (mdistiller/distillers/_common.py,
 * use_relu True): a convolution with bias to the teacher's channels, then
 * BatchNorm and ReLU; the convolution is 3x3 stride 2 padding 1 when the
 * student's map is twice the teacher's side, else (1 + Hs - Ht) square
 * without padding (1x1 for equal sides); the transposed convolution
 * ConvReg takes for a student map half the teacher's is refused. Its
 * layers are the method's parameters ("method.conv_reg.*", PyTorch's
 * conv_reg.* of the distiller), trained by the same SGD as the student,
 * as get_learnable_parameters hands both to one optimizer. Defaults are
 * mdistiller's mdistiller/engine/cfg.py CFG.FITNET: HINT_LAYER 2,
 * CE_WEIGHT 1, FEAT_WEIGHT 100. */
#include "figkd/config.h"
#include "figkd/method.h"

#include "figkd/model.h"

typedef struct values {
    double alpha, beta;
    int hint_layer;
} values;

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, FK_DISTILL_AT(values, alpha), "1", NULL, false, "weight of the cross-entropy"},
    {"beta", FK_KEY_NUMBER, FK_DISTILL_AT(values, beta), "100", NULL, false, "weight of the hint (the MSE)"},
    {"hint_layer", FK_KEY_COUNT, FK_DISTILL_AT(values, hint_layer), "2", NULL, false,
     "the stage output both models are matched at (feats[i]: 0 the stem, 1 the first stage, ...)"},
};

typedef struct params {
    int hint;
} params;

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    (void)classes;
    values v;
    fk_method_params_copy(&v, sizeof v, cfg->distill, sizeof cfg->distill);
    params p = {v.hint_layer};
    return FK_SPEC_SET(spec, v.alpha, v.beta, &p);
}

/* ConvReg's convolution for the two maps: kernel, stride, padding (0 when
 * ConvReg has none this code runs). */
static fk_status reg_conv(const fk_tensor *s, const fk_tensor *t, int *k, int *stride, int *pad)
{
    int hs = s->shape[2], ws = s->shape[3], ht = t->shape[2], wt = t->shape[3];
    if (hs == 2 * ht && ws == 2 * wt) {
        *k = 3, *stride = 2, *pad = 1;
        return FK_OK;
    }
    if (hs >= ht && ws >= wt && hs - ht == ws - wt) {
        *k = 1 + hs - ht, *stride = 1, *pad = 0;
        return FK_OK;
    }
    return fk_error(FK_ERR_ARG, "fitnet: no regressor from the student's %dx%d map to the teacher's %dx%d (ConvReg's "
                    "transposed convolution for a map half the teacher's is not supported)", hs, ws, ht, wt);
}

static fk_status hint(const fk_loss_spec *spec, const fk_feats *s, const fk_feats *t, int *h)
{
    params p;
    FK_PARAMS_GET(&p, spec);
    *h = p.hint;
    if (p.hint >= s->count || p.hint >= t->count)
        return fk_error(FK_ERR_ARG, "fitnet: distill.hint_layer = %d, and the student exposes stage outputs 0 to %d, "
                        "the teacher 0 to %d", p.hint, s->count - 1, t->count - 1);
    int k, stride, pad;
    return reg_conv(&s->stage[p.hint], &t->stage[p.hint], &k, &stride, &pad);
}

static fk_status feat_setup(const fk_loss_spec *spec, const fk_feats *s, const fk_feats *t, size_t *work)
{
    int h;
    FK_TRY(hint(spec, s, t, &h));
    /* the planes' sums, then the regressor's output gradient */
    *work = fk_fitnet_work(&t->stage[h]) + fk_tensor_numel(&t->stage[h]);
    return FK_OK;
}

/* ConvReg as mdistiller builds it (PyTorch's default initialisation). */
static fk_status build_params(const fk_loss_spec *spec, const fk_feats *s, const fk_feats *t, fk_graph *g)
{
    int h, k, stride, pad;
    FK_TRY(hint(spec, s, t, &h));
    const fk_tensor *fs = &s->stage[h], *ft = &t->stage[h];
    FK_TRY(reg_conv(fs, ft, &k, &stride, &pad));
    g->conv_init = FK_CONV_INIT_DEFAULT;
    g->input_grad = true;
    int x = fk_g_input(g, fs->shape[1], fs->shape[2], fs->shape[3]);
    x = fk_g_conv(g, x, ft->shape[1], k, stride, pad, 1, true, "method.conv_reg.conv");
    x = fk_g_bn(g, x, "method.conv_reg.bn");
    fk_g_relu(g, x, "method.conv_reg.relu");
    return g->status;
}

static fk_status loss(const fk_method_io *io)
{
    params p;
    FK_PARAMS_GET(&p, io->spec);
    const fk_feats *s = &io->student_feats, *t = &io->teacher_feats;
    fk_model *reg = io->params;
    if (!reg)
        return fk_error(FK_ERR_ARG, "fitnet: the step holds no regressor");
    fk_tensor r;
    FK_TRY(fk_model_forward(reg, s->stage[p.hint], true, &r));
    fk_tensor ft = t->stage[p.hint], work = io->work, dr = r;
    size_t planes = fk_fitnet_work(&ft);
    dr.buf = work.buf;
    dr.off = work.off + planes;
    FK_TRY(fk_fitnet_loss(io->rt, io->value, r, io->dlogits ? &dr : NULL, ft, io->weight, work));
    if (!io->dlogits)
        return FK_OK;
    FK_TRY(fk_model_backward_from(reg, dr));
    const fk_tensor *din = &reg->graph.nodes[0].dout, *ds = &s->dstage[p.hint];
    return fk_buffer_axpy(io->rt, ds->buf, ds->off, din->buf, din->off, 1.0f, fk_tensor_numel(din));
}

const fk_method fk_method_fitnet = {
    .name = "fitnet", .term = "fitnet", .needs_teacher = true,
    .help = "FitNet: MSE of a trained regressor (conv, BN, ReLU) of a student stage output against the teacher's",
    FK_METHOD_KEYS(keys), .setup = setup, .loss = loss,
    .stages = FK_STAGES_FROM(0), .feat_setup = feat_setup, .build_params = build_params,
};
