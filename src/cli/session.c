/* Helpers shared by train, eval, bench and predict. */
#include "cli/session.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int fk_mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

int fk_session_channels(const fk_config *cfg, const fk_dataset *ds)
{
    return cfg->data.channels ? cfg->data.channels : fk_dataset_channels(ds);
}

fk_status fk_session_model(fk_runtime *rt, const fk_config *cfg, const char *name, int classes, int channels,
                           uint64_t seed, fk_model **out)
{
    fk_model_opts o = {classes, cfg->data.input_size, channels};
    FK_TRY(fk_model_build(name, &o, out));
    fk_status st = fk_model_to_device(rt, *out, seed);
    if (st != FK_OK) {
        fk_model_free(*out);
        *out = NULL;
    }
    return st;
}

fk_status fk_session_load_weights(fk_runtime *rt, fk_model *m, const char *path)
{
    return fk_checkpoint_load(rt, &m->graph.params, path, false, NULL);
}

fk_status fk_session_evaluate(fk_step *s, fk_model *m, fk_dataset *ds, const fk_config *cfg, cl_mem x, cl_mem y,
                              double *top1, double *top5, double *loss)
{
    fk_loader_opts o;
    fk_loader_opts_default(&o);
    o.train = 0;
    o.batch = s->batch;
    o.seed = cfg->seed;
    fk_loader *l;
    FK_TRY(fk_step_reset_acc(s));
    FK_TRY(fk_loader_create(ds, &cfg->data, &o, &l));
    fk_status st = FK_OK;
    long seen = 0;
    for (;;) {
        fk_batch b;
        if ((st = fk_loader_next(l, &b)) != FK_OK)
            break;
        if (b.end_of_epoch)
            break;
        size_t img = (size_t)b.count * b.c * b.h * b.w;
        st = fk_buffer_write(s->rt, x, 0, img * sizeof(float), b.images);
        if (st == FK_OK)
            st = fk_buffer_write(s->rt, y, 0, (size_t)b.count * sizeof(int32_t), b.labels);
        if (st == FK_OK)
            st = fk_step_eval(s, m, x, y, b.count);
        seen += b.count;
        fk_loader_release(l, &b);
        if (st != FK_OK)
            break;
    }
    fk_loader_free(l);
    FK_TRY(st);
    float acc[FK_ACC_COUNT];
    FK_TRY(fk_buffer_read(s->rt, s->acc, 0, sizeof acc, acc));
    FK_TRY(fk_step_reset_acc(s));
    double n = seen ? (double)seen : 1.0;
    *top1 = acc[FK_ACC_TOP1] / n;
    *top5 = acc[FK_ACC_TOP5] / n;
    *loss = acc[FK_ACC_CE] / n;
    return FK_OK;
}
