/* The activation arena: every activation of a step planned up front, then
 * allocated as few chunks as the device's maximum allocation allows. */
#include "figkd/runtime.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN_ELEMS 64 /* 256 bytes, above every device's base address alignment */

void fk_arena_init(fk_arena *a)
{
    memset(a, 0, sizeof *a);
}

int fk_arena_request(fk_arena *a, size_t elems)
{
    if (a->nreq == a->capreq) {
        int cap = a->capreq ? a->capreq * 2 : 64;
        size_t *e = realloc(a->req_elems, (size_t)cap * sizeof *e);
        if (!e) {
            fk_error(FK_ERR_NOMEM, "out of host memory planning activations");
            return -1;
        }
        a->req_elems = e;
        a->capreq = cap;
    }
    a->req_elems[a->nreq] = elems;
    return a->nreq++;
}

/* the floats request i takes in its chunk */
static size_t request_need(const fk_arena *a, int i)
{
    return fk_round_up(a->req_elems[i] ? a->req_elems[i] : 1, ALIGN_ELEMS);
}

size_t fk_arena_bytes(const fk_arena *a)
{
    size_t elems = 0;
    for (int i = 0; i < a->nreq; i++)
        elems += request_need(a, i);
    return elems * sizeof(float);
}

fk_status fk_arena_alloc(fk_runtime *rt, fk_arena *a)
{
    size_t limit = a->max_chunk ? a->max_chunk : (size_t)rt->dev.max_alloc;
    size_t limit_elems = limit / sizeof(float);
    a->req_chunk = fk_calloc((size_t)a->nreq, sizeof *a->req_chunk);
    a->req_off = fk_calloc((size_t)a->nreq, sizeof *a->req_off);
    a->chunk_elems = fk_calloc((size_t)a->nreq + 1, sizeof *a->chunk_elems);
    if (!a->req_chunk || !a->req_off || !a->chunk_elems)
        return FK_ERR_NOMEM;
    /* Bump allocation in request order; start a new chunk when the next
     * request does not fit under the limit. */
    int chunk = 0;
    size_t used = 0;
    for (int i = 0; i < a->nreq; i++) {
        size_t need = request_need(a, i);
        if (need > limit_elems)
            return fk_error(FK_ERR_CL,
                            "one activation of %.1f MiB exceeds %s's maximum allocation of %.1f MiB; "
                            "try a smaller batch_size",
                            need * 4.0 / 1048576.0, rt->dev.name, limit / 1048576.0);
        if (used + need > limit_elems) {
            a->chunk_elems[chunk++] = used;
            used = 0;
        }
        a->req_chunk[i] = chunk;
        a->req_off[i] = used;
        used += need;
    }
    a->chunk_elems[chunk] = used;
    a->nchunks = a->nreq ? chunk + 1 : 0;
    a->chunks = fk_calloc((size_t)a->nchunks + 1, sizeof *a->chunks);
    if (!a->chunks)
        return FK_ERR_NOMEM;
    for (int c = 0; c < a->nchunks; c++)
        FK_TRY(fk_buffer_create(rt, a->chunk_elems[c] * sizeof(float), 0, &a->chunks[c]));
    return FK_OK;
}

fk_tensor fk_arena_tensor(const fk_arena *a, int req, int ndim, const int *shape)
{
    fk_tensor t = {a->chunks[a->req_chunk[req]], a->req_off[req], ndim, {1, 1, 1, 1}};
    for (int i = 0; i < ndim && i < 4; i++)
        t.shape[i] = shape[i];
    return t;
}

void fk_arena_free(fk_arena *a)
{
    for (int c = 0; c < a->nchunks; c++)
        if (a->chunks[c])
            clReleaseMemObject(a->chunks[c]);
    free(a->chunks);
    free(a->req_elems);
    free(a->req_chunk);
    free(a->req_off);
    free(a->chunk_elems);
    memset(a, 0, sizeof *a);
}
