/* Gradient buckets, model broadcast (include/figkd/parallel_cl.h). */
#include "figkd/parallel_cl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

fk_status fk_grad_sync_init(fk_grad_sync *s, const fk_par *par, fk_runtime *rt, fk_param_store *ps, size_t bucket)
{
    memset(s, 0, sizeof *s);
    s->par = par;
    s->rt = rt;
    s->ps = ps;
    s->next = -1;
    s->poll = rt->opts.grad_poll;
    if (!fk_par_many(par))
        return FK_OK;
    s->count = ps->param_count;
    s->bucket = bucket > 0 ? bucket : FK_GRAD_BUCKET;
    s->nb = (int)((s->count + s->bucket - 1) / s->bucket);
    s->host = fk_malloc((s->count ? s->count : 1) * sizeof(float));
    s->b = fk_calloc((size_t)s->nb + 1, sizeof *s->b);
    s->ev = fk_calloc((size_t)s->nb + 1, sizeof *s->ev);
    if (!s->host || !s->b || !s->ev)
        return FK_ERR_NOMEM;
    for (int k = 0; k < s->nb; k++) {
        size_t lo = (size_t)k * s->bucket, hi = lo + s->bucket < s->count ? lo + s->bucket : s->count;
        s->b[k] = (fk_par_bucket){s->host + lo, hi - lo, NULL};
    }
    s->next = s->nb - 1;
    s->done_lo = s->count;
    return FK_OK;
}

void fk_grad_sync_free(fk_grad_sync *s)
{
    if (s->rt && s->host)
        clFinish(s->rt->queue); /* reads into and writes from host may be in flight */
    for (int k = 0; s->ev && k < s->nb; k++)
        if (s->ev[k])
            clReleaseEvent(s->ev[k]);
    for (int k = 0; s->b && k < s->nb; k++)
        if (s->b[k].req)
            fk_par_bucket_finish(s->par, &s->b[k]);
    free(s->host);
    free(s->b);
    free(s->ev);
    memset(s, 0, sizeof *s);
}

/* Enqueue the read of every bucket that lies in [done_lo, count). */
static fk_status issue_ready(fk_grad_sync *s)
{
    for (; s->next >= 0 && (size_t)s->next * s->bucket >= s->done_lo; s->next--) {
        fk_par_bucket *b = &s->b[s->next];
        size_t off = (size_t)(b->data - s->host);
        if (s->add)
            FK_TRY(fk_buffer_axpy(s->rt, s->ps->grads, off, s->add, off, 1.0f, b->count));
        FK_CL_CHECK(clEnqueueReadBuffer(s->rt->queue, s->ps->grads, CL_FALSE, off * sizeof(float),
                                        b->count * sizeof(float), b->data, 0, NULL, &s->ev[s->next]));
    }
    return FK_OK;
}

fk_status fk_grad_sync_ready(void *ctx, size_t grads_from)
{
    fk_grad_sync *s = ctx;
    if (!s->host || s->hold)
        return FK_OK;
    if (grads_from < s->done_lo)
        s->done_lo = grads_from;
    int before = s->next;
    FK_TRY(issue_ready(s));
    if (s->next != before)
        clFlush(s->rt->queue); /* start the device on what is queued */
    return FK_OK;
}

void fk_grad_sync_hold(fk_grad_sync *s) { s->hold = true; }

void fk_grad_sync_arm(fk_grad_sync *s, cl_mem add)
{
    s->hold = false;
    s->add = add;
}

/* Wait for bucket k's read; meanwhile the reductions of the buckets above
 * it, already started, are moved on every 100 us (with none in flight:
 * a plain wait). */
static fk_status wait_read(fk_grad_sync *s, int k)
{
    if (k == s->nb - 1 || !s->poll) {
        FK_CL_CHECK(clWaitForEvents(1, &s->ev[k]));
        return FK_OK;
    }
    for (;;) {
        cl_int status;
        FK_CL_CHECK(clGetEventInfo(s->ev[k], CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL));
        if (status < 0)
            return fk_error(FK_ERR_CL, "reading gradient bucket %d failed (%d)", k, (int)status);
        if (status == CL_COMPLETE)
            return FK_OK;
        for (int j = s->nb - 1; j > k; j--)
            FK_TRY(fk_par_bucket_test(s->par, &s->b[j]));
        nanosleep(&(struct timespec){0, 100000}, NULL);
    }
}

fk_status fk_grad_sync_end(fk_grad_sync *s)
{
    if (!s->host)
        return FK_OK;
    s->hold = false;
    s->done_lo = 0;
    FK_TRY(issue_ready(s));
    clFlush(s->rt->queue);
    /* in the order the reads were enqueued: each allreduce starts while
     * the device still computes the buckets below it */
    for (int k = s->nb - 1; k >= 0; k--) {
        FK_TRY(wait_read(s, k));
        clReleaseEvent(s->ev[k]);
        s->ev[k] = NULL;
        FK_TRY(fk_par_bucket_start(s->par, &s->b[k]));
    }
    double t_read = fk_seconds();
    for (int k = s->nb - 1; k >= 0; k--) {
        fk_par_bucket *b = &s->b[k];
        FK_TRY(fk_par_bucket_finish(s->par, b));
        size_t off = (size_t)(b->data - s->host);
        /* queued before the optimizer step; the host copy is not touched
         * again before the next step's reads, queued after this write */
        FK_CL_CHECK(clEnqueueWriteBuffer(s->rt->queue, s->ps->grads, CL_FALSE, off * sizeof(float),
                                         b->count * sizeof(float), b->data, 0, NULL, NULL));
    }
    s->next = s->nb - 1;
    s->done_lo = s->count;
    s->add = NULL;
    double t_out = fk_seconds();
    s->exposed_s += t_out - t_read;
    return FK_OK;
}

static fk_status sum_f64(void *ctx, double *x, size_t n) { return fk_par_sum_f64(ctx, x, n); }

fk_replicas fk_par_replicas(const fk_par *par)
{
    fk_replicas r = {sum_f64, (void *)par};
    return r;
}

/* Rank 0's n floats of buf to every rank. */
static fk_status bcast_buffer(const fk_par *par, fk_runtime *rt, cl_mem buf, size_t n)
{
    if (n == 0 || !buf)
        return FK_OK;
    float *h = fk_malloc(n * sizeof(float));
    if (!h)
        return FK_ERR_NOMEM;
    fk_status st = fk_par_root(par) ? fk_buffer_read(rt, buf, 0, n * sizeof(float), h) : FK_OK;
    if (!st)
        st = fk_par_bcast(par, h, n * sizeof(float), 0);
    if (!st && !fk_par_root(par))
        st = fk_buffer_write(rt, buf, 0, n * sizeof(float), h);
    free(h);
    return st;
}

fk_status fk_par_bcast_params(const fk_par *par, fk_runtime *rt, fk_param_store *ps, bool momentum)
{
    if (!fk_par_many(par))
        return FK_OK;
    FK_TRY(bcast_buffer(par, rt, ps->params, ps->param_count));
    FK_TRY(bcast_buffer(par, rt, ps->buffers, ps->buffer_count));
    if (momentum)
        FK_TRY(bcast_buffer(par, rt, ps->momentum, ps->param_count));
    return FK_OK;
}
