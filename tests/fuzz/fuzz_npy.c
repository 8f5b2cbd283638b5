/* fk_npy_read on any bytes; an accepted array has the size its shape says. */
#include "fuzz.h"
#include "figkd/io.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(0, "x.npy");
    fuzz_put(path, data, size);
    float *x = NULL;
    int ndim = 0;
    int64_t shape[FK_ST_MAX_DIMS];
    if (fk_npy_read(path, &x, &ndim, shape) == FK_OK) {
        if (!x || ndim < 0 || ndim > FK_ST_MAX_DIMS)
            abort();
        size_t n = 1;
        for (int d = 0; d < ndim; d++) {
            if (shape[d] < 0)
                abort();
            n *= (size_t)shape[d];
        }
        volatile float sink = 0;
        for (size_t i = 0; i < n; i++)
            sink += x[i]; /* ASan: all n floats are there */
        (void)sink;
    }
    free(x);
    return 0;
}
