/* The kernel list of figkd/kernels.h resolved per runtime: a kernel without
 * -D values is looked up by name once and kept by id; one with per-shape
 * -D values (conv, pool, batchnorm) once per (id, values), in a small table
 * searched by integers, so no launch formats or compares a string. */
#include "figkd/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fk_kernel_variant {
    fk_kernel_id id;
    int values[FK_DEFS_MAX];
    cl_kernel kernel;
};

static const struct {
    const char *file, *name;
    fk_kernel_defs_kind defs;
} table[FK_K_COUNT] = {
#define FK_KERNEL_ROW_(id, file, name, defs) [FK_K_##id] = {file, name, FK_DEFS_##defs},
    FK_KERNELS(FK_KERNEL_ROW_)
#undef FK_KERNEL_ROW_
};

/* the -D names of each kind, in the order of the values */
static const struct {
    int count;
    const char *names[FK_DEFS_MAX];
} defs_names[] = {
    [FK_DEFS_NONE] = {0, {0}},
    [FK_DEFS_CONV] = {7, {"KH", "KW", "STRIDE", "PAD", "CIPG", "COPG", "HAS_BIAS"}},
    [FK_DEFS_CONV_BATCH] = {4, {"KH", "KW", "STRIDE", "PAD"}},
    [FK_DEFS_POOL] = {3, {"K", "S", "P"}},
    [FK_DEFS_BN] = {1, {"LOCAL"}},
    [FK_DEFS_CONV_IG] = {5, {"KH", "KW", "STRIDE", "PAD", "IG_IMAGES"}},
    [FK_DEFS_CONV_T4] = {4, {"KH", "KW", "STRIDE", "EPILOGUE"}},
};

fk_status fk_kernel(fk_runtime *rt, fk_kernel_id id, cl_kernel *out)
{
    if ((unsigned)id < FK_K_COUNT && rt->kernels[id]) {
        *out = rt->kernels[id];
        return FK_OK;
    }
    if ((unsigned)id >= FK_K_COUNT)
        return fk_error(FK_ERR_ARG, "kernel id %d out of range", (int)id);
    if (table[id].defs != FK_DEFS_NONE)
        return fk_error(FK_ERR_ARG, "kernel %s of cl/%s.cl is built with -D values: use fk_kernel_defs",
                        table[id].name, table[id].file);
    FK_TRY(fk_kernel_get(rt, table[id].file, "", table[id].name, &rt->kernels[id]));
    *out = rt->kernels[id];
    return FK_OK;
}

fk_status fk_kernel_defs(fk_runtime *rt, fk_kernel_id id, const int *values, cl_kernel *out)
{
    if ((unsigned)id >= FK_K_COUNT)
        return fk_error(FK_ERR_ARG, "kernel id %d out of range", (int)id);
    const int n = defs_names[table[id].defs].count;
    if (n == 0)
        return fk_kernel(rt, id, out);
    for (int i = 0; i < rt->nvariants; i++) {
        const fk_kernel_variant *v = &rt->variants[i];
        if (v->id == id && !memcmp(v->values, values, (size_t)n * sizeof *values)) {
            *out = v->kernel;
            return FK_OK;
        }
    }
    char opts[160] = "";
    for (int i = 0, len = 0; i < n; i++)
        len += snprintf(opts + len, sizeof opts - (size_t)len, "%s-D%s=%d", i ? " " : "",
                        defs_names[table[id].defs].names[i], values[i]);
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, table[id].file, opts, table[id].name, &k));
    if (rt->nvariants == rt->capvariants) {
        int cap = rt->capvariants ? 2 * rt->capvariants : 32;
        fk_kernel_variant *grown = realloc(rt->variants, (size_t)cap * sizeof *grown);
        if (!grown)
            return fk_error(FK_ERR_NOMEM, "out of host memory for the kernel table");
        rt->variants = grown;
        rt->capvariants = cap;
    }
    fk_kernel_variant *v = &rt->variants[rt->nvariants++];
    memset(v, 0, sizeof *v);
    v->id = id;
    memcpy(v->values, values, (size_t)n * sizeof *values);
    v->kernel = k;
    *out = k;
    return FK_OK;
}
