/* fk_sgd_step against torch.optim.SGD (tests/ref/gen_sgd.py): three steps
 * with weight decay and momentum, plain and Nesterov, lr changed between
 * steps; BN-style buffers untouched. */
#include "common.h"
#include "figkd/optim.h"

#include <stdlib.h>
#include <string.h>

static void run(fk_runtime *rt, const fk_st_file *fx, int nesterov)
{
    fk_param_store ps;
    fk_params_init(&ps);
    int ia = fk_params_add(&ps, "a", 4, (int[]){5, 3, 3, 3}, false);
    int ib = fk_params_add(&ps, "b", 1, (int[]){37}, false);
    int ir = fk_params_add(&ps, "bn.running_mean", 1, (int[]){4}, true);
    if (fk_params_alloc(rt, &ps) != FK_OK) {
        CHECK(0, "alloc");
        return;
    }
    const float *a0 = fk_test_tensor(fx, "a0", NULL), *b0 = fk_test_tensor(fx, "b0", NULL);
    fk_buffer_write(rt, ps.params, ps.items[ia].off * 4, 135 * 4, a0);
    fk_buffer_write(rt, ps.params, ps.items[ib].off * 4, 37 * 4, b0);
    float rm[4] = {1, 2, 3, 4};
    fk_buffer_write(rt, ps.buffers, ps.items[ir].off * 4, sizeof rm, rm);
    const float lrs[3] = {0.1f, 0.1f, 0.01f};
    for (int s = 0; s < 3; s++) {
        char name[32];
        snprintf(name, sizeof name, "ga%d", s);
        fk_buffer_write(rt, ps.grads, ps.items[ia].off * 4, 135 * 4, fk_test_tensor(fx, name, NULL));
        snprintf(name, sizeof name, "gb%d", s);
        fk_buffer_write(rt, ps.grads, ps.items[ib].off * 4, 37 * 4, fk_test_tensor(fx, name, NULL));
        fk_sgd opt = {lrs[s], 0.9f, 5e-4f, nesterov};
        CHECK(fk_sgd_step(rt, &ps, &opt) == FK_OK, "step");
        float got[135];
        char what[64];
        fk_buffer_read(rt, ps.params, ps.items[ia].off * 4, 135 * 4, got);
        snprintf(name, sizeof name, "a%d_n%d", s + 1, nesterov);
        snprintf(what, sizeof what, "sgd %s", name);
        /* same float32 operations as torch's foreach-free SGD, up to
         * contraction of a*b+c into fma: a few ulp */
        CHECK(fk_test_close(what, got, fk_test_tensor(fx, name, NULL), 135, 1e-7, 1e-6) == 0, "%s", what);
        fk_buffer_read(rt, ps.params, ps.items[ib].off * 4, 37 * 4, got);
        snprintf(name, sizeof name, "b%d_n%d", s + 1, nesterov);
        snprintf(what, sizeof what, "sgd %s", name);
        CHECK(fk_test_close(what, got, fk_test_tensor(fx, name, NULL), 37, 1e-7, 1e-6) == 0, "%s", what);
    }
    float rm2[4];
    fk_buffer_read(rt, ps.buffers, ps.items[ir].off * 4, sizeof rm2, rm2);
    CHECK(!memcmp(rm, rm2, sizeof rm), "buffers untouched by SGD");
    fk_params_free(&ps);
}

static void run_both(fk_runtime *rt, const fk_st_file *fx)
{
    run(rt, fx, 0);
    run(rt, fx, 1);
}

int main(void) { return fk_test_main("test_sgd", "sgd.safetensors", run_both); }
