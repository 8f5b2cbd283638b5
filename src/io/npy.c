/* NumPy .npy files holding float32 C-order arrays.
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.0, u32 LE
 * for 2.0/3.0), a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
 * spaces and ended by '\n', then the data. */
#include "figkd/io.h"
#include "io/io_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAX_HEADER (1u << 20)

static fk_status npy_write(const char *path, const void *data, int ndim, const int64_t *shape, const char *descr,
                           size_t item)
{
    if (!path || !*path)
        return fk_error(FK_ERR_ARG, "fk_npy_write: no file name");
    if (!fk_io_host_is_le())
        return fk_error(FK_ERR_FORMAT, "%s: npy writing needs a little-endian host", path);
    if (ndim < 0 || ndim > FK_ST_MAX_DIMS || (ndim > 0 && !shape))
        return fk_error(FK_ERR_ARG, "%s: %d dimensions (0..%d allowed)", path, ndim,
            FK_ST_MAX_DIMS);
    size_t nbytes;
    if (fk_io_shape_bytes(ndim, shape, item, &nbytes))
        return fk_error(FK_ERR_ARG, "%s: invalid shape (negative or too large)", path);
    if (nbytes && !data)
        return fk_error(FK_ERR_ARG, "%s: no data for a non-empty array", path);

    char hdr[512];
    size_t len = 10;
    len += (size_t)snprintf(hdr + len, sizeof hdr - len,
        "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < ndim; i++)
        len += (size_t)snprintf(hdr + len, sizeof hdr - len, "%s%lld", i ? ", " : "",
            (long long)shape[i]);
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "%s), }", ndim == 1 ? "," : "");
    /* Pad with spaces so that the data starts at a multiple of 64, then '\n'. */
    while ((len + 1) % 64)
        hdr[len++] = ' ';
    hdr[len++] = '\n';
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    hdr[8] = (char)((len - 10) & 0xFF);
    hdr[9] = (char)((len - 10) >> 8);

    fk_atomic_file af;
    fk_status s = fk_atomic_open(&af, path);
    if (s)
        return s;
    if ((s = fk_atomic_write(&af, hdr, len)))
        return s;
    if (nbytes && (s = fk_atomic_write(&af, data, nbytes)))
        return s;
    return fk_atomic_commit(&af);
}

fk_status fk_npy_write(const char *path, const float *data, int ndim, const int64_t *shape)
{
    return npy_write(path, data, ndim, shape, "<f4", sizeof(float));
}

fk_status fk_npy_write_i64(const char *path, const int64_t *data, int ndim, const int64_t *shape)
{
    return npy_write(path, data, ndim, shape, "<i8", sizeof(int64_t));
}

typedef struct np {
    const char *path;
    const char *s;
    size_t n, pos;
} np;

static void np_ws(np *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'
        || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static fk_status np_err(const np *p, const char *what)
{
    return fk_error(FK_ERR_FORMAT, "%s: invalid npy header: %s at header byte %zu", p->path,
        what, p->pos);
}

static int np_eat(np *p, char c)
{
    np_ws(p);
    if (p->pos < p->n && p->s[p->pos] == c) {
        p->pos++;
        return 1;
    }
    return 0;
}

/* 'text' or "text" into out (no escapes; npy headers hold none). */
static fk_status np_str(np *p, char *out, size_t cap)
{
    np_ws(p);
    if (p->pos >= p->n || (p->s[p->pos] != '\'' && p->s[p->pos] != '"'))
        return np_err(p, "expected a quoted string");
    char q = p->s[p->pos++];
    size_t k = 0;
    while (p->pos < p->n && p->s[p->pos] != q) {
        if (p->s[p->pos] == '\\' || k + 1 >= cap)
            return np_err(p, "unsupported string");
        out[k++] = p->s[p->pos++];
    }
    if (p->pos >= p->n)
        return np_err(p, "unterminated string");
    p->pos++;
    out[k] = '\0';
    return FK_OK;
}

static fk_status np_parse(np *p, char *descr, size_t dcap, int *fortran, int *ndim,
    int64_t *shape)
{
    int have_d = 0, have_f = 0, have_s = 0;
    fk_status s;
    if (!np_eat(p, '{'))
        return np_err(p, "expected '{'");
    for (;;) {
        char key[32];
        if (np_eat(p, '}'))
            break;
        if ((s = np_str(p, key, sizeof key)))
            return s;
        if (!np_eat(p, ':'))
            return np_err(p, "expected ':'");
        if (!strcmp(key, "descr") && !have_d) {
            have_d = 1;
            if ((s = np_str(p, descr, dcap)))
                return s;
        } else if (!strcmp(key, "fortran_order") && !have_f) {
            have_f = 1;
            np_ws(p);
            if (p->n - p->pos >= 4 && !memcmp(p->s + p->pos, "True", 4)) {
                *fortran = 1;
                p->pos += 4;
            } else if (p->n - p->pos >= 5 && !memcmp(p->s + p->pos, "False", 5)) {
                *fortran = 0;
                p->pos += 5;
            } else {
                return np_err(p, "fortran_order must be True or False");
            }
        } else if (!strcmp(key, "shape") && !have_s) {
            have_s = 1;
            if (!np_eat(p, '('))
                return np_err(p, "expected '(' to open the shape");
            *ndim = 0;
            for (;;) {
                if (np_eat(p, ')'))
                    break;
                np_ws(p);
                if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
                    return np_err(p, "expected a non-negative integer in the shape");
                if (*ndim == FK_ST_MAX_DIMS)
                    return np_err(p, "more than 8 dimensions");
                int64_t v = 0;
                while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
                    int d = p->s[p->pos++] - '0';
                    if (v > (INT64_MAX - d) / 10)
                        return np_err(p, "shape entry too large");
                    v = v * 10 + d;
                }
                if (p->pos < p->n && p->s[p->pos] == 'L')
                    p->pos++; /* Python 2 long suffix */
                shape[(*ndim)++] = v;
                if (np_eat(p, ','))
                    continue;
                if (np_eat(p, ')'))
                    break;
                return np_err(p, "expected ',' or ')' in the shape");
            }
        } else {
            return np_err(p, "unknown or repeated key");
        }
        if (np_eat(p, ','))
            continue;
        if (np_eat(p, '}'))
            break;
        return np_err(p, "expected ',' or '}'");
    }
    np_ws(p);
    if (p->pos != p->n)
        return np_err(p, "unexpected text after the header dict");
    if (!have_d || !have_f || !have_s)
        return np_err(p, "missing 'descr', 'fortran_order' or 'shape'");
    return FK_OK;
}

/* A regular file opened for reading and its size. */
static fk_status open_regular(const char *path, FILE **fp, uint64_t *size)
{
    *fp = fopen(path, "rb");
    if (!*fp)
        return fk_error(FK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(*fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(*fp);
        *fp = NULL;
        return fk_error(FK_ERR_IO, "%s: not a readable regular file", path);
    }
    *size = (uint64_t)st.st_size;
    return FK_OK;
}

/* Magic, version and header length; *pre_len is the preamble's size. */
static fk_status read_preamble(FILE *fp, const char *path, uint64_t fsize, uint64_t *hlen, uint64_t *pre_len)
{
    unsigned char pre[12];
    if (fsize < 10 || fread(pre, 1, 10, fp) != 10 || memcmp(pre, "\x93NUMPY", 6))
        return fk_error(FK_ERR_FORMAT, "%s: not an npy file (no \\x93NUMPY magic)", path);
    if (pre[6] == 1) {
        *hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
        *pre_len = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fsize < 12 || fread(pre + 10, 1, 2, fp) != 2)
            return fk_error(FK_ERR_FORMAT, "%s: npy file truncated in its preamble", path);
        *hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16
            | (uint64_t)pre[11] << 24;
        *pre_len = 12;
    } else {
        return fk_error(FK_ERR_FORMAT, "%s: npy format version %d.%d is not supported", path, pre[6],
            pre[7]);
    }
    if (*hlen > NPY_MAX_HEADER || *hlen > fsize - *pre_len)
        return fk_error(FK_ERR_FORMAT, "%s: npy header length %llu is beyond the file size %llu",
            path, (unsigned long long)*hlen, (unsigned long long)fsize);
    return FK_OK;
}

/* The header dict: a float32 C-order array's shape. */
static fk_status read_dict(FILE *fp, const char *path, uint64_t hlen, int *ndim, int64_t *shape)
{
    char *hdr = fk_malloc((size_t)hlen + 1);
    if (!hdr)
        return FK_ERR_NOMEM;
    fk_status s = FK_OK;
    char descr[32];
    int fortran = 0;
    if (fread(hdr, 1, (size_t)hlen, fp) != hlen)
        s = fk_error(FK_ERR_IO, "%s: cannot read the npy header", path);
    hdr[hlen] = '\0';
    np p = { path, hdr, (size_t)hlen, 0 };
    if (!s)
        s = np_parse(&p, descr, sizeof descr, &fortran, ndim, shape);
    if (!s && strcmp(descr, "<f4"))
        s = fk_error(FK_ERR_FORMAT, "%s: npy dtype '%s' is not supported (figkd-cl reads float32, "
            "'<f4')", path, descr);
    if (!s && fortran)
        s = fk_error(FK_ERR_FORMAT, "%s: npy array is in Fortran order (figkd-cl reads C order; "
            "save np.ascontiguousarray(a))", path);
    free(hdr);
    return s;
}

/* The avail bytes of data, which the shape must fill exactly. */
static fk_status read_floats(FILE *fp, const char *path, uint64_t avail, int ndim, const int64_t *shape,
    float **data)
{
    size_t nbytes;
    if (fk_io_shape_bytes(ndim, shape, sizeof(float), &nbytes))
        return fk_error(FK_ERR_FORMAT, "%s: npy shape is too large", path);
    if (avail != nbytes)
        return fk_error(FK_ERR_FORMAT, "%s: npy data holds %llu bytes, the shape needs %zu (%s)",
            path, (unsigned long long)avail, nbytes, avail < nbytes ? "truncated" : "trailing bytes");
    float *buf = fk_malloc(nbytes);
    if (!buf)
        return FK_ERR_NOMEM;
    if (nbytes && fread(buf, 1, nbytes, fp) != nbytes) {
        free(buf);
        return fk_error(FK_ERR_IO, "%s: cannot read the npy data", path);
    }
    *data = buf;
    return FK_OK;
}

fk_status fk_npy_read(const char *path, float **data, int *ndim, int64_t shape[FK_ST_MAX_DIMS])
{
    *data = NULL;
    *ndim = 0;
    if (!path)
        return fk_error(FK_ERR_ARG, "fk_npy_read: no file name");
    if (!fk_io_host_is_le())
        return fk_error(FK_ERR_FORMAT, "%s: npy reading needs a little-endian host", path);
    FILE *fp;
    uint64_t fsize = 0, hlen = 0, pre_len = 0;
    fk_status s = open_regular(path, &fp, &fsize);
    if (s)
        return s;
    s = read_preamble(fp, path, fsize, &hlen, &pre_len);
    if (!s)
        s = read_dict(fp, path, hlen, ndim, shape);
    if (!s)
        s = read_floats(fp, path, fsize - pre_len - hlen, *ndim, shape, data);
    fclose(fp);
    if (s)
        *ndim = 0;
    return s;
}
