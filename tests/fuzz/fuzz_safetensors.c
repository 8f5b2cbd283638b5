/* fk_st_read on any bytes; what it accepts must be self-consistent. */
#include "fuzz.h"
#include "figkd/io.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(0, "x.safetensors");
    fuzz_put(path, data, size);
    fk_st_file f;
    if (fk_st_read(path, &f) == FK_OK) {
        for (size_t i = 0; i < f.count; i++) {
            const fk_st_tensor *t = &f.tensors[i];
            size_t n = fk_dtype_size(t->dtype);
            for (int d = 0; d < t->ndim; d++)
                n *= (size_t)t->shape[d];
            if (n != t->nbytes || (t->nbytes && !t->data) || fk_st_find(&f, t->name) != t)
                abort();
            volatile uint8_t sink = 0;
            for (size_t b = 0; b < t->nbytes; b++)
                sink ^= ((const uint8_t *)t->data)[b]; /* ASan: every byte is there */
            (void)sink;
        }
        for (size_t i = 0; i < f.meta_count; i++)
            if (fk_st_meta(&f, f.meta_keys[i]) == NULL)
                abort();
    }
    fk_st_free(&f);
    return 0;
}
