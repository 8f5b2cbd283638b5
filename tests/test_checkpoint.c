/* Checkpoints: parameters, buffers (num_batches_tracked as I64) and
 * momentum round-trip; mismatches are reported by tensor name; a process
 * killed with SIGKILL while writing leaves the previous file loadable. */
#include "common.h"
#include "figkd/checkpoint.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void make_store(fk_param_store *ps, int out_ch)
{
    fk_params_init(ps);
    fk_params_add(ps, "conv1.weight", 4, (int[]){out_ch, 3, 3, 3}, false);
    fk_params_add(ps, "bn1.weight", 1, (int[]){out_ch}, false);
    fk_params_add(ps, "bn1.bias", 1, (int[]){out_ch}, false);
    fk_params_add(ps, "bn1.running_mean", 1, (int[]){out_ch}, true);
    fk_params_add(ps, "bn1.running_var", 1, (int[]){out_ch}, true);
    fk_params_add(ps, "bn1.num_batches_tracked", 0, NULL, true);
}

/* Child: rewrite a large file at path again and again until killed; one
 * byte to `ready` once the first write is complete. */
static void writer_child(const char *path, int ready)
{
    size_t n = 4u << 20;
    float *big = malloc(n * sizeof(float));
    for (int round = 0;; round++) {
        for (size_t i = 0; i < n; i++)
            big[i] = (float)round;
        fk_st_tensor t = {"x", FK_DT_F32, 1, {(int64_t)n}, n * sizeof(float), big};
        char v[16];
        snprintf(v, sizeof v, "%d", round);
        const char *k[] = {"round"}, *vals[] = {v};
        fk_st_write(path, &t, 1, k, vals, 1);
        if (round == 0 && (write(ready, "1", 1) != 1 || close(ready) != 0))
            _exit(1);
    }
}

static void kill_test(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    for (int trial = 0; trial < 5; trial++) {
        int ready[2];
        if (pipe(ready) != 0) {
            CHECK(0, "pipe");
            return;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(ready[0]);
            fk_error_quiet(1);
            writer_child(path, ready[1]);
            _exit(0);
        }
        /* kill while it rewrites: after its first complete write (which a
         * loaded machine may take longer than the delay below to finish) */
        close(ready[1]);
        char byte;
        CHECK(read(ready[0], &byte, 1) == 1, "the writer finished its first write (trial %d)", trial);
        close(ready[0]);
        struct timespec ts = {0, 150000000L + trial * 37000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fk_st_file f;
        fk_status st = fk_st_read(path, &f);
        CHECK(st == FK_OK, "after SIGKILL the checkpoint still loads (trial %d): %s", trial, fk_last_error());
        if (st == FK_OK) {
            const fk_st_tensor *t = fk_st_find(&f, "x");
            const char *round = fk_st_meta(&f, "round");
            int consistent = t && round;
            for (size_t i = 0; consistent && i < t->nbytes / 4; i += 4099)
                consistent = ((float *)t->data)[i] == (float)atoi(round);
            CHECK(consistent, "file content is one complete write");
            fk_st_free(&f);
        }
    }
}

int main(void)
{
    char dir[] = "/tmp/figkd-ckpt-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    kill_test(dir); /* before any OpenCL use: the child forks */

    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    fk_param_store a, b;
    make_store(&a, 5);
    make_store(&b, 5);
    if (fk_params_alloc(rt, &a) || fk_params_alloc(rt, &b))
        return 1;
    float *pv = malloc(a.param_count * 4), *mv = malloc(a.param_count * 4), *bv = malloc(a.buffer_count * 4);
    fk_test_fill_uniform(pv, a.param_count, 1, -1, 1);
    fk_test_fill_uniform(mv, a.param_count, 2, -1, 1);
    fk_test_fill_uniform(bv, a.buffer_count, 3, 0, 1);
    int nbt = fk_params_find(&a, "bn1.num_batches_tracked");
    bv[a.items[nbt].off] = 1234;
    fk_buffer_write(rt, a.params, 0, a.param_count * 4, pv);
    fk_buffer_write(rt, a.momentum, 0, a.param_count * 4, mv);
    fk_buffer_write(rt, a.buffers, 0, a.buffer_count * 4, bv);

    char path[512];
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    const char *keys[] = {"figkd.epoch", "figkd.config"}, *vals[] = {"7", "[run]\nname = \"x\"\n"};
    CHECK(fk_checkpoint_save(rt, &a, path, true, keys, vals, 2) == FK_OK, "save");
    fk_st_file meta;
    CHECK(fk_checkpoint_load(rt, &b, path, true, &meta) == FK_OK, "load: %s", fk_last_error());
    CHECK(fk_st_meta(&meta, "figkd.epoch") && !strcmp(fk_st_meta(&meta, "figkd.epoch"), "7"), "metadata");
    CHECK(fk_st_meta(&meta, "figkd.config") && !strcmp(fk_st_meta(&meta, "figkd.config"), vals[1]), "config text");
    const fk_st_tensor *t = fk_st_find(&meta, "bn1.num_batches_tracked");
    CHECK(t && t->dtype == FK_DT_I64 && t->ndim == 0 && *(int64_t *)t->data == 1234, "I64 scalar");
    fk_st_free(&meta);
    float *got = malloc(a.param_count * 4), *gm = malloc(a.param_count * 4), gb[64];
    fk_buffer_read(rt, b.params, 0, a.param_count * 4, got);
    fk_buffer_read(rt, b.momentum, 0, a.param_count * 4, gm);
    fk_buffer_read(rt, b.buffers, 0, a.buffer_count * 4, gb);
    for (int i = 0; i < a.count; i++) { /* the alignment gaps between tensors are not saved */
        const fk_param *p = &a.items[i];
        if (p->is_buffer) {
            CHECK(!memcmp(gb + p->off, bv + p->off, p->count * 4), "buffer %s round-trip", p->name);
        } else {
            CHECK(!memcmp(got + p->off, pv + p->off, p->count * 4), "param %s round-trip", p->name);
            CHECK(!memcmp(gm + p->off, mv + p->off, p->count * 4), "momentum %s round-trip", p->name);
        }
    }
    free(gm);

    /* weights only: optimizer tensors ignored */
    fk_param_store c;
    make_store(&c, 5);
    fk_params_alloc(rt, &c);
    CHECK(fk_checkpoint_load(rt, &c, path, false, NULL) == FK_OK, "weights-only load");
    fk_params_free(&c);

    /* mismatches named */
    fk_error_quiet(1);
    fk_param_store d;
    make_store(&d, 6);
    fk_params_alloc(rt, &d);
    CHECK_ERR(fk_checkpoint_load(rt, &d, path, false, NULL), FK_ERR_FORMAT, "conv1.weight", "(5, 3, 3, 3)", NULL);
    fk_params_free(&d);
    fk_params_init(&d);
    fk_params_add(&d, "conv1.weight", 4, (int[]){5, 3, 3, 3}, false);
    fk_params_add(&d, "fc.weight", 2, (int[]){10, 5}, false);
    fk_params_alloc(rt, &d);
    CHECK_ERR(fk_checkpoint_load(rt, &d, path, false, NULL), FK_ERR_FORMAT, "fc.weight", "missing", NULL);
    fk_params_free(&d);
    fk_params_init(&d);
    fk_params_add(&d, "conv1.weight", 4, (int[]){5, 3, 3, 3}, false);
    fk_params_alloc(rt, &d);
    CHECK_ERR(fk_checkpoint_load(rt, &d, path, false, NULL), FK_ERR_FORMAT, "unexpected tensor bn1.bias", NULL, NULL);
    fk_params_free(&d);
    /* a method's own parameters beside the model's: round trip with momentum;
     * the model's store alone passes them over; asked for, they must be there */
    fk_param_store m, m2, *both[2] = {&b, &m2};
    fk_params_init(&m);
    fk_params_add(&m, "method.reg.weight", 2, (int[]){2, 3}, false);
    fk_params_add(&m, "method.reg.running_mean", 1, (int[]){2}, true);
    fk_params_init(&m2);
    fk_params_add(&m2, "method.reg.weight", 2, (int[]){2, 3}, false);
    fk_params_add(&m2, "method.reg.running_mean", 1, (int[]){2}, true);
    char path2[560];
    snprintf(path2, sizeof path2, "%s/two.safetensors", dir);
    float mw[6] = {1, 2, 3, 4, 5, 6}, mm[6] = {-1, -2, -3, -4, -5, -6}, mb[2] = {7, 8}, g6[6], g2[2];
    if (fk_params_alloc(rt, &m) || fk_params_alloc(rt, &m2))
        return 1;
    fk_buffer_write(rt, m.params, 0, sizeof mw, mw);
    fk_buffer_write(rt, m.momentum, 0, sizeof mm, mm);
    fk_buffer_write(rt, m.buffers, 0, sizeof mb, mb);
    const fk_param_store *saved[2] = {&a, &m};
    CHECK(fk_checkpoint_save_stores(rt, saved, 2, path2, true, NULL, NULL, 0) == FK_OK, "save two stores: %s",
          fk_last_error());
    CHECK(fk_checkpoint_load_stores(rt, both, 2, path2, true, NULL) == FK_OK, "load two stores: %s", fk_last_error());
    fk_buffer_read(rt, m2.params, 0, sizeof g6, g6);
    CHECK(!memcmp(g6, mw, sizeof mw), "method parameters round-trip");
    fk_buffer_read(rt, m2.momentum, 0, sizeof g6, g6);
    CHECK(!memcmp(g6, mm, sizeof mm), "method momentum round-trip");
    fk_buffer_read(rt, m2.buffers, 0, sizeof g2, g2);
    CHECK(!memcmp(g2, mb, sizeof mb), "method buffers round-trip");
    CHECK(fk_checkpoint_load(rt, &b, path2, true, NULL) == FK_OK, "the model's store alone: %s", fk_last_error());
    CHECK(fk_checkpoint_load(rt, &b, path2, false, NULL) == FK_OK, "weights only: %s", fk_last_error());
    CHECK_ERR(fk_checkpoint_load_stores(rt, both, 2, path, true, NULL), FK_ERR_FORMAT, "method.reg.weight", "missing",
              NULL);
    fk_params_free(&m);
    fk_params_free(&m2);
    /* a truncated file is an error, never a crash */
    FILE *f = fopen(path, "r+b");
    if (f) {
        CHECK(ftruncate(fileno(f), 100) == 0, "truncate");
        fclose(f);
    }
    CHECK(fk_checkpoint_load(rt, &b, path, true, NULL) == FK_ERR_FORMAT, "truncated file: %s", fk_last_error());

    free(pv), free(mv), free(bv), free(got);
    fk_params_free(&a);
    fk_params_free(&b);
    fk_runtime_free(rt);
    return fk_test_result("test_checkpoint");
}
