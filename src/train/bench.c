/* Timed training steps of a config's teacher -> student pair on synthetic
 * input (no data set needed): the whole step, then each part (teacher
 * forward, student forward, loss, backward, update) ended by a queue finish. */
#include "figkd/train.h"
#include "train/stage.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int fk_bench_default_classes(const fk_config *cfg)
{
    switch (cfg->data.dataset) {
    case FK_DATASET_CIFAR100: return 100;
    case FK_DATASET_TINYIMAGENET: return 200;
    case FK_DATASET_CIFAR10:
    case FK_DATASET_FASHION_MNIST:
    case FK_DATASET_MNIST: return 10;
    default: return 0;
    }
}

/* What a bench holds on the device. */
typedef struct bench {
    fk_runtime *rt;
    fk_model *student, *teacher;
    fk_step step;
    cl_mem x, y;
    fk_grad_sync sync;         /* under mpirun: the data-parallel step */
    fk_logit_gather gather;
    bool attached;
} bench;

/* Models, step and a batch of uniform noise in [-1, 1) with labels i % classes. */
static fk_status bench_build(bench *b, const fk_config *cfg, fk_bench_result *r)
{
    const fk_par *par = fk_par_world();
    int B = r->batch, classes = r->classes;
    if (fk_par_many(par)) { /* the global batch over the ranks, as train splits it */
        if (B % par->size != 0)
            return fk_error(FK_ERR_ARG, "bench: batch %d (the global batch) does not split evenly over %d "
                            "processes; use a multiple of %d", B, par->size, par->size);
        B /= par->size;
        r->ranks = par->size;
    }
    fk_loss_spec loss;
    FK_TRY(fk_session_runtime(&b->rt));
    FK_TRY(fk_tune_use(b->rt, r->tune_file, sizeof r->tune_file, &r->tune_entries));
    fk_tune_blas_names(b->rt, r->tune_blas, sizeof r->tune_blas);
    FK_TRY(fk_loss_spec_from_config(cfg, classes, &loss));
    if (cfg->method->needs_teacher)
        FK_TRY(fk_session_model(b->rt, cfg, cfg->teacher_model, classes, r->channels, cfg->seed + 1, &b->teacher));
    FK_TRY(fk_session_model(b->rt, cfg, cfg->student_model, classes, r->channels, cfg->seed, &b->student));
    const fk_node *in = &b->student->graph.nodes[0];
    int views = fk_method_views(loss.method); /* a two-view method reads views * B images */
    FK_TRY(fk_session_check_memory(b->rt, b->student, true, b->teacher, FK_METHOD_TAPS(loss.method), B,
                                   (size_t)views * in->c * in->h * in->w * sizeof(float) +
                                       4 * (size_t)classes * sizeof(float)));
    if (b->teacher)
        FK_TRY(fk_model_plan_teacher(b->teacher, B, FK_METHOD_TAPS(loss.method)));
    FK_TRY(fk_model_plan(b->student, B, true));
    FK_TRY(fk_step_init(&b->step, b->rt, b->student, b->teacher, &loss, B, classes));
    b->attached = true;
    FK_TRY(fk_ranks_attach(&b->step, &b->student->graph, cfg->optim.sync_bn, &b->sync, &b->gather));
    r->size = b->student->graph.nodes[0].h;
    size_t img = (size_t)views * B * r->channels * r->size * r->size;
    r->device_bytes = (double)fk_model_planned_bytes(b->student) + (double)(img + (size_t)B) * 4 +
                      (double)((size_t)B * classes + 4 + FK_ACC_SLOTS + b->step.work_elems + 1) * 4 +
                      (b->teacher ? (double)fk_model_planned_bytes(b->teacher) : 0);
    float *hx = fk_malloc(img * sizeof(float));
    int32_t *hy = fk_malloc((size_t)B * sizeof(int32_t));
    fk_status st = hx && hy ? FK_OK : FK_ERR_NOMEM;
    unsigned long long s = 88172645463325252ull + cfg->seed;
    for (size_t i = 0; hx && i < img; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        hx[i] = (float)((s >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
    }
    for (int i = 0; hy && i < B; i++)
        hy[i] = (int32_t)(i % classes);
    if (!st)
        st = fk_buffer_create(b->rt, img * 4, 0, &b->x);
    if (!st)
        st = fk_buffer_create(b->rt, (size_t)B * 4, 0, &b->y);
    if (!st)
        st = fk_buffer_write(b->rt, b->x, 0, img * 4, hx);
    if (!st)
        st = fk_buffer_write(b->rt, b->y, 0, (size_t)B * 4, hy);
    free(hx);
    free(hy);
    return st;
}

/* Warm-up, `steps` steps without syncs, then `steps` steps timed by part. */
static fk_status bench_time(bench *b, const fk_config *cfg, fk_bench_result *r)
{
    fk_sgd sgd = {(float)cfg->optim.lr, (float)cfg->optim.momentum, (float)cfg->optim.weight_decay,
                  cfg->optim.nesterov};
    for (int i = 0; i < 3; i++) /* program builds, CLBlast tuning caches */
        FK_TRY(fk_step_run(&b->step, b->x, b->y, 0, &sgd, NULL));
    FK_TRY(fk_runtime_finish(b->rt));
    FK_TRY(fk_par_barrier(fk_par_world()));
    b->sync.exposed_s = 0;
    double t0 = fk_seconds();
    for (long i = 0; i < r->steps; i++)
        FK_TRY(fk_step_run(&b->step, b->x, b->y, 0, &sgd, NULL));
    FK_TRY(fk_runtime_finish(b->rt));
    r->step_s = (fk_seconds() - t0) / r->steps;
    r->sync_exposed_s = b->sync.exposed_s / r->steps;
    for (long i = 0; i < r->steps; i++)
        FK_TRY(fk_step_run(&b->step, b->x, b->y, 0, &sgd, &r->parts));
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        r->peak_rss = (double)ru.ru_maxrss * 1024.0; /* KiB on Linux */
    return FK_OK;
}

fk_status fk_bench_run(const fk_config *cfg, long steps, int batch, int classes, fk_bench_result *r)
{
    memset(r, 0, sizeof *r);
    bool grey = cfg->data.dataset == FK_DATASET_FASHION_MNIST || cfg->data.dataset == FK_DATASET_MNIST;
    r->batch = batch ? batch : cfg->optim.batch_size;
    r->channels = cfg->data.channels ? cfg->data.channels : grey ? 1 : 3;
    r->classes = classes;
    r->steps = steps;
    bench b;
    memset(&b, 0, sizeof b);
    fk_status st = bench_build(&b, cfg, r);
    if (!st)
        st = bench_time(&b, cfg, r);
    if (!st) {
        snprintf(r->device, sizeof r->device, "%s", b.rt->dev.name);
        snprintf(r->platform, sizeof r->platform, "%s", b.rt->dev.platform);
        r->tune_used = fk_tune_used(b.rt);
    }
    if (b.x)
        clReleaseMemObject(b.x);
    if (b.y)
        clReleaseMemObject(b.y);
    if (b.attached)
        fk_ranks_detach(&b.student->graph, &b.sync, &b.gather);
    fk_step_free(&b.step);
    fk_model_free(b.student);
    fk_model_free(b.teacher);
    fk_runtime_free(b.rt);
    return st;
}
