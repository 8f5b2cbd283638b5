/* ce: the cross-entropy alone, no teacher (the teacher stage trains with it). */
#include "figkd/config.h"
#include "figkd/method.h"

static const fk_method_key keys[] = {
    {"alpha", FK_KEY_NUMBER, offsetof(fk_config, alpha), "1", NULL, false, "weight of the cross-entropy"},
};

static fk_status setup(const fk_config *cfg, int classes, fk_loss_spec *spec)
{
    (void)classes;
    return fk_method_spec_set(spec, cfg->alpha, 0.0, NULL, 0);
}

/* no term: its value is 0 and it adds no gradient */
static fk_status loss(const fk_method_io *io)
{
    return fk_buffer_fill(io->rt, io->value.buf, io->value.off, 1, 0.0f);
}

const fk_method fk_method_ce = {
    .name = "ce", .term = "none", .needs_teacher = false,
    .help = "Cross-entropy alone",
    FK_METHOD_KEYS(keys), .setup = setup, .loss = loss,
};
