/* Parameter store and activation arena: layout, alignment, zeroed buffers,
 * splitting into chunks under a maximum allocation, and allocation errors
 * that name the size and the device's limits. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

static void run(fk_runtime *rt, const fk_st_file *f)
{
    (void)f;
    fk_param_store ps;
    fk_params_init(&ps);
    int w = fk_params_add(&ps, "conv1.weight", 4, (int[]){8, 3, 3, 3}, false);
    int bw = fk_params_add(&ps, "bn1.weight", 1, (int[]){8}, false);
    int rm = fk_params_add(&ps, "bn1.running_mean", 1, (int[]){8}, true);
    fk_error_quiet(1);
    CHECK(fk_params_add(&ps, "bn1.weight", 1, (int[]){8}, false) < 0, "duplicate name refused");
    fk_error_quiet(0);
    CHECK(w == 0 && bw == 1 && rm == 2, "indices");
    CHECK(ps.items[bw].off % 16 == 0 && ps.items[bw].off >= 216, "aligned offsets (%zu)", ps.items[bw].off);
    CHECK(ps.param_count == 224 + 16 && ps.buffer_count == 16, "sizes %zu %zu", ps.param_count, ps.buffer_count);
    CHECK(fk_params_find(&ps, "bn1.running_mean") == rm && fk_params_find(&ps, "nope") < 0, "find");
    CHECK(fk_params_alloc(rt, &ps) == FK_OK, "alloc");
    float *host = calloc(ps.param_count, 4);
    for (size_t i = 0; i < ps.param_count; i++)
        host[i] = 1.0f;
    fk_buffer_read(rt, ps.grads, 0, ps.param_count * 4, host);
    int zero = 1;
    for (size_t i = 0; i < ps.param_count; i++)
        zero &= host[i] == 0.0f;
    CHECK(zero, "gradients start at zero");
    fk_tensor t = fk_params_tensor(&ps, rm);
    CHECK(t.buf == ps.buffers && t.off == 0 && t.shape[0] == 8, "buffer view");
    fk_tensor g = fk_params_grad(&ps, bw);
    CHECK(g.buf == ps.grads && g.off == ps.items[bw].off && fk_tensor_numel(&g) == 8, "grad view");
    free(host);
    fk_params_free(&ps);

    /* arena split: chunks at most 1 KiB, requests never straddle */
    fk_arena a;
    fk_arena_init(&a);
    a.max_chunk = 1024;
    size_t sizes[] = {100, 100, 64, 200, 1, 256};
    int req[6];
    for (int i = 0; i < 6; i++)
        req[i] = fk_arena_request(&a, sizes[i]);
    CHECK(fk_arena_alloc(rt, &a) == FK_OK, "arena alloc");
    CHECK(a.nchunks >= 3, "split into %d chunks", a.nchunks);
    for (int c = 0; c < a.nchunks; c++)
        CHECK(a.chunk_elems[c] * 4 <= 1024, "chunk %d of %zu bytes under the limit", c, a.chunk_elems[c] * 4);
    for (int i = 0; i < 6; i++) {
        fk_tensor at = fk_arena_tensor(&a, req[i], 1, (int[]){(int)sizes[i]});
        CHECK(at.off % 64 == 0, "aligned");
        CHECK(fk_buffer_fill(rt, at.buf, at.off, sizes[i], (float)i) == FK_OK, "fill");
    }
    for (int i = 0; i < 6; i++) {
        fk_tensor at = fk_arena_tensor(&a, req[i], 1, (int[]){(int)sizes[i]});
        float *v = malloc(sizes[i] * 4);
        fk_buffer_read(rt, at.buf, at.off * 4, sizes[i] * 4, v);
        int ok = 1;
        for (size_t j = 0; j < sizes[i]; j++)
            ok &= v[j] == (float)i;
        CHECK(ok, "request %d kept its values (no overlap)", i);
        free(v);
    }
    fk_arena_free(&a);

    /* one request above the limit: a clear error */
    fk_arena_init(&a);
    a.max_chunk = 1024;
    fk_arena_request(&a, 1000);
    fk_error_quiet(1);
    CHECK(fk_arena_alloc(rt, &a) == FK_ERR_CL && strstr(fk_last_error(), "batch_size"), "too large: %s",
          fk_last_error());
    fk_arena_free(&a);

    /* a buffer above the device's maximum allocation names the limits */
    cl_mem m;
    CHECK(fk_buffer_create(rt, (size_t)rt->dev.max_alloc + 4096, 0, &m) == FK_ERR_CL, "too big buffer");
    CHECK(strstr(fk_last_error(), "MiB") && strstr(fk_last_error(), rt->dev.name), "message: %s", fk_last_error());
}

int main(void) { return fk_test_main("test_memory", NULL, run); }
