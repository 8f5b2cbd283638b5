/* Threaded loader: workers claim batches in order, fill ring slots with
 * augmented, normalised float32 images; the consumer takes them in order.
 *
 * Batches are numbered globally: g = epoch * batches_per_epoch + index. Batch g
 * lives in ring slot (g - g0) % ring. A worker claims the next g only when its
 * slot is free, so at most `ring` batches are in flight. Every random draw of
 * sample i in epoch e comes from fk_rng_for(seed, e, i) and the shuffle from
 * (seed, e), so the batches do not depend on the number of workers. With
 * views = 2 each sample also gets a strong view (RandAugment after its own
 * crop and flip) from the stream (seed ^ FK_STRONG_VIEW_SALT, e, i): the
 * weak views are the images a one-view loader gives. */
#include "data/data_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE, SLOT_BUSY, SLOT_READY, SLOT_TAKEN };

typedef struct slot {
    float *images;   /* (batch, C, S, S) */
    int32_t *labels; /* (batch) */
    int state, count;
    long g;
    fk_status status;
    char msg[1024];
} slot;

struct fk_loader {
    fk_dataset *ds;
    fk_data_config cfg;
    fk_loader_opts opts;
    fk_allocator alloc;
    int c_out, S, shuffle;
    int views;       /* 2: each slot holds the weak then the strong views */
    float mean[3], std[3];
    long nb, g0;
    long row0, rows;   /* the rows of the split this loader reads (all of them but in an evaluation shard) */
    long stride, sub;  /* batch b starts at position b * stride + sub of the epoch's order */
    long next_claim, next_out;
    int pending_eoe;
    long last_epoch;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_ready;
    atomic_int stop; /* shutdown: abandon work */
    int failed;      /* a batch failed: claim no more (under mu) */
    int ring, nthreads;
    slot *slots;
    pthread_t *threads;
};

static void *default_alloc(void *ctx, size_t bytes)
{
    (void)ctx;
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

static void default_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

void fk_loader_opts_default(fk_loader_opts *o)
{
    memset(o, 0, sizeof *o);
    o->train = 1;
    o->batch = 64;
    o->seed = 0;
}

long fk_loader_batches_per_epoch(const fk_loader *l) { return l->nb; }

/* Fill one batch; returns the status of the first failing sample. */
static fk_status fill_batch(fk_loader *l, slot *sl, long g, long **perm, long *perm_epoch,
                            uint8_t **scratch, size_t *scratch_size, float **work,
                            size_t *work_size)
{
    const long n = l->ds->n, B = l->opts.batch, e = g / l->nb, b = g % l->nb;
    const long base = b * l->stride + l->sub;
    const int S = l->S;
    long count = l->rows - base < B ? l->rows - base : B;
    if (l->shuffle && *perm_epoch != e) {
        if (!*perm && !(*perm = fk_malloc((size_t)n * sizeof **perm)))
            return FK_ERR_NOMEM;
        fk_permutation(*perm, n, l->opts.seed, e);
        *perm_epoch = e;
    }
    for (long k = 0; k < count; k++) {
        if (atomic_load(&l->stop))
            return FK_ERR_INTERRUPTED;
        long i = l->shuffle ? (*perm)[base + k] : l->row0 + base + k;
        fk_image img;
        fk_status s = fk_dataset_get(l->ds, i, &img, scratch, scratch_size);
        if (s != FK_OK)
            return s;
        size_t need = fk_augment_work_floats(img.h, img.w, img.c, S);
        if (need > *work_size) {
            float *nw = realloc(*work, need * sizeof **work);
            if (!nw)
                return fk_error(FK_ERR_NOMEM, "out of host memory in a loader thread");
            *work = nw;
            *work_size = need;
        }
        fk_rng r = fk_rng_for(l->opts.seed, (uint64_t)e, (uint64_t)i);
        fk_transform t;
        fk_augment_plan(&t, &l->cfg, l->ds->kind, l->opts.train, img.h, img.w, &r);
        fk_augment_apply(sl->images + (size_t)k * l->c_out * S * S, l->c_out, &img, &t,
                         l->mean, l->std, *work);
        if (l->views > 1) { /* the strong view: its own stream, its own crop and flip */
            fk_rng r2 = fk_rng_for(l->opts.seed ^ FK_STRONG_VIEW_SALT, (uint64_t)e, (uint64_t)i);
            fk_transform t2;
            fk_randaug ra;
            fk_augment_plan(&t2, &l->cfg, l->ds->kind, 1, img.h, img.w, &r2);
            fk_randaug_plan(&ra, &r2, S, S);
            fk_augment_apply_strong(sl->images + (size_t)(B + k) * l->c_out * S * S, l->c_out, &img, &t2, &ra,
                                    l->mean, l->std, *work);
        }
        sl->labels[k] = img.label;
    }
    sl->count = (int)count;
    return FK_OK;
}

static void *worker(void *arg)
{
    fk_loader *l = arg;
    long *perm = NULL, perm_epoch = -1;
    uint8_t *scratch = NULL;
    size_t scratch_size = 0, work_size = 0;
    float *work = NULL;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        slot *sl = &l->slots[(l->next_claim - l->g0) % l->ring];
        while (!atomic_load(&l->stop) && !l->failed && sl->state != SLOT_FREE) {
            pthread_cond_wait(&l->cv_work, &l->mu);
            sl = &l->slots[(l->next_claim - l->g0) % l->ring];
        }
        if (atomic_load(&l->stop) || l->failed) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        long g = l->next_claim++;
        sl->state = SLOT_BUSY;
        pthread_mutex_unlock(&l->mu);

        fk_status s = fill_batch(l, sl, g, &perm, &perm_epoch, &scratch, &scratch_size,
                                 &work, &work_size);
        pthread_mutex_lock(&l->mu);
        sl->g = g;
        sl->status = s;
        if (s != FK_OK)
            snprintf(sl->msg, sizeof sl->msg, "%s", fk_last_error());
        sl->state = SLOT_READY;
        pthread_cond_broadcast(&l->cv_ready);
        if (s != FK_OK) { /* claim no more; batches before g still complete */
            l->failed = 1;
            pthread_cond_broadcast(&l->cv_work);
        }
        pthread_mutex_unlock(&l->mu);
        if (s != FK_OK)
            break;
    }
    free(perm);
    free(scratch);
    free(work);
    return NULL;
}

static void free_slots(fk_loader *l)
{
    if (!l->slots)
        return;
    for (int i = 0; i < l->ring; i++) {
        if (l->slots[i].images)
            l->alloc.free(l->alloc.ctx, l->slots[i].images);
        free(l->slots[i].labels);
    }
    free(l->slots);
}

fk_status fk_loader_create(fk_dataset *ds, const fk_data_config *c, const fk_loader_opts *o,
                           fk_loader **out)
{
    *out = NULL;
    if (o->batch < 1)
        return fk_error(FK_ERR_ARG, "batch size %d: must be >= 1", o->batch);
    if (c->input_size < 1)
        return fk_error(FK_ERR_ARG, "[data] input_size not set (call fk_data_config_finish)");
    int c_in = ds->channels, c_out = c->channels ? c->channels : c_in;
    if (c_out == 1 && c_in == 3)
        return fk_error(FK_ERR_ARG, "[data] channels = 1: %s has colour images; use "
                        "channels = 3", fk_dataset_name(ds->kind));
    if ((c->n_mean == 3 || c->n_std == 3) && c_out == 1)
        return fk_error(FK_ERR_ARG, "[data] mean/std: 3 values given but the model input "
                        "has 1 channel; give one value each (or set channels = 3)");
    long shards = o->shards > 1 ? o->shards : 1, row0 = 0, rows = ds->n;
    if (o->shard < 0 || o->shard >= shards)
        return fk_error(FK_ERR_ARG, "loader shard %d of %ld out of range", o->shard, shards);
    if (!o->train && shards > 1) {
        long base = ds->n / shards, extra = ds->n % shards;
        row0 = o->shard * base + (o->shard < extra ? o->shard : extra);
        rows = base + (o->shard < extra ? 1 : 0);
    }
    long nb = o->train ? ds->n / (o->batch * shards) : (rows + o->batch - 1) / o->batch;
    if (nb < 1 && !o->train)
        return fk_error(FK_ERR_ARG, "evaluation shard %d of %ld has no images (%ld in the split)", o->shard, shards,
                        ds->n);
    if (nb < 1 && shards > 1)
        return fk_error(FK_ERR_ARG, "a global batch of %ld (%ld processes x %d) is larger than the %ld training "
                        "images (the last partial batch is dropped in training)", shards * o->batch, shards,
                        o->batch, ds->n);
    if (nb < 1)
        return fk_error(FK_ERR_ARG, "batch size %d is larger than the %ld training images "
                        "(the last partial batch is dropped in training)", o->batch, ds->n);
    if (o->epoch < 0 || o->start_batch < 0 || o->start_batch >= nb)
        return fk_error(FK_ERR_ARG, "loader start (epoch %ld, batch %ld) out of range: an "
                        "epoch has %ld batches", o->epoch, o->start_batch, nb);
    fk_loader *l = fk_calloc(1, sizeof *l);
    if (!l)
        return FK_ERR_NOMEM;
    l->ds = ds;
    l->cfg = *c;
    l->opts = *o;
    if (o->allocator) {
        l->alloc = *o->allocator;
    } else {
        l->alloc.alloc = default_alloc;
        l->alloc.free = default_free;
    }
    l->c_out = c_out;
    l->S = c->input_size;
    l->shuffle = o->train && c->shuffle;
    l->views = o->train && o->views > 1 ? 2 : 1;
    for (int k = 0; k < 3; k++) {
        l->mean[k] = c->n_mean == 3 ? c->mean[k] : c->mean[0];
        l->std[k] = c->n_std == 3 ? c->std[k] : c->std[0];
    }
    l->nb = nb;
    l->row0 = row0;
    l->rows = rows;
    l->stride = o->train ? shards * o->batch : o->batch;
    l->sub = o->train ? o->shard * o->batch : 0;
    l->g0 = l->next_claim = l->next_out = o->epoch * nb + o->start_batch;
    l->nthreads = c->workers > 0 ? c->workers : 1;
    l->ring = o->ring > 0 ? o->ring : 2 * l->nthreads + 1;
    atomic_init(&l->stop, 0);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv_work, NULL);
    pthread_cond_init(&l->cv_ready, NULL);
    size_t img_bytes = (size_t)l->views * o->batch * c_out * l->S * l->S * sizeof(float);
    l->slots = fk_calloc((size_t)l->ring, sizeof *l->slots);
    l->threads = fk_calloc((size_t)l->nthreads, sizeof *l->threads);
    if (!l->slots || !l->threads) {
        fk_loader_free(l);
        return FK_ERR_NOMEM;
    }
    for (int i = 0; i < l->ring; i++) {
        l->slots[i].images = l->alloc.alloc(l->alloc.ctx, img_bytes);
        l->slots[i].labels = malloc((size_t)o->batch * sizeof(int32_t));
        if (!l->slots[i].images || !l->slots[i].labels) {
            fk_loader_free(l);
            return fk_error(FK_ERR_NOMEM, "out of host memory for the loader ring (%d x %zu "
                            "bytes); lower the batch size or workers", l->ring, img_bytes);
        }
    }
    for (int t = 0; t < l->nthreads; t++) {
        if (pthread_create(&l->threads[t], NULL, worker, l) != 0) {
            l->nthreads = t;
            fk_loader_free(l);
            return fk_error(FK_ERR_NOMEM, "cannot start loader thread %d", t);
        }
    }
    *out = l;
    return FK_OK;
}

fk_status fk_loader_next(fk_loader *l, fk_batch *out)
{
    memset(out, 0, sizeof *out);
    out->c = l->c_out;
    out->h = out->w = l->S;
    out->views = l->views;
    out->slot = -1;
    if (l->pending_eoe) {
        l->pending_eoe = 0;
        out->end_of_epoch = 1;
        out->epoch = l->last_epoch;
        out->index = l->nb;
        return FK_OK;
    }
    long g = l->next_out;
    int si = (int)((g - l->g0) % l->ring);
    slot *sl = &l->slots[si];
    pthread_mutex_lock(&l->mu);
    while (!(sl->state == SLOT_READY && sl->g == g))
        pthread_cond_wait(&l->cv_ready, &l->mu);
    fk_status s = sl->status;
    if (s != FK_OK) {
        char msg[sizeof sl->msg];
        memcpy(msg, sl->msg, sizeof msg);
        pthread_mutex_unlock(&l->mu);
        int old = fk_error_quiet(1); /* the worker printed it already */
        fk_error(s, "%s", msg);
        fk_error_quiet(old);
        return s;
    }
    sl->state = SLOT_TAKEN;
    pthread_mutex_unlock(&l->mu);
    l->next_out++;
    out->images = sl->images;
    out->labels = sl->labels;
    out->count = sl->count;
    out->epoch = g / l->nb;
    out->index = g % l->nb;
    out->slot = si;
    if (out->index == l->nb - 1) {
        l->pending_eoe = 1;
        l->last_epoch = out->epoch;
    }
    return FK_OK;
}

void fk_loader_release(fk_loader *l, const fk_batch *b)
{
    if (!b || b->slot < 0 || b->slot >= l->ring)
        return;
    pthread_mutex_lock(&l->mu);
    if (l->slots[b->slot].state == SLOT_TAKEN) {
        l->slots[b->slot].state = SLOT_FREE;
        pthread_cond_broadcast(&l->cv_work);
    }
    pthread_mutex_unlock(&l->mu);
}

void fk_loader_free(fk_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    atomic_store(&l->stop, 1);
    pthread_cond_broadcast(&l->cv_work);
    pthread_mutex_unlock(&l->mu);
    for (int t = 0; t < l->nthreads; t++)
        pthread_join(l->threads[t], NULL);
    free(l->threads);
    free_slots(l);
    pthread_cond_destroy(&l->cv_work);
    pthread_cond_destroy(&l->cv_ready);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
