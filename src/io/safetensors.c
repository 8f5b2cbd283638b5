/* safetensors read/write with a small strict JSON parser for the header.
 *
 * Layout: u64 LE header length N | N bytes JSON (space padded) | data.
 * The parser is schema-directed: the top level is an object whose members
 * are "__metadata__" (object of strings) or tensors
 * ({"dtype": str, "shape": [uint...], "data_offsets": [uint, uint]}).
 * Anything else is an error that names the file, the tensor and the byte. */
#include "figkd/io.h"
#include "io/io_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fk_io_host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

const char *fk_dtype_name(fk_dtype dt)
{
    switch (dt) {
    case FK_DT_F32: return "F32";
    case FK_DT_I64: return "I64";
    }
    return "?";
}

size_t fk_dtype_size(fk_dtype dt)
{
    switch (dt) {
    case FK_DT_F32: return 4;
    case FK_DT_I64: return 8;
    }
    return 0;
}

/* "[2, 3]" into buf. */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t len = 0;
    buf[0] = '\0';
    len += (size_t)snprintf(buf + len, cap - len, "[");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "",
            (long long)shape[i]);
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
    return buf;
}

int fk_io_shape_bytes(int ndim, const int64_t *shape, size_t elem, size_t *out)
{
    size_t n = elem;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return -1;
        uint64_t d = (uint64_t)shape[i];
        if (d != 0 && n > SIZE_MAX / d)
            return -1;
        n *= (size_t)d;
    }
    *out = n;
    return 0;
}

/* Length of a valid UTF-8 sequence starting at s (at most avail bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (avail < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static int utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(s + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

/* ---------------------------------------------------------------- reading */

typedef struct st_entry {
    fk_st_tensor t;
    uint64_t begin, end;
} st_entry;

typedef struct jp {
    const char *path;
    const unsigned char *s;
    size_t n, pos;
} jp;

static fk_status jp_err(const jp *p, const char *fmt, ...) FK_PRINTF(2, 3);
static fk_status jp_err(const jp *p, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fk_error(FK_ERR_FORMAT,
        "%s: invalid safetensors header: %s at header byte %zu (file offset %zu)",
        p->path, what, p->pos, p->pos + 8);
}

static void jp_ws(jp *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'
        || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int jp_peek(const jp *p) { return p->pos < p->n ? p->s[p->pos] : -1; }

static fk_status jp_expect(jp *p, char c, const char *ctx)
{
    jp_ws(p);
    if (jp_peek(p) != (unsigned char)c) {
        if (p->pos >= p->n)
            return jp_err(p, "header ends where '%c' was expected %s", c, ctx);
        return jp_err(p, "expected '%c' %s", c, ctx);
    }
    p->pos++;
    return FK_OK;
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parse a JSON string into a fresh NUL-terminated allocation. */
static fk_status jp_string(jp *p, char **out, const char *ctx)
{
    *out = NULL;
    jp_ws(p);
    if (jp_peek(p) != '"')
        return p->pos >= p->n ? jp_err(p, "header ends where a string was expected %s", ctx)
                              : jp_err(p, "expected a string %s", ctx);
    p->pos++;
    /* Decoded text is never longer than its raw form. */
    size_t end = p->pos;
    while (end < p->n && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end > p->n)
        end = p->n;
    char *o = fk_malloc(end - p->pos + 1);
    if (!o)
        return FK_ERR_NOMEM;
    size_t k = 0;
    for (;;) {
        if (p->pos >= p->n) {
            free(o);
            return jp_err(p, "unterminated string %s", ctx);
        }
        unsigned c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            free(o);
            return jp_err(p, "control character 0x%02x inside a string %s (must be escaped)",
                c, ctx);
        }
        if (c == '\\') {
            if (p->pos + 1 >= p->n) {
                free(o);
                return jp_err(p, "unterminated string %s", ctx);
            }
            unsigned e = p->s[p->pos + 1];
            const char *simple = strchr("\"\\/bfnrt", (int)e);
            if (e && simple) {
                static const char map[] = "\"\\/\b\f\n\r\t";
                o[k++] = map[simple - "\"\\/bfnrt"];
                p->pos += 2;
                continue;
            }
            if (e != 'u') {
                free(o);
                return jp_err(p, "invalid escape '\\%c' %s", e >= 0x20 && e < 0x7f ? (char)e : '?',
                    ctx);
            }
            unsigned cp, lo;
            if (p->pos + 6 > p->n || hex4(p->s + p->pos + 2, &cp)) {
                free(o);
                return jp_err(p, "invalid \\u escape %s", ctx);
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(o);
                return jp_err(p, "lone low surrogate \\u%04x %s", cp, ctx);
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->pos + 12 > p->n || p->s[p->pos + 6] != '\\' || p->s[p->pos + 7] != 'u'
                    || hex4(p->s + p->pos + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    free(o);
                    return jp_err(p, "high surrogate \\u%04x without a low surrogate %s", cp, ctx);
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p->pos += 6;
            }
            if (cp == 0) {
                free(o);
                return jp_err(p, "\\u0000 is not supported in strings %s", ctx);
            }
            k += put_utf8(o + k, cp);
            p->pos += 6;
            continue;
        }
        size_t l = utf8_seq(p->s + p->pos, p->n - p->pos);
        if (!l) {
            free(o);
            return jp_err(p, "invalid UTF-8 inside a string %s", ctx);
        }
        memcpy(o + k, p->s + p->pos, l);
        k += l;
        p->pos += l;
    }
    o[k] = '\0';
    *out = o;
    return FK_OK;
}

/* A JSON number that must be a non-negative integer. */
static fk_status jp_uint(jp *p, uint64_t *out, const char *what, const char *name)
{
    jp_ws(p);
    int c = jp_peek(p);
    if (c == '-')
        return jp_err(p, "tensor '%s': %s must be non-negative", name, what);
    if (c < '0' || c > '9')
        return p->pos >= p->n ? jp_err(p, "header ends inside %s of tensor '%s'", what, name)
                              : jp_err(p, "tensor '%s': %s must be an integer", name, what);
    uint64_t v = 0;
    size_t start = p->pos;
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        unsigned d = p->s[p->pos] - '0';
        if (v > (UINT64_MAX - d) / 10)
            return jp_err(p, "tensor '%s': %s is too large", name, what);
        v = v * 10 + d;
        p->pos++;
    }
    if (p->s[start] == '0' && p->pos - start > 1) {
        p->pos = start;
        return jp_err(p, "tensor '%s': %s has a leading zero (not valid JSON)", name, what);
    }
    c = jp_peek(p);
    if (c == '.' || c == 'e' || c == 'E')
        return jp_err(p, "tensor '%s': %s must be an integer", name, what);
    *out = v;
    return FK_OK;
}

/* What a JSON object's messages call its parts. */
typedef struct jp_object_ctx {
    const char *open;  /* "to open a tensor entry" */
    const char *key;   /* "as a key of a tensor entry" */
    const char *colon; /* "after a key"; NULL: the member reads the ':' */
    const char *next;  /* "or ',' in a tensor entry" */
} jp_object_ctx;

/* Walk the object at p: after each key (and its ':' when c->colon is set)
 * member(p, key, key_pos, arg), which owns key and reads the value; stops at
 * the first error. */
static fk_status jp_object(jp *p, const jp_object_ctx *c,
    fk_status (*member)(jp *p, char *key, size_t key_pos, void *arg), void *arg)
{
    fk_status s = jp_expect(p, '{', c->open);
    if (s)
        return s;
    jp_ws(p);
    if (jp_peek(p) == '}') {
        p->pos++;
        return FK_OK;
    }
    for (;;) {
        char *key;
        jp_ws(p);
        size_t key_pos = p->pos;
        if ((s = jp_string(p, &key, c->key)))
            return s;
        if (c->colon && (s = jp_expect(p, ':', c->colon))) {
            free(key);
            return s;
        }
        if ((s = member(p, key, key_pos, arg)))
            return s;
        jp_ws(p);
        if (jp_peek(p) != ',')
            return jp_expect(p, '}', c->next);
        p->pos++;
    }
}

static fk_status parse_dtype(jp *p, st_entry *e)
{
    char *dt;
    fk_status s = jp_string(p, &dt, "for dtype");
    if (s)
        return s;
    if (!strcmp(dt, "F32")) {
        e->t.dtype = FK_DT_F32;
    } else if (!strcmp(dt, "I64")) {
        e->t.dtype = FK_DT_I64;
    } else {
        s = fk_error(FK_ERR_FORMAT,
            "%s: tensor '%s' has unsupported dtype '%s' (figkd-cl reads F32 and I64)",
            p->path, e->t.name, dt);
    }
    free(dt);
    return s;
}

static fk_status parse_shape(jp *p, st_entry *e)
{
    fk_status s = jp_expect(p, '[', "to open a shape");
    if (s)
        return s;
    e->t.ndim = 0;
    jp_ws(p);
    if (jp_peek(p) == ']') {
        p->pos++;
        return FK_OK;
    }
    for (;;) {
        uint64_t d;
        if (e->t.ndim == FK_ST_MAX_DIMS)
            return jp_err(p, "tensor '%s' has more than %d dimensions", e->t.name, FK_ST_MAX_DIMS);
        if ((s = jp_uint(p, &d, "a shape entry", e->t.name)))
            return s;
        if (d > INT64_MAX)
            return jp_err(p, "tensor '%s': shape entry %llu is too large", e->t.name,
                (unsigned long long)d);
        e->t.shape[e->t.ndim++] = (int64_t)d;
        jp_ws(p);
        if (jp_peek(p) == ',') {
            p->pos++;
            continue;
        }
        return jp_expect(p, ']', "after a shape entry");
    }
}

static fk_status parse_offsets(jp *p, st_entry *e)
{
    fk_status s;
    if ((s = jp_expect(p, '[', "to open data_offsets"))
        || (s = jp_uint(p, &e->begin, "data_offsets[0]", e->t.name))
        || (s = jp_expect(p, ',', "after data_offsets[0] (data_offsets holds [begin, end])"))
        || (s = jp_uint(p, &e->end, "data_offsets[1]", e->t.name))
        || (s = jp_expect(p, ']', "after data_offsets[1] (data_offsets holds [begin, end])")))
        return s;
    return FK_OK;
}

typedef struct tensor_keys {
    st_entry *e;
    int have_dtype, have_shape, have_off;
} tensor_keys;

/* One key of a tensor entry and its value. */
static fk_status tensor_member(jp *p, char *key, size_t key_pos, void *arg)
{
    tensor_keys *k = arg;
    fk_status s;
    int *seen = !strcmp(key, "dtype") ? &k->have_dtype
        : !strcmp(key, "shape") ? &k->have_shape
        : !strcmp(key, "data_offsets") ? &k->have_off : NULL;
    if (!seen || *seen) {
        jp q = *p;
        q.pos = key_pos;
        s = seen ? jp_err(&q, "tensor '%s' has key '%s' twice", k->e->t.name, key)
                 : jp_err(&q, "tensor '%s' has unknown key '%s'", k->e->t.name, key);
        free(key);
        return s;
    }
    *seen = 1;
    if (seen == &k->have_dtype)
        s = parse_dtype(p, k->e);
    else if (seen == &k->have_shape)
        s = parse_shape(p, k->e);
    else
        s = parse_offsets(p, k->e);
    free(key);
    return s;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]} for tensor e->t.name. */
static fk_status parse_tensor(jp *p, st_entry *e, size_t data_len)
{
    static const jp_object_ctx ctx = {"to open a tensor entry", "as a key of a tensor entry", "after a key",
        "or ',' in a tensor entry"};
    tensor_keys k = {e, 0, 0, 0};
    fk_status s = jp_object(p, &ctx, tensor_member, &k);
    if (s)
        return s;
    int have_dtype = k.have_dtype, have_shape = k.have_shape, have_off = k.have_off;
    if (!have_dtype || !have_shape || !have_off)
        return fk_error(FK_ERR_FORMAT, "%s: tensor '%s' has no \"%s\"", p->path, e->t.name,
            !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    char sh[256];
    size_t nbytes;
    if (fk_io_shape_bytes(e->t.ndim, e->t.shape, fk_dtype_size(e->t.dtype), &nbytes))
        return fk_error(FK_ERR_FORMAT, "%s: tensor '%s' has an impossible shape %s", p->path,
            e->t.name, shape_str(sh, sizeof sh, e->t.ndim, e->t.shape));
    if (e->end < e->begin)
        return fk_error(FK_ERR_FORMAT, "%s: tensor '%s' has data_offsets [%llu, %llu] with end "
            "before begin", p->path, e->t.name, (unsigned long long)e->begin,
            (unsigned long long)e->end);
    if (e->end - e->begin != nbytes)
        return fk_error(FK_ERR_FORMAT, "%s: tensor '%s' of dtype %s and shape %s needs %zu bytes "
            "but its data_offsets [%llu, %llu] hold %llu", p->path, e->t.name,
            fk_dtype_name(e->t.dtype), shape_str(sh, sizeof sh, e->t.ndim, e->t.shape), nbytes,
            (unsigned long long)e->begin, (unsigned long long)e->end,
            (unsigned long long)(e->end - e->begin));
    if (e->end > data_len)
        return fk_error(FK_ERR_FORMAT, "%s: tensor '%s' has data_offsets [%llu, %llu] outside "
            "the data section (%zu bytes; file truncated?)", p->path, e->t.name,
            (unsigned long long)e->begin, (unsigned long long)e->end, data_len);
    e->t.nbytes = nbytes;
    return FK_OK;
}

typedef struct meta_keys {
    fk_st_file *f;
    size_t cap;
} meta_keys;

/* One "key": "value" of __metadata__. */
static fk_status meta_member(jp *p, char *key, size_t key_pos, void *arg)
{
    meta_keys *m = arg;
    fk_st_file *f = m->f;
    char *val = NULL;
    fk_status s;
    for (size_t i = 0; i < f->meta_count; i++) {
        if (!strcmp(f->meta_keys[i], key)) {
            jp q = *p;
            q.pos = key_pos;
            s = jp_err(&q, "__metadata__ has key '%s' twice", key);
            free(key);
            return s;
        }
    }
    if ((s = jp_expect(p, ':', "after a __metadata__ key"))) {
        free(key);
        return s;
    }
    jp_ws(p);
    if (jp_peek(p) != '"') {
        s = jp_err(p, "__metadata__ value for '%s' is not a string", key);
        free(key);
        return s;
    }
    if ((s = jp_string(p, &val, "as a __metadata__ value"))) {
        free(key);
        return s;
    }
    if (f->meta_count == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 8;
        char **nk = realloc(f->meta_keys, nc * sizeof *nk);
        if (nk)
            f->meta_keys = nk;
        char **nv = nk ? realloc(f->meta_values, nc * sizeof *nv) : NULL;
        if (nv)
            f->meta_values = nv;
        if (!nk || !nv) {
            free(key);
            free(val);
            return fk_error(FK_ERR_NOMEM, "%s: out of memory reading __metadata__", p->path);
        }
        m->cap = nc;
    }
    f->meta_keys[f->meta_count] = key;
    f->meta_values[f->meta_count] = val;
    f->meta_count++;
    return FK_OK;
}

static fk_status parse_meta(jp *p, fk_st_file *f)
{
    static const jp_object_ctx ctx = {"to open __metadata__", "as a __metadata__ key", NULL,
        "or ',' in __metadata__"};
    meta_keys m = {f, 0};
    return jp_object(p, &ctx, meta_member, &m);
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->t.name, ((const st_entry *)b)->t.name);
}

static int cmp_entry_off(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static void free_entries(st_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)e[i].t.name);
        free(e[i].t.data);
    }
    free(e);
}

typedef struct header_keys {
    fk_st_file *f;
    size_t data_len;
    int have_meta;
    st_entry *ents;
    size_t n, cap;
} header_keys;

/* One entry of the header: __metadata__ or a tensor. */
static fk_status header_member(jp *p, char *key, size_t key_pos, void *arg)
{
    header_keys *h = arg;
    if (!strcmp(key, "__metadata__")) {
        free(key);
        if (h->have_meta) {
            jp q = *p;
            q.pos = key_pos;
            return jp_err(&q, "__metadata__ appears twice");
        }
        h->have_meta = 1;
        return parse_meta(p, h->f);
    }
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 16;
        st_entry *ne = realloc(h->ents, nc * sizeof *ne);
        if (!ne) {
            free(key);
            return fk_error(FK_ERR_NOMEM, "%s: out of memory reading the header", p->path);
        }
        h->ents = ne;
        h->cap = nc;
    }
    memset(&h->ents[h->n], 0, sizeof h->ents[h->n]);
    h->ents[h->n].t.name = key;
    h->n++;
    return parse_tensor(p, &h->ents[h->n - 1], h->data_len);
}

/* Parse the header into entries (names, shapes, offsets) and metadata. */
static fk_status parse_header(jp *p, size_t data_len, st_entry **entries, size_t *count,
    fk_st_file *f)
{
    static const jp_object_ctx ctx = {"at the start of the header", "as a tensor name", "after a tensor name",
        "or ',' after a header entry"};
    header_keys h = {f, data_len, 0, NULL, 0, 0};
    *entries = NULL;
    *count = 0;
    fk_status s = jp_object(p, &ctx, header_member, &h);
    if (!s) {
        jp_ws(p);
        if (p->pos != p->n)
            s = jp_err(p, "unexpected data after the header object");
    }
    if (s) {
        free_entries(h.ents, h.n);
        return s;
    }
    *entries = h.ents;
    *count = h.n;
    return FK_OK;
}

/* Names unique; offsets non-overlapping and covering [0, data_len) exactly. */
static fk_status check_layout(const char *path, st_entry *ents, size_t n, size_t data_len,
    st_entry ***by_off)
{
    *by_off = NULL;
    if (n > 1)
        qsort(ents, n, sizeof *ents, cmp_entry_name);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(ents[i].t.name, ents[i - 1].t.name))
            return fk_error(FK_ERR_FORMAT, "%s: duplicate tensor name '%s'", path, ents[i].t.name);
    st_entry **order = fk_malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return FK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        order[i] = &ents[i];
    if (n > 1)
        qsort(order, n, sizeof *order, cmp_entry_off);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const st_entry *e = order[i];
        if (e->begin < at) {
            fk_status s = fk_error(FK_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap (data_offsets "
                "[%llu, %llu] and [%llu, %llu])", path, order[i - 1]->t.name, e->t.name,
                (unsigned long long)order[i - 1]->begin, (unsigned long long)order[i - 1]->end,
                (unsigned long long)e->begin, (unsigned long long)e->end);
            free(order);
            return s;
        }
        if (e->begin > at) {
            fk_status s = fk_error(FK_ERR_FORMAT, "%s: %llu bytes before tensor '%s' (data_offsets "
                "[%llu, %llu]) belong to no tensor", path, (unsigned long long)(e->begin - at),
                e->t.name, (unsigned long long)e->begin, (unsigned long long)e->end);
            free(order);
            return s;
        }
        at = e->end;
    }
    if (at != data_len) {
        free(order);
        return fk_error(FK_ERR_FORMAT, "%s: the data section has %zu bytes but the tensors cover "
            "%llu (trailing bytes belong to no tensor)", path, data_len, (unsigned long long)at);
    }
    *by_off = order;
    return FK_OK;
}

/* A regular file opened for reading and its size. */
static fk_status open_regular(const char *path, FILE **fp, uint64_t *size)
{
    *fp = fopen(path, "rb");
    if (!*fp)
        return fk_error(FK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat stt;
    fk_status s = FK_OK;
    if (fstat(fileno(*fp), &stt) != 0)
        s = fk_error(FK_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(stt.st_mode))
        s = fk_error(FK_ERR_IO, "%s: not a regular file", path);
    if (s) {
        fclose(*fp);
        *fp = NULL;
        return s;
    }
    *size = (uint64_t)stt.st_size;
    return FK_OK;
}

/* The 8-byte little-endian header length, checked against the file size. */
static fk_status read_header_len(FILE *fp, const char *path, uint64_t fsize, uint64_t *hlen)
{
    unsigned char lenb[8];
    if (fsize < 8 || fread(lenb, 1, 8, fp) != 8)
        return fk_error(FK_ERR_FORMAT, "%s: file is %llu bytes, shorter than the 8-byte safetensors "
            "header length (truncated or not a safetensors file)", path, (unsigned long long)fsize);
    *hlen = 0;
    for (int i = 7; i >= 0; i--)
        *hlen = *hlen << 8 | lenb[i];
    if (*hlen > FK_ST_MAX_HEADER)
        return fk_error(FK_ERR_FORMAT, "%s: header length %llu is absurd (more than %llu bytes; not "
            "a safetensors file?)", path, (unsigned long long)*hlen,
            (unsigned long long)FK_ST_MAX_HEADER);
    if (*hlen > fsize - 8)
        return fk_error(FK_ERR_FORMAT, "%s: header length %llu is beyond the file size %llu "
            "(truncated?)", path, (unsigned long long)*hlen, (unsigned long long)fsize);
    if (*hlen < 2)
        return fk_error(FK_ERR_FORMAT, "%s: header length %llu is too small for a JSON object",
            path, (unsigned long long)*hlen);
    return FK_OK;
}

/* The header's hlen bytes, parsed into entries and metadata and checked. */
static fk_status read_header(FILE *fp, const char *path, uint64_t hlen, size_t data_len, st_entry **ents,
    size_t *n, st_entry ***order, fk_st_file *f)
{
    unsigned char *hdr = fk_malloc((size_t)hlen);
    if (!hdr)
        return FK_ERR_NOMEM;
    fk_status s = FK_OK;
    if (fread(hdr, 1, (size_t)hlen, fp) != hlen)
        s = fk_error(FK_ERR_IO, "%s: cannot read the %llu-byte header", path, (unsigned long long)hlen);
    jp p = { path, hdr, (size_t)hlen, 0 };
    if (!s)
        s = parse_header(&p, data_len, ents, n, f);
    if (!s)
        s = check_layout(path, *ents, *n, data_len, order);
    free(hdr);
    return s;
}

/* The data of the n entries in file order (one sequential pass). */
static fk_status read_data(FILE *fp, const char *path, st_entry **order, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        st_entry *e = order[i];
        e->t.data = fk_malloc(e->t.nbytes);
        if (!e->t.data)
            return FK_ERR_NOMEM;
        if (e->t.nbytes && fread(e->t.data, 1, e->t.nbytes, fp) != e->t.nbytes)
            return fk_error(FK_ERR_IO, "%s: cannot read the data of tensor '%s'%s", path, e->t.name,
                ferror(fp) ? "" : " (file shrank while reading)");
    }
    return FK_OK;
}

/* Move the n entries' tensors (sorted by name) into f. */
static fk_status take_tensors(st_entry *ents, size_t n, fk_st_file *f)
{
    f->tensors = fk_malloc((n ? n : 1) * sizeof *f->tensors);
    if (!f->tensors)
        return FK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        f->tensors[i] = ents[i].t;
        ents[i].t.name = NULL;
        ents[i].t.data = NULL;
    }
    f->count = n;
    return FK_OK;
}

/* The whole file, or with data false its header alone: the metadata, and
 * the tensors checked but not read (count 0). */
static fk_status st_read(const char *path, bool data, fk_st_file *out)
{
    memset(out, 0, sizeof *out);
    if (!path)
        return fk_error(FK_ERR_ARG, "fk_st_read: no file name");
    if (!fk_io_host_is_le())
        return fk_error(FK_ERR_FORMAT, "%s: safetensors needs a little-endian host", path);
    FILE *fp;
    uint64_t fsize = 0, hlen = 0;
    fk_status s = open_regular(path, &fp, &fsize);
    if (s)
        return s;
    st_entry *ents = NULL, **order = NULL;
    size_t n = 0;
    fk_st_file f;
    memset(&f, 0, sizeof f);
    s = read_header_len(fp, path, fsize, &hlen);
    if (!s)
        s = read_header(fp, path, hlen, (size_t)(fsize - 8 - hlen), &ents, &n, &order, &f);
    if (!s && data)
        s = read_data(fp, path, order, n);
    if (!s && data)
        s = take_tensors(ents, n, &f);
    fclose(fp);
    free(order);
    free_entries(ents, n);
    if (s)
        fk_st_free(&f);
    else
        *out = f;
    return s;
}

fk_status fk_st_read(const char *path, fk_st_file *out)
{
    return st_read(path, true, out);
}

fk_status fk_st_read_meta(const char *path, fk_st_file *out)
{
    return st_read(path, false, out);
}

const fk_st_tensor *fk_st_find(const fk_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (c == 0)
            return &f->tensors[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *fk_st_meta(const fk_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->meta_count; i++)
        if (!strcmp(f->meta_keys[i], key))
            return f->meta_values[i];
    return NULL;
}

void fk_st_free(fk_st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++) {
        free((char *)f->tensors[i].name);
        free(f->tensors[i].data);
    }
    free(f->tensors);
    for (size_t i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------- checking */

fk_status fk_st_check(const fk_st_file *f, const fk_st_tensor *expected, size_t n,
    const char *path)
{
    char a[256], b[256];
    if (!path)
        path = "(safetensors)";
    for (size_t i = 0; i < n; i++) {
        const fk_st_tensor *x = &expected[i];
        const fk_st_tensor *t = fk_st_find(f, x->name);
        if (!t)
            return fk_error(FK_ERR_FORMAT, "%s: missing tensor '%s' (expected %s %s)", path,
                x->name, fk_dtype_name(x->dtype), shape_str(a, sizeof a, x->ndim, x->shape));
        if (t->dtype != x->dtype)
            return fk_error(FK_ERR_FORMAT, "%s: tensor '%s' has dtype %s, expected %s", path,
                x->name, fk_dtype_name(t->dtype), fk_dtype_name(x->dtype));
        int same = t->ndim == x->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = t->shape[d] == x->shape[d];
        if (!same)
            return fk_error(FK_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", path,
                x->name, shape_str(a, sizeof a, t->ndim, t->shape),
                shape_str(b, sizeof b, x->ndim, x->shape));
    }
    if (f->count == n)
        return FK_OK; /* every expected name found and names in f are unique */
    for (size_t i = 0; i < f->count; i++) {
        size_t j;
        for (j = 0; j < n; j++)
            if (!strcmp(expected[j].name, f->tensors[i].name))
                break;
        if (j == n)
            return fk_error(FK_ERR_FORMAT, "%s: unexpected tensor '%s' (%s %s)", path,
                f->tensors[i].name, fk_dtype_name(f->tensors[i].dtype),
                shape_str(a, sizeof a, f->tensors[i].ndim, f->tensors[i].shape));
    }
    /* Same count but a name expected twice. */
    return fk_error(FK_ERR_ARG, "%s: the expected tensor list names a tensor twice", path);
}

/* ---------------------------------------------------------------- writing */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(sbuf *b, uint64_t v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    sb_put(b, t, (size_t)n);
}

/* A JSON string literal; s is valid UTF-8 (checked by the caller). */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        default:
            if (*c < 0x20) {
                char t[8];
                snprintf(t, sizeof t, "\\u%04x", *c);
                sb_put(b, t, 6);
            } else {
                sb_put(b, (const char *)c, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

typedef struct wr_ctx {
    const fk_st_tensor *t;
} wr_ctx;

static int cmp_write_order(const void *a, const void *b)
{
    const fk_st_tensor *x = ((const wr_ctx *)a)->t, *y = ((const wr_ctx *)b)->t;
    size_t sx = fk_dtype_size(x->dtype), sy = fk_dtype_size(y->dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_cstr_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static fk_status check_write_args(const char *path, const fk_st_tensor *tensors, size_t n,
    const char *const *mk, const char *const *mv, size_t n_meta)
{
    char sh[256];
    if (n && !tensors)
        return fk_error(FK_ERR_ARG, "%s: %zu tensors but no tensor array", path, n);
    for (size_t i = 0; i < n; i++) {
        const fk_st_tensor *t = &tensors[i];
        size_t nbytes;
        if (!t->name || !*t->name)
            return fk_error(FK_ERR_ARG, "%s: tensor %zu has no name", path, i);
        if (!strcmp(t->name, "__metadata__"))
            return fk_error(FK_ERR_ARG, "%s: a tensor cannot be called '__metadata__'", path);
        if (!utf8_valid(t->name))
            return fk_error(FK_ERR_ARG, "%s: tensor name %zu is not valid UTF-8", path, i);
        if (!fk_dtype_size(t->dtype))
            return fk_error(FK_ERR_ARG, "%s: tensor '%s' has an unknown dtype %d", path, t->name,
                (int)t->dtype);
        if (t->ndim < 0 || t->ndim > FK_ST_MAX_DIMS)
            return fk_error(FK_ERR_ARG, "%s: tensor '%s' has %d dimensions (0..%d allowed)", path,
                t->name, t->ndim, FK_ST_MAX_DIMS);
        if (fk_io_shape_bytes(t->ndim, t->shape, fk_dtype_size(t->dtype), &nbytes))
            return fk_error(FK_ERR_ARG, "%s: tensor '%s' has an invalid shape %s", path, t->name,
                shape_str(sh, sizeof sh, t->ndim, t->shape));
        if (nbytes != t->nbytes)
            return fk_error(FK_ERR_ARG, "%s: tensor '%s' of dtype %s and shape %s needs %zu bytes "
                "but nbytes is %zu", path, t->name, fk_dtype_name(t->dtype),
                shape_str(sh, sizeof sh, t->ndim, t->shape), nbytes, t->nbytes);
        if (nbytes && !t->data)
            return fk_error(FK_ERR_ARG, "%s: tensor '%s' has no data", path, t->name);
    }
    if (n_meta && (!mk || !mv))
        return fk_error(FK_ERR_ARG, "%s: %zu metadata entries but no key or value array", path,
            n_meta);
    for (size_t i = 0; i < n_meta; i++) {
        if (!mk[i] || !mv[i])
            return fk_error(FK_ERR_ARG, "%s: metadata entry %zu has no key or value", path, i);
        if (!utf8_valid(mk[i]) || !utf8_valid(mv[i]))
            return fk_error(FK_ERR_ARG, "%s: metadata entry '%s' is not valid UTF-8", path,
                utf8_valid(mk[i]) ? mk[i] : "?");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(mk[i], mk[j]))
                return fk_error(FK_ERR_ARG, "%s: metadata key '%s' given twice", path, mk[i]);
    }
    /* Duplicate names: sort a copy of the name pointers. */
    const char **names = fk_malloc((n ? n : 1) * sizeof *names);
    if (!names)
        return FK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        names[i] = tensors[i].name;
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_cstr_ptr);
    for (size_t i = 1; i < n; i++) {
        if (!strcmp(names[i], names[i - 1])) {
            fk_status s = fk_error(FK_ERR_ARG, "%s: tensor name '%s' given twice", path, names[i]);
            free(names);
            return s;
        }
    }
    free(names);
    return FK_OK;
}

fk_status fk_st_write(const char *path, const fk_st_tensor *tensors, size_t n,
    const char *const *meta_keys, const char *const *meta_values, size_t n_meta)
{
    if (!path || !*path)
        return fk_error(FK_ERR_ARG, "fk_st_write: no file name");
    if (!fk_io_host_is_le())
        return fk_error(FK_ERR_FORMAT, "%s: safetensors needs a little-endian host", path);
    fk_status s = check_write_args(path, tensors, n, meta_keys, meta_values, n_meta);
    if (s)
        return s;
    wr_ctx *order = fk_malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return FK_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        order[i].t = &tensors[i];
    if (n > 1)
        qsort(order, n, sizeof *order, cmp_write_order);

    sbuf b = { 0 };
    int first = 1;
    sb_puts(&b, "{");
    if (n_meta) {
        sb_puts(&b, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i)
                sb_puts(&b, ",");
            sb_json_str(&b, meta_keys[i]);
            sb_puts(&b, ":");
            sb_json_str(&b, meta_values[i]);
        }
        sb_puts(&b, "}");
        first = 0;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const fk_st_tensor *t = order[i].t;
        if (!first)
            sb_puts(&b, ",");
        first = 0;
        sb_json_str(&b, t->name);
        sb_puts(&b, ":{\"dtype\":\"");
        sb_puts(&b, fk_dtype_name(t->dtype));
        sb_puts(&b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d)
                sb_puts(&b, ",");
            sb_u64(&b, (uint64_t)t->shape[d]);
        }
        sb_puts(&b, "],\"data_offsets\":[");
        sb_u64(&b, off);
        sb_puts(&b, ",");
        off += t->nbytes;
        sb_u64(&b, off);
        sb_puts(&b, "]}");
    }
    sb_puts(&b, "}");
    while (!b.oom && b.len % 8)
        sb_puts(&b, " ");
    if (b.oom) {
        free(b.p);
        free(order);
        return fk_error(FK_ERR_NOMEM, "%s: out of memory building the header", path);
    }
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)((uint64_t)b.len >> (8 * i));

    fk_atomic_file af;
    if ((s = fk_atomic_open(&af, path)))
        goto done;
    if ((s = fk_atomic_write(&af, lenb, 8)) || (s = fk_atomic_write(&af, b.p, b.len)))
        goto done;
    for (size_t i = 0; i < n; i++)
        if (order[i].t->nbytes && (s = fk_atomic_write(&af, order[i].t->data, order[i].t->nbytes)))
            goto done;
    s = fk_atomic_commit(&af);
done:
    if (s)
        fk_atomic_abort(&af);
    free(b.p);
    free(order);
    return s;
}
