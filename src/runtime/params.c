/* The parameter store: every parameter of a model in one device buffer,
 * gradients and momentum in two more of the same layout, and the
 * non-trained buffers (BN running statistics) in a fourth. */
#include "figkd/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_ELEMS 16

void fk_params_init(fk_param_store *ps)
{
    memset(ps, 0, sizeof *ps);
}

int fk_params_add(fk_param_store *ps, const char *name, int ndim, const int *shape, bool is_buffer)
{
    if (ndim < 0 || ndim > 4 || strlen(name) >= sizeof ps->items[0].name) {
        fk_error(FK_ERR_ARG, "parameter %s: bad rank %d or name too long", name, ndim);
        return -1;
    }
    if (fk_params_find(ps, name) >= 0) {
        fk_error(FK_ERR_ARG, "parameter %s registered twice", name);
        return -1;
    }
    if (ps->count == ps->capacity) {
        int cap = ps->capacity ? ps->capacity * 2 : 64;
        fk_param *grown = realloc(ps->items, (size_t)cap * sizeof *grown);
        if (!grown) {
            fk_error(FK_ERR_NOMEM, "out of host memory registering parameters");
            return -1;
        }
        ps->items = grown;
        ps->capacity = cap;
    }
    fk_param *p = &ps->items[ps->count];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->count = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->count *= (size_t)shape[i];
    }
    p->is_buffer = is_buffer;
    size_t *total = is_buffer ? &ps->buffer_count : &ps->param_count;
    p->off = *total;
    *total += fk_round_up(p->count, ALIGN_ELEMS);
    return ps->count++;
}

int fk_params_find(const fk_param_store *ps, const char *name)
{
    for (int i = 0; i < ps->count; i++)
        if (!strcmp(ps->items[i].name, name))
            return i;
    return -1;
}

fk_status fk_params_alloc(fk_runtime *rt, fk_param_store *ps)
{
    size_t pbytes = ps->param_count * sizeof(float), bbytes = ps->buffer_count * sizeof(float);
    FK_TRY(fk_buffer_create(rt, pbytes, 0, &ps->params));
    FK_TRY(fk_buffer_create(rt, pbytes, 0, &ps->grads));
    FK_TRY(fk_buffer_create(rt, pbytes, 0, &ps->momentum));
    FK_TRY(fk_buffer_create(rt, bbytes, 0, &ps->buffers));
    FK_TRY(fk_buffer_fill(rt, ps->params, 0, ps->param_count, 0.0f));
    FK_TRY(fk_buffer_fill(rt, ps->grads, 0, ps->param_count, 0.0f));
    FK_TRY(fk_buffer_fill(rt, ps->momentum, 0, ps->param_count, 0.0f));
    FK_TRY(fk_buffer_fill(rt, ps->buffers, 0, ps->buffer_count, 0.0f));
    return FK_OK;
}

static fk_tensor view(const fk_param *p, cl_mem buf)
{
    fk_tensor t = {buf, p->off, p->ndim, {1, 1, 1, 1}};
    for (int i = 0; i < p->ndim; i++)
        t.shape[i] = p->shape[i];
    return t;
}

fk_tensor fk_params_tensor(const fk_param_store *ps, int index)
{
    const fk_param *p = &ps->items[index];
    return view(p, p->is_buffer ? ps->buffers : ps->params);
}

fk_tensor fk_params_grad(const fk_param_store *ps, int index)
{
    return view(&ps->items[index], ps->grads);
}

fk_status fk_params_zero_grad(fk_runtime *rt, fk_param_store *ps)
{
    return fk_buffer_fill(rt, ps->grads, 0, ps->param_count, 0.0f);
}

void fk_params_free(fk_param_store *ps)
{
    cl_mem bufs[] = {ps->params, ps->grads, ps->momentum, ps->buffers};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            clReleaseMemObject(bufs[i]);
    free(ps->items);
    memset(ps, 0, sizeof *ps);
}
