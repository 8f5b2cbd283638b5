/* Minimal reader of MATLAB v5 MAT-files (the format of `save` up to -v7,
 * zlib-compressed variables included; not -v7.3, which is HDF5): finds one
 * top-level variable by name and returns a cell array of char strings or a
 * numeric array as doubles. Enough for Stanford Dogs' train_list.mat and
 * test_list.mat (file_list: cell of names, labels: numbers). Little-endian
 * files only (every MATLAB platform of the last two decades writes those). */
#include "data/layouts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum {
    MI_INT8 = 1, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32, MI_SINGLE,
    MI_DOUBLE = 9, MI_INT64 = 12, MI_UINT64, MI_MATRIX, MI_COMPRESSED, MI_UTF8, MI_UTF16,
};
enum { MX_CELL = 1, MX_CHAR = 4, MX_DOUBLE = 6, MX_UINT64 = 15 };

typedef struct elem {
    uint32_t type;
    size_t len, data, next; /* payload bytes, payload offset, next element offset */
} elem;

typedef struct mat_ctx {
    const char *path;
    const char *name;
    fk_mat_var *out;
    int found;
} mat_ctx;

static uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static fk_status corrupt(const mat_ctx *m, size_t off, const char *what)
{
    return fk_error(FK_ERR_FORMAT, "%s: byte %zu: %s; truncated or corrupt MAT-file "
                    "(download and extract the list again)", m->path, off, what);
}

/* The element tag at off of buf[0..n): long or small (packed) form. */
static fk_status read_elem(const mat_ctx *m, const uint8_t *b, size_t n, size_t off, elem *e)
{
    if (n < 8 || off > n - 8)
        return corrupt(m, off, "element tag past the end");
    uint32_t t = rd32(b + off), len = rd32(b + off + 4);
    if (t >> 16) { /* small element: type and length in the first word, data in the second */
        e->type = t & 0xffff;
        e->len = t >> 16;
        e->data = off + 4;
        e->next = off + 8;
        if (e->len > 4)
            return corrupt(m, off, "small element longer than 4 bytes");
        return FK_OK;
    }
    e->type = t;
    e->len = len;
    e->data = off + 8;
    if (len > n - e->data)
        return corrupt(m, off, "element longer than the data holding it");
    size_t padded = t == MI_COMPRESSED ? len : (len + 7) / 8 * 8;
    e->next = padded > n - e->data ? n : e->data + padded;
    return FK_OK;
}

static int type_size(uint32_t t)
{
    switch (t) {
    case MI_INT8: case MI_UINT8: case MI_UTF8: return 1;
    case MI_INT16: case MI_UINT16: case MI_UTF16: return 2;
    case MI_INT32: case MI_UINT32: case MI_SINGLE: return 4;
    case MI_DOUBLE: case MI_INT64: case MI_UINT64: return 8;
    default: return 0;
    }
}

static double value_at(const uint8_t *p, uint32_t t)
{
    uint64_t u = 0;
    for (int i = type_size(t) - 1; i >= 0; i--)
        u = u << 8 | p[i];
    switch (t) {
    case MI_INT8: return (int8_t)u;
    case MI_INT16: return (int16_t)u;
    case MI_INT32: return (int32_t)u;
    case MI_INT64: return (double)(int64_t)u;
    case MI_SINGLE: { uint32_t v = (uint32_t)u; float f; memcpy(&f, &v, 4); return f; }
    case MI_DOUBLE: { double d; memcpy(&d, &u, 8); return d; }
    default: return (double)u;
    }
}

/* Header of a miMATRIX payload [off, end): class, element count, name, and
 * the offset of what follows the name. */
static fk_status matrix_head(const mat_ctx *m, const uint8_t *b, size_t end, size_t off,
                             int *cls, long *count, const uint8_t **name, size_t *name_len,
                             size_t *after)
{
    elem flags, dims, nm;
    fk_status s = read_elem(m, b, end, off, &flags);
    if (s == FK_OK)
        s = read_elem(m, b, end, flags.next, &dims);
    if (s == FK_OK)
        s = read_elem(m, b, end, dims.next, &nm);
    if (s != FK_OK)
        return s;
    if (flags.type != MI_UINT32 || flags.len != 8 || dims.type != MI_INT32 || dims.len < 8 ||
        dims.len % 4 || nm.type != MI_INT8)
        return corrupt(m, off, "array header is not flags, dimensions, name");
    *cls = b[flags.data] & 0xff;
    long c = 1;
    for (size_t k = 0; k < dims.len; k += 4) {
        int32_t d = (int32_t)rd32(b + dims.data + k);
        if (d < 0 || (d && c > (1L << 30) / d))
            return corrupt(m, dims.data, "bad dimensions");
        c *= d;
    }
    *count = c;
    *name = b + nm.data;
    *name_len = nm.len;
    *after = nm.next;
    return FK_OK;
}

/* A 1 x L char array (a cell's element) at [off, end) -> malloc'd string. */
static fk_status char_array(const mat_ctx *m, const uint8_t *b, size_t end, size_t off,
                            char **out)
{
    int cls;
    long count;
    const uint8_t *nm;
    size_t nl, after;
    fk_status s = matrix_head(m, b, end, off, &cls, &count, &nm, &nl, &after);
    if (s != FK_OK)
        return s;
    if (cls != MX_CHAR)
        return corrupt(m, off, "a cell element is not a char array");
    elem d = {0};
    if (count > 0 && (s = read_elem(m, b, end, after, &d)) != FK_OK)
        return s;
    int w = count > 0 ? type_size(d.type) : 1;
    if (count > 0 && (w == 0 || w > 2 || d.len != (size_t)count * (size_t)w))
        return corrupt(m, after, "char data is not 8- or 16-bit of the array's length");
    char *str = malloc((size_t)count + 1);
    if (!str)
        return fk_error(FK_ERR_NOMEM, "out of host memory reading %s", m->path);
    for (long i = 0; i < count; i++) {
        unsigned v = w == 1 ? b[d.data + (size_t)i] : (unsigned)(b[d.data + 2 * (size_t)i] |
                                                                 b[d.data + 2 * (size_t)i + 1] << 8);
        if (v == 0 || v > 255) {
            free(str);
            return corrupt(m, d.data, "a file name with a character beyond latin-1");
        }
        str[i] = (char)v;
    }
    str[count] = '\0';
    *out = str;
    return FK_OK;
}

static fk_status take_matrix(mat_ctx *m, const uint8_t *b, size_t end, size_t off)
{
    int cls;
    long count;
    const uint8_t *nm;
    size_t nl, after;
    fk_status s = matrix_head(m, b, end, off, &cls, &count, &nm, &nl, &after);
    if (s != FK_OK)
        return s;
    if (nl != strlen(m->name) || memcmp(nm, m->name, nl))
        return FK_OK;
    m->found = 1;
    fk_mat_var *v = m->out;
    v->n = count;
    if (cls == MX_CELL) {
        if ((size_t)count > (end - after) / 8)
            return corrupt(m, after, "more cells than the array's bytes can hold");
        v->strings = fk_calloc((size_t)count + 1, sizeof *v->strings);
        if (!v->strings)
            return FK_ERR_NOMEM;
        for (long i = 0; i < count; i++) {
            elem e;
            if ((s = read_elem(m, b, end, after, &e)) != FK_OK)
                return s;
            if (e.type != MI_MATRIX)
                return corrupt(m, after, "a cell element is not an array");
            if ((s = char_array(m, b, e.data + e.len, e.data, &v->strings[i])) != FK_OK)
                return s;
            after = e.next;
        }
        return FK_OK;
    }
    if (cls < MX_DOUBLE || cls > MX_UINT64)
        return fk_error(FK_ERR_FORMAT, "%s: variable %s is of MATLAB class %d, expected a cell "
                        "array of names or a numeric array", m->path, m->name, cls);
    elem d;
    if ((s = read_elem(m, b, end, after, &d)) != FK_OK)
        return s;
    int w = type_size(d.type);
    if (w == 0 || d.len != (size_t)count * (size_t)w)
        return corrupt(m, after, "numeric data does not match the array's size");
    v->values = fk_malloc(((size_t)count + 1) * sizeof *v->values);
    if (!v->values)
        return FK_ERR_NOMEM;
    for (long i = 0; i < count; i++)
        v->values[i] = value_at(b + d.data + (size_t)i * (size_t)w, d.type);
    return FK_OK;
}

static fk_status inflate_all(const mat_ctx *m, const uint8_t *src, size_t n, size_t off,
                             uint8_t **out, size_t *out_len)
{
    size_t cap = n * 4 + 1024, len = 0;
    uint8_t *buf = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!buf || inflateInit(&z) != Z_OK) {
        free(buf);
        return fk_error(FK_ERR_NOMEM, "out of host memory reading %s", m->path);
    }
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)n;
    int r = Z_OK;
    while (r == Z_OK) {
        if (len == cap) {
            if (cap > (size_t)1 << 30)
                break; /* a list of file names is never this large */
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        z.next_out = buf + len;
        z.avail_out = (uInt)(cap - len);
        r = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        if (r == Z_BUF_ERROR && z.avail_in == 0)
            break;
        if (r == Z_BUF_ERROR)
            r = Z_OK;
    }
    inflateEnd(&z);
    if (r != Z_STREAM_END) {
        free(buf);
        return corrupt(m, off, "compressed variable does not inflate");
    }
    *out = buf;
    *out_len = len;
    return FK_OK;
}

static fk_status walk(mat_ctx *m, const uint8_t *b, size_t n, size_t off, int depth)
{
    while (off < n && !m->found) {
        elem e;
        fk_status s = read_elem(m, b, n, off, &e);
        if (s != FK_OK)
            return s;
        if (e.type == MI_COMPRESSED && depth == 0) {
            uint8_t *raw = NULL;
            size_t raw_len = 0;
            s = inflate_all(m, b + e.data, e.len, off, &raw, &raw_len);
            if (s == FK_OK)
                s = walk(m, raw, raw_len, 0, 1);
            free(raw);
            if (s != FK_OK)
                return s;
        } else if (e.type == MI_MATRIX && e.len > 0) {
            if ((s = take_matrix(m, b, e.data + e.len, e.data)) != FK_OK)
                return s;
        } else if (e.type != MI_MATRIX) {
            return corrupt(m, off, "top-level element is neither an array nor compressed");
        }
        off = e.next;
    }
    return FK_OK;
}

void fk_mat_var_free(fk_mat_var *v)
{
    if (v->strings)
        for (long i = 0; i < v->n; i++)
            free(v->strings[i]);
    free(v->strings);
    free(v->values);
    memset(v, 0, sizeof *v);
}

fk_status fk_mat_read(const char *path, const char *name, fk_mat_var *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fk_error(FK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            uint8_t *nb = realloc(b, cap = cap ? cap * 2 : 1 << 16);
            if (!nb) {
                free(b);
                fclose(f);
                return fk_error(FK_ERR_NOMEM, "out of host memory reading %s", path);
            }
            b = nb;
        }
        size_t k = fread(b + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    fk_status s = fk_mat_parse(path, b, n, name, out);
    free(b);
    return s;
}

fk_status fk_mat_parse(const char *path, const uint8_t *b, size_t n, const char *name,
                       fk_mat_var *out)
{
    memset(out, 0, sizeof *out);
    mat_ctx m = {.path = path, .name = name, .out = out};
    fk_status s;
    if ((n >= 10 && !memcmp(b, "MATLAB 7.3", 10)) || (n >= 4 && !memcmp(b, "\x89HDF", 4)) ||
        (n >= 516 && !memcmp(b + 512, "\x89HDF", 4)))
        s = fk_error(FK_ERR_FORMAT, "%s: a MATLAB v7.3 (HDF5) file; figkd-cl reads MAT-files "
                     "of version 5 to 7 (as the data set ships them); re-save it in MATLAB "
                     "or Octave with save(..., '-v7')", path);
    else if (n < 128 || memcmp(b, "MATLAB 5.0 MAT-file", 19))
        s = fk_error(FK_ERR_FORMAT, "%s: not a MATLAB 5.0 MAT-file (no 'MATLAB 5.0 MAT-file' "
                     "header); truncated or corrupt?", path);
    else if (b[126] != 'I' || b[127] != 'M')
        s = fk_error(FK_ERR_FORMAT, "%s: a big-endian MAT-file; only little-endian ones are "
                     "read", path);
    else
        s = walk(&m, b, n, 128, 0);
    if (s == FK_OK && !m.found)
        s = fk_error(FK_ERR_FORMAT, "%s: no variable '%s'", path, name);
    if (s != FK_OK)
        fk_mat_var_free(out);
    return s;
}
