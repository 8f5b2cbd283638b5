/* A batch-coupled loss term over the global batch (include/figkd/parallel_cl.h). */
#include "figkd/parallel_cl.h"

#include <stdlib.h>
#include <string.h>

fk_status fk_logit_gather_init(fk_logit_gather *g, const fk_par *par, fk_runtime *rt, int n, int c,
                               size_t work_elems)
{
    memset(g, 0, sizeof *g);
    g->par = par;
    g->rt = rt;
    g->n = n;
    g->c = c;
    if (!fk_par_many(par))
        return FK_OK;
    size_t rows = (size_t)par->size * n, nc = rows * c;
    g->work_elems = work_elems;
    g->host = fk_malloc(nc * sizeof(float));
    g->host_labels = fk_malloc(rows * sizeof(int));
    if (!g->host || !g->host_labels)
        return FK_ERR_NOMEM;
    FK_TRY(fk_buffer_create(rt, nc * sizeof(float), 0, &g->student));
    FK_TRY(fk_buffer_create(rt, nc * sizeof(float), 0, &g->teacher));
    FK_TRY(fk_buffer_create(rt, nc * sizeof(float), 0, &g->dlogits));
    FK_TRY(fk_buffer_create(rt, rows * sizeof(int), 0, &g->labels));
    return fk_buffer_create(rt, (work_elems + 1) * sizeof(float), 0, &g->work);
}

void fk_logit_gather_free(fk_logit_gather *g)
{
    cl_mem m[] = {g->student, g->teacher, g->dlogits, g->labels, g->work};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i])
            clReleaseMemObject(m[i]);
    free(g->host);
    free(g->host_labels);
    memset(g, 0, sizeof *g);
}

/* The n x c floats of t from every rank into all (blocking). */
static fk_status gather(fk_logit_gather *g, fk_tensor t, cl_mem all)
{
    size_t nc = (size_t)g->n * g->c, bytes = nc * sizeof(float);
    float *mine = g->host + (size_t)g->par->rank * nc;
    FK_TRY(fk_buffer_read(g->rt, t.buf, t.off * sizeof(float), bytes, mine));
    FK_TRY(fk_par_allgather(g->par, g->host, bytes));
    return fk_buffer_write(g->rt, all, 0, bytes * (size_t)g->par->size, g->host);
}

fk_status fk_logit_gather_io(fk_logit_gather *g, fk_method_io *io)
{
    if (!g->host)
        return FK_OK;
    if (io->n != g->n || io->c != g->c)
        return fk_error(FK_ERR_ARG, "fk_logit_gather_io: %d x %d logits, the gather holds %d x %d", io->n, io->c,
                        g->n, g->c);
    size_t rows = (size_t)g->par->size * g->n, nc = rows * g->c;
    FK_TRY(gather(g, io->student, g->student));
    io->student = (fk_tensor){g->student, 0, 2, {(int)rows, g->c, 1, 1}};
    if (io->teacher.buf) {
        FK_TRY(gather(g, io->teacher, g->teacher));
        io->teacher = (fk_tensor){g->teacher, 0, 2, {(int)rows, g->c, 1, 1}};
    }
    if (io->labels) {
        size_t bytes = (size_t)g->n * sizeof(int);
        FK_TRY(fk_buffer_read(g->rt, io->labels, 0, bytes, g->host_labels + (size_t)g->par->rank * g->n));
        FK_TRY(fk_par_allgather(g->par, g->host_labels, bytes));
        FK_TRY(fk_buffer_write(g->rt, g->labels, 0, bytes * (size_t)g->par->size, g->host_labels));
        io->labels = g->labels;
    }
    io->n = (int)rows;
    io->work = (fk_tensor){g->work, 0, 1, {(int)g->work_elems, 1, 1, 1}};
    if (io->dlogits) {
        FK_TRY(fk_buffer_fill(g->rt, g->dlogits, 0, nc, 0.0f));
        g->dl = (fk_tensor){g->dlogits, 0, 2, {(int)rows, g->c, 1, 1}};
        io->dlogits = &g->dl;
    }
    return FK_OK;
}

fk_status fk_logit_gather_scatter(fk_logit_gather *g, const fk_tensor *dlogits)
{
    if (!g->host || !dlogits)
        return FK_OK;
    size_t nc = (size_t)g->n * g->c;
    return fk_buffer_axpy(g->rt, dlogits->buf, dlogits->off, g->dlogits, (size_t)g->par->rank * nc,
                          (float)g->par->size, nc);
}
