/* The method table: one line per method, its row defined in
 * src/loss/method_<name>.c (docs/design.md, "Adding a method"). */
#include "figkd/method.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define METHODS(X) \
    X(ce)          \
    X(kd)          \
    X(dkd)         \
    X(figkd)       \
    X(dist)        \
    X(at)          \
    X(pkt)         \
    X(rkd)         \
    X(mlkd)        \
    X(fitnet)

#define DECLARE(name) extern const fk_method fk_method_##name;
METHODS(DECLARE)
#define ROW(name) &fk_method_##name,
const fk_method *const fk_methods[] = {METHODS(ROW) NULL};

const fk_method *fk_method_find(const char *name)
{
    for (int i = 0; fk_methods[i]; i++) {
        const char *a = fk_methods[i]->name, *b = name;
        while (*a && tolower((unsigned char)*a) == tolower((unsigned char)*b))
            a++, b++;
        if (!*a && !*b)
            return fk_methods[i];
    }
    return NULL;
}

const char *fk_method_names(void)
{
    static char names[512];
    if (!names[0]) {
        size_t n = 0;
        for (int i = 0; fk_methods[i] && n < sizeof names; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", fk_methods[i]->name);
    }
    return names;
}

double fk_method_term_scale(const fk_loss_spec *spec, long epoch)
{
    const fk_method *m = spec->method;
    return m && m->term_scale ? m->term_scale(spec, epoch) : spec->term_weight;
}

void fk_method_params_copy(void *dst, size_t dst_size, const void *src, size_t src_size)
{
    if (src)
        memcpy(dst, src, dst_size < src_size ? dst_size : src_size);
}

fk_status fk_method_spec_set(fk_loss_spec *spec, double ce_weight, double term_weight, const void *params,
                             size_t size)
{
    spec->ce_weight = ce_weight;
    spec->term_weight = term_weight;
    fk_method_params_copy(spec->params, sizeof spec->params, params, size);
    return FK_OK;
}

size_t fk_method_work(const fk_method *m, int n, int c)
{
    size_t base = fk_loss_work(n, c), own = m && m->work ? m->work(n, c) : 0;
    return own > base ? own : base;
}

int fk_method_views(const fk_method *m)
{
    return m && m->views > 1 ? 2 : 1;
}
