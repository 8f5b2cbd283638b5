/* Test tool for the Python interop test:
 *   st_copy copy IN.safetensors OUT.safetensors   read, then write back out
 *   st_copy npy-write OUT.npy D0 [D1 ...]         float32 array, value i*0.25-1.5
 *   st_copy npy-copy IN.npy OUT.npy               read, then write back out
 * Exits 0 on success, 1 on failure (message on stderr), 2 on bad usage. */
#include "figkd/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: st_copy copy IN OUT | npy-write OUT D0 [D1 ...] | npy-copy IN OUT\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    if (!strcmp(argv[1], "copy") && argc == 4) {
        fk_st_file f;
        if (fk_st_read(argv[2], &f))
            return 1;
        fk_status s = fk_st_write(argv[3], f.tensors, f.count,
            (const char *const *)f.meta_keys, (const char *const *)f.meta_values, f.meta_count);
        fk_st_free(&f);
        return s ? 1 : 0;
    }
    if (!strcmp(argv[1], "npy-write") && argc >= 3 && argc - 3 <= FK_ST_MAX_DIMS) {
        int ndim = argc - 3;
        int64_t shape[FK_ST_MAX_DIMS];
        size_t count = 1;
        for (int i = 0; i < ndim; i++) {
            long v;
            if (fk_parse_long(argv[3 + i], &v) || v < 0 || v > 1000000)
                return usage();
            shape[i] = v;
            count *= (size_t)v;
        }
        float *data = fk_malloc(count * sizeof *data);
        if (!data)
            return 1;
        for (size_t i = 0; i < count; i++)
            data[i] = (float)i * 0.25f - 1.5f;
        fk_status s = fk_npy_write(argv[2], data, ndim, shape);
        free(data);
        return s ? 1 : 0;
    }
    if (!strcmp(argv[1], "npy-copy") && argc == 4) {
        float *data;
        int ndim;
        int64_t shape[FK_ST_MAX_DIMS];
        if (fk_npy_read(argv[2], &data, &ndim, shape))
            return 1;
        fk_status s = fk_npy_write(argv[3], data, ndim, shape);
        free(data);
        return s ? 1 : 0;
    }
    return usage();
}
