/* npy float32 writer/reader: exact header bytes, round trips, errors. */
#include "common.h"

#include <stdlib.h>
#include <sys/stat.h>

static void round_trip(const char *name, int ndim, const int64_t *shape)
{
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (size_t)shape[i];
    float *data = malloc((count ? count : 1) * sizeof *data);
    for (size_t i = 0; i < count; i++)
        data[i] = (float)i * 0.5f - 3.0f;
    const char *path = fk_test_path(name);
    CHECK(fk_npy_write(path, data, ndim, shape) == FK_OK, "round trip");
    float *got = NULL;
    int gnd = -1;
    int64_t gshape[FK_ST_MAX_DIMS];
    CHECK(fk_npy_read(path, &got, &gnd, gshape) == FK_OK, "round trip");
    CHECK(gnd == ndim, "round trip");
    for (int i = 0; i < ndim && i < gnd; i++)
        CHECK(gshape[i] == shape[i], "round trip");
    CHECK(got != NULL, "round trip");
    if (got && count)
        CHECK(!memcmp(got, data, count * sizeof *data), "round trip");
    size_t n;
    unsigned char *b = fk_test_read(path, &n);
    CHECK(b && n == 128 + count * 4 && (n - count * 4) % 64 == 0, "round trip");
    free(b);
    free(got);
    free(data);
}

int main(void)
{
    fk_test_mkdir("npy");
    int64_t s3[3] = { 2, 3, 4 }, s1[1] = { 5 }, s0e[2] = { 0, 7 };
    round_trip("a3.npy", 3, s3);
    round_trip("a1.npy", 1, s1);
    round_trip("a0.npy", 0, NULL);
    round_trip("empty.npy", 2, s0e);

    /* The exact header NumPy writes for shape (2, 3). */
    int64_t s2[2] = { 2, 3 };
    float z[6] = { 0 };
    const char *p = fk_test_path("h.npy");
    CHECK(fk_npy_write(p, z, 2, s2) == FK_OK, "npy");
    size_t n;
    unsigned char *b = fk_test_read(p, &n);
    const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(b && n == 128 + 24 && !memcmp(b, "\x93NUMPY\x01\x00\x76\x00", 10)
        && !memcmp(b + 10, want, strlen(want)) && b[127] == '\n' && b[126] == ' ', "npy");

    /* Errors name the file. */
    float *d;
    int nd;
    int64_t sh[FK_ST_MAX_DIMS];
    const char *q = fk_test_path("trunc.npy");
    fk_test_write(q, b, n - 1);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "truncated", NULL);
    fk_test_write(q, b, 60);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "beyond the file size", NULL);
    unsigned char *m = malloc(n);
    memcpy(m, b, n);
    memcpy(m + 10 + 11, "<f8", 3);
    fk_test_write(q, m, n);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "'<f8'", NULL);
    memcpy(m, b, n);
    memcpy(m + 10 + 34, "True, ", 6);
    fk_test_write(q, m, n);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "Fortran", NULL);
    memcpy(m, b, n);
    m[1] = 'X';
    fk_test_write(q, m, n);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "magic", NULL);
    /* Truncation at every length never crashes and is always an error. */
    int quiet = fk_error_quiet(1);
    for (size_t len = 0; len < n; len++) {
        fk_test_write(q, b, len);
        fk_status s = fk_npy_read(q, &d, &nd, sh);
        CHECK(s != FK_OK, "npy");
        if (s == FK_OK)
            free(d);
    }
    fk_error_quiet(quiet);
    free(m);
    free(b);

    char nodir[700];
    snprintf(nodir, sizeof nodir, "%s/none/x.npy", fk_test_dir());
    CHECK_ERR(fk_npy_write(nodir, z, 2, s2), FK_ERR_IO, nodir, NULL, NULL);
    CHECK(fk_test_count_files(fk_test_dir(), ".tmp.") == 0, "npy");
    fk_test_rmdir();
    return fk_test_result("test_npy");
}
