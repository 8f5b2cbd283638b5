/* Kernels by id and typed launches: a kernel is resolved once per runtime
 * (the second request is an array index, no program lookup); per-shape -D
 * variants are kept per (id, values); FK_RUN sets every argument by its C
 * type, and an argument of the wrong size or a wrong count fails naming the
 * kernel and file:line. */
#include "common.h"

#include <string.h>

static fk_status fill(fk_runtime *rt, cl_mem buf, size_t off, float value, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_FILL_F32, &k));
    FK_RUN_1D(rt, k, count, FK_A(buf), FK_A(off), FK_A(value), FK_A(count));
    return FK_OK;
}

/* the offset (a ulong in cl/util.cl) given as an int */
static fk_status fill_int_offset(fk_runtime *rt, cl_mem buf)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_FILL_F32, &k));
    FK_RUN_1D(rt, k, 4, FK_A(buf), FK_A(0), FK_A(1.0f), FK_A((size_t)4));
    return FK_OK;
}

static fk_status fill_too_few(fk_runtime *rt, cl_mem buf)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_FILL_F32, &k));
    FK_RUN_1D(rt, k, 4, FK_A(buf), FK_A((size_t)0), FK_A(1.0f));
    return FK_OK;
}

static void check_args(void)
{
    CHECK(FK_A(1).size == 4 && FK_A(1u).size == 4 && FK_A(1.0f).size == 4, "int, unsigned, float: 4 bytes");
    CHECK(FK_A((size_t)1).size == 8 && FK_A((cl_ulong)1).size == 8 && FK_A(1L).size == 8 &&
              FK_A(1LL).size == 8 && FK_A(1ULL).size == 8,
          "size_t, cl_ulong, long, long long: 8 bytes");
    CHECK(FK_A((size_t)5).v.ul == 5 && FK_A(-3).v.i == -3 && FK_A(2.5f).v.f == 2.5f, "values kept");
    fk_tensor t = {.buf = NULL, .off = 7};
    fk_arg two[] = {FK_T(t)};
    CHECK(sizeof two / sizeof two[0] == 2 && two[0].size == sizeof(cl_mem) && two[1].size == 8 &&
              two[1].v.ul == 7,
          "FK_T is the buffer and a ulong offset");
}

int main(void)
{
    check_args();
    fk_runtime *rt;
    int r = fk_test_runtime(&rt);
    if (r)
        return r;
    fk_error_quiet(1);

    /* resolved once: the second request does not look the program up */
    cl_kernel a = NULL, b = NULL, byname = NULL;
    CHECK(fk_kernel(rt, FK_K_FILL_F32, &a) == FK_OK && a, "fill_f32 by id: %s", fk_last_error());
    int hits = rt->memory_hits;
    CHECK(fk_kernel(rt, FK_K_FILL_F32, &b) == FK_OK && b == a, "the same handle again");
    CHECK(rt->memory_hits == hits, "no program lookup the second time (%d -> %d)", hits, rt->memory_hits);
    CHECK(fk_kernel_get(rt, "util", "", "fill_f32", &byname) == FK_OK && byname == a, "the handle by name");

    /* -D variants: one per (id, values) */
    cl_kernel p1 = NULL, p2 = NULL, p3 = NULL;
    CHECK(fk_kernel_defs(rt, FK_K_MAXPOOL_FORWARD, (int[]){2, 2, 0}, &p1) == FK_OK && p1, "maxpool k2 s2");
    hits = rt->memory_hits;
    CHECK(fk_kernel_defs(rt, FK_K_MAXPOOL_FORWARD, (int[]){2, 2, 0}, &p2) == FK_OK && p2 == p1, "again");
    CHECK(rt->memory_hits == hits, "no program lookup for a known variant");
    CHECK(fk_kernel_defs(rt, FK_K_MAXPOOL_FORWARD, (int[]){3, 2, 1}, &p3) == FK_OK && p3 && p3 != p1,
          "another shape, another kernel");
    CHECK(fk_kernel_get(rt, "pool", "-DK=3 -DS=2 -DP=1", "maxpool_forward", &byname) == FK_OK && byname == p3,
          "built with the options of the table");
    CHECK(fk_kernel(rt, FK_K_IM2COL, &a) == FK_ERR_ARG, "a kernel with -D values needs fk_kernel_defs");

    /* a launch */
    cl_mem buf = NULL;
    float got[8] = {0};
    CHECK(fk_buffer_create(rt, sizeof got, 0, &buf) == FK_OK, "buffer");
    CHECK(fk_buffer_fill(rt, buf, 0, 8, 0.0f) == FK_OK, "zero");
    CHECK(fill(rt, buf, 2, 3.5f, 4) == FK_OK, "FK_RUN: %s", fk_last_error());
    CHECK(fk_buffer_read(rt, buf, 0, sizeof got, got) == FK_OK, "read");
    CHECK(got[1] == 0 && got[2] == 3.5f && got[5] == 3.5f && got[6] == 0, "filled 2..5: %g %g %g %g", got[1],
          got[2], got[5], got[6]);

    /* wrong size, wrong count: loud, with the kernel and file:line */
    CHECK(fill_int_offset(rt, buf) == FK_ERR_CL, "an int for a ulong fails");
    const char *msg = fk_last_error();
    CHECK(strstr(msg, "CL_INVALID_ARG_SIZE") && strstr(msg, "fill_f32") && strstr(msg, "argument 1") &&
              strstr(msg, "test_launch.c:"),
          "message: %s", msg);
    CHECK(fill_too_few(rt, buf) == FK_ERR_ARG, "three arguments for four fail");
    msg = fk_last_error();
    CHECK(strstr(msg, "fill_f32 takes 4 arguments, 3 given") && strstr(msg, "test_launch.c:"), "message: %s", msg);

    clReleaseMemObject(buf);
    fk_runtime_free(rt);
    return fk_test_result("launch");
}
