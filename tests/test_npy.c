/* npy float32 writer/reader: exact header bytes, round trips, errors. */
#include "figkd/io.h"
#include "test_common.h"

#include <sys/stat.h>

static void round_trip(const char *name, int ndim, const int64_t *shape)
{
    size_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= (size_t)shape[i];
    float *data = malloc((count ? count : 1) * sizeof *data);
    for (size_t i = 0; i < count; i++)
        data[i] = (float)i * 0.5f - 3.0f;
    const char *path = t_path(name);
    CHECK(fk_npy_write(path, data, ndim, shape) == FK_OK);
    float *got = NULL;
    int gnd = -1;
    int64_t gshape[FK_ST_MAX_DIMS];
    CHECK(fk_npy_read(path, &got, &gnd, gshape) == FK_OK);
    CHECK(gnd == ndim);
    for (int i = 0; i < ndim && i < gnd; i++)
        CHECK(gshape[i] == shape[i]);
    CHECK(got != NULL);
    if (got && count)
        CHECK(!memcmp(got, data, count * sizeof *data));
    size_t n;
    unsigned char *b = t_read(path, &n);
    CHECK(b && n == 128 + count * 4 && (n - count * 4) % 64 == 0);
    free(b);
    free(got);
    free(data);
}

int main(void)
{
    t_mkdir("npy");
    int64_t s3[3] = { 2, 3, 4 }, s1[1] = { 5 }, s0e[2] = { 0, 7 };
    round_trip("a3.npy", 3, s3);
    round_trip("a1.npy", 1, s1);
    round_trip("a0.npy", 0, NULL);
    round_trip("empty.npy", 2, s0e);

    /* The exact header NumPy writes for shape (2, 3). */
    int64_t s2[2] = { 2, 3 };
    float z[6] = { 0 };
    const char *p = t_path("h.npy");
    CHECK(fk_npy_write(p, z, 2, s2) == FK_OK);
    size_t n;
    unsigned char *b = t_read(p, &n);
    const char *want = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(b && n == 128 + 24 && !memcmp(b, "\x93NUMPY\x01\x00\x76\x00", 10)
        && !memcmp(b + 10, want, strlen(want)) && b[127] == '\n' && b[126] == ' ');

    /* Errors name the file. */
    float *d;
    int nd;
    int64_t sh[FK_ST_MAX_DIMS];
    const char *q = t_path("trunc.npy");
    t_write(q, b, n - 1);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "truncated", NULL);
    t_write(q, b, 60);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "beyond the file size", NULL);
    unsigned char *m = malloc(n);
    memcpy(m, b, n);
    memcpy(m + 10 + 11, "<f8", 3);
    t_write(q, m, n);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "'<f8'", NULL);
    memcpy(m, b, n);
    memcpy(m + 10 + 34, "True, ", 6);
    t_write(q, m, n);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "Fortran", NULL);
    memcpy(m, b, n);
    m[1] = 'X';
    t_write(q, m, n);
    CHECK_ERR(fk_npy_read(q, &d, &nd, sh), FK_ERR_FORMAT, q, "magic", NULL);
    /* Truncation at every length never crashes and is always an error. */
    int quiet = fk_error_quiet(1);
    for (size_t len = 0; len < n; len++) {
        t_write(q, b, len);
        fk_status s = fk_npy_read(q, &d, &nd, sh);
        CHECK(s != FK_OK);
        if (s == FK_OK)
            free(d);
    }
    fk_error_quiet(quiet);
    free(m);
    free(b);

    char nodir[700];
    snprintf(nodir, sizeof nodir, "%s/none/x.npy", t_dir);
    CHECK_ERR(fk_npy_write(nodir, z, 2, s2), FK_ERR_IO, nodir, NULL, NULL);
    CHECK(t_count_files(t_dir, ".tmp.") == 0);
    t_rmdir();
    return t_finish("test_npy");
}
