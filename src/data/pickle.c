/* A minimal pickle opcode walker for the fixed layout of torchvision's CIFAR
 * pickles (a dict of a numpy uint8 array, lists of ints and strings), as
 * Python 2's cPickle wrote them at protocol 2 and as Python 3's
 * pickle.dump(..., protocol=2) writes them. It builds plain values and runs
 * no code: the few globals such a file names are evaluated here, any other
 * global or opcode is an error naming the file and byte offset. */
#include "data/layouts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct walker {
    fk_pickle *p;
    const uint8_t *buf;
    size_t n, at, op_at;      /* read position; offset of the current opcode */
    int32_t *stack;
    long sp, cap_stack;
    int32_t *memo;
    long cap_memo;
} walker;

static fk_status bad(walker *w, const char *what)
{
    return fk_error(FK_ERR_FORMAT, "%s: byte %zu: %s; not a CIFAR pickle or a corrupt one",
                    w->p->path, w->op_at, what);
}

static fk_status nomem(walker *w)
{
    return fk_error(FK_ERR_NOMEM, "%s: out of host memory reading the pickle", w->p->path);
}

static int grow(void **v, long *cap, long need, size_t elem)
{
    if (need <= *cap)
        return 0;
    long nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *nv = realloc(*v, (size_t)nc * elem);
    if (!nv)
        return -1;
    *v = nv;
    *cap = nc;
    return 0;
}

static int32_t new_node(walker *w, fk_pk_type t)
{
    fk_pickle *p = w->p;
    if (p->n_nodes >= INT32_MAX - 1 ||
        grow((void **)&p->nodes, &p->cap_nodes, p->n_nodes + 1, sizeof *p->nodes))
        return -1;
    fk_pk_node *nd = &p->nodes[p->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->type = t;
    nd->shape = nd->dtype = nd->data = -1;
    return (int32_t)p->n_nodes++;
}

static fk_status push(walker *w, int32_t node)
{
    if (node < 0 || grow((void **)&w->stack, &w->cap_stack, w->sp + 1, sizeof *w->stack))
        return nomem(w);
    w->stack[w->sp++] = node;
    return FK_OK;
}

static fk_status push_new(walker *w, fk_pk_type t, int32_t *out)
{
    int32_t k = new_node(w, t);
    if (out)
        *out = k;
    return push(w, k);
}

static fk_pk_node *node(walker *w, int32_t k) { return &w->p->nodes[k]; }

static fk_status pop(walker *w, int32_t *out)
{
    if (w->sp == 0 || node(w, w->stack[w->sp - 1])->type == FK_PK_MARK)
        return bad(w, "stack underflow");
    *out = w->stack[--w->sp];
    return FK_OK;
}

/* Index of the topmost MARK on the stack. */
static fk_status find_mark(walker *w, long *mark)
{
    for (long k = w->sp - 1; k >= 0; k--)
        if (node(w, w->stack[k])->type == FK_PK_MARK) {
            *mark = k;
            return FK_OK;
        }
    return bad(w, "no MARK on the stack");
}

static fk_status add_items(walker *w, int32_t to, const int32_t *v, long n)
{
    if (n == 0)
        return FK_OK;
    fk_pk_node *t = node(w, to);
    if (grow((void **)&t->items, &t->cap, t->n + n, sizeof *t->items))
        return nomem(w);
    memcpy(t->items + t->n, v, (size_t)n * sizeof *v);
    t->n += n;
    return FK_OK;
}

/* Tuple of the n values on top of the stack (n < 0: down to the MARK). */
static fk_status make_tuple(walker *w, long n)
{
    long from;
    int mark = n < 0;
    if (mark) {
        fk_status s = find_mark(w, &from);
        if (s != FK_OK)
            return s;
        n = w->sp - from - 1;
    } else {
        from = w->sp - n;
        if (from < 0)
            return bad(w, "stack underflow");
        for (long k = from; k < w->sp; k++)
            if (node(w, w->stack[k])->type == FK_PK_MARK)
                return bad(w, "MARK inside a short tuple");
    }
    int32_t t = new_node(w, FK_PK_TUPLE);
    if (t < 0)
        return nomem(w);
    fk_status s = add_items(w, t, n ? w->stack + w->sp - n : NULL, n); /* no stack yet for an empty tuple */
    if (s != FK_OK)
        return s;
    w->sp = mark ? from : w->sp - n;
    return push(w, t);
}

static const uint8_t *take(walker *w, size_t k)
{
    if (w->n - w->at < k)
        return NULL;
    const uint8_t *b = w->buf + w->at;
    w->at += k;
    return b;
}

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static fk_status truncated(walker *w)
{
    return fk_error(FK_ERR_FORMAT, "%s: truncated pickle: the opcode at byte %zu runs past "
                    "the end of the file (%zu bytes); download and extract the data set again",
                    w->p->path, w->op_at, w->n);
}

static int eq(const fk_pk_node *nd, const char *s)
{
    size_t k = strlen(s);
    return nd->len == k && !memcmp(nd->s, s, k);
}

static int is_global(const fk_pk_node *nd, const char *mod_name)
{
    return nd->type == FK_PK_GLOBAL && eq(nd, mod_name);
}

/* The globals a pickled dict of numpy arrays names. */
static const char *const ALLOWED[] = {
    "numpy.core.multiarray _reconstruct", "numpy._core.multiarray _reconstruct",
    "numpy ndarray", "numpy dtype", "_codecs encode", "__builtin__ bytes", "builtins bytes",
    "numpy.core.multiarray scalar", "numpy._core.multiarray scalar",
};

/* Bytes per element of a little-endian (or 1-byte) integer dtype; 0 otherwise. */
static int int_dtype(const fk_pk_node *dt, int *is_signed)
{
    const uint8_t *s = dt->s;
    size_t n = dt->len;
    if (n == 3 && (s[0] == '<' || s[0] == '|' || s[0] == '=')) {
        s++;
        n--;
    }
    if (dt->endian == '>' || n != 2 || (s[0] != 'i' && s[0] != 'u'))
        return 0;
    *is_signed = s[0] == 'i';
    int k = s[1] - '0';
    return k == 1 || k == 2 || k == 4 || k == 8 ? k : 0;
}

static int64_t int_at(const uint8_t *b, int size, int is_signed)
{
    uint64_t u = 0;
    for (int i = size - 1; i >= 0; i--)
        u = u << 8 | b[i];
    if (is_signed && size < 8 && (u >> (8 * size - 1)) & 1)
        u |= ~0ull << (8 * size);
    return (int64_t)u;
}

static fk_status op_global(walker *w)
{
    const uint8_t *start = w->buf + w->at;
    const uint8_t *nl1 = memchr(start, '\n', w->n - w->at);
    const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(w->buf + w->n - nl1 - 1)) : NULL;
    if (!nl2)
        return truncated(w);
    w->at = (size_t)(nl2 + 1 - w->buf);
    int32_t g = new_node(w, FK_PK_GLOBAL);
    if (g < 0)
        return nomem(w);
    /* keep "module name": the walker owns a copy with a space for the newline */
    size_t len = (size_t)(nl2 - start);
    uint8_t *copy = malloc(len);
    if (!copy || grow((void **)&w->p->owned, &w->p->cap_owned, w->p->n_owned + 1,
                      sizeof *w->p->owned)) {
        free(copy);
        return nomem(w);
    }
    memcpy(copy, start, len);
    copy[nl1 - start] = ' ';
    w->p->owned[w->p->n_owned++] = copy;
    node(w, g)->s = copy;
    node(w, g)->len = len;
    for (size_t k = 0; k < sizeof ALLOWED / sizeof ALLOWED[0]; k++)
        if (eq(node(w, g), ALLOWED[k]))
            return push(w, g);
    char msg[256];
    snprintf(msg, sizeof msg, "global '%.*s' is not one a pickled dict of numpy arrays uses "
             "(refused: nothing in the file is run)", (int)(len < 120 ? len : 120), copy);
    return bad(w, msg);
}

/* Python 3 writes bytes at protocol 2 as _codecs.encode(str, 'latin1'): the
 * str holds code points 0..255, UTF-8 encoded. */
static fk_status latin1_bytes(walker *w, const fk_pk_node *str, int32_t *out)
{
    uint8_t *b = malloc(str->len ? str->len : 1);
    if (!b || grow((void **)&w->p->owned, &w->p->cap_owned, w->p->n_owned + 1,
                   sizeof *w->p->owned)) {
        free(b);
        return nomem(w);
    }
    w->p->owned[w->p->n_owned++] = b;
    size_t k = 0;
    for (size_t i = 0; i < str->len; i++) {
        uint8_t c = str->s[i];
        if (c < 0x80) {
            b[k++] = c;
        } else if ((c == 0xc2 || c == 0xc3) && i + 1 < str->len &&
                   (str->s[i + 1] & 0xc0) == 0x80) {
            b[k++] = (uint8_t)((c & 0x03) << 6 | (str->s[i + 1] & 0x3f));
            i++;
        } else {
            return bad(w, "_codecs.encode of a string that is not latin-1");
        }
    }
    int32_t r = new_node(w, FK_PK_BYTES);
    if (r < 0)
        return nomem(w);
    node(w, r)->s = b;
    node(w, r)->len = k;
    *out = r;
    return FK_OK;
}

static fk_status op_reduce(walker *w)
{
    int32_t args, fn, r = -1;
    fk_status s = pop(w, &args);
    if (s == FK_OK)
        s = pop(w, &fn);
    if (s != FK_OK)
        return s;
    const fk_pk_node *f = node(w, fn), *a = node(w, args);
    if (a->type != FK_PK_TUPLE)
        return bad(w, "REDUCE arguments are not a tuple");
    if (is_global(f, "_codecs encode")) {
        if (a->n != 2 || node(w, a->items[0])->type != FK_PK_STR ||
            node(w, a->items[1])->type != FK_PK_STR || !eq(node(w, a->items[1]), "latin1"))
            return bad(w, "_codecs.encode without (str, 'latin1')");
        s = latin1_bytes(w, node(w, a->items[0]), &r);
        if (s != FK_OK)
            return s;
    } else if (is_global(f, "__builtin__ bytes") || is_global(f, "builtins bytes")) {
        if (a->n != 0)
            return bad(w, "bytes() with arguments");
        r = new_node(w, FK_PK_BYTES);
        if (r >= 0)
            node(w, r)->s = (const uint8_t *)"";
    } else if (is_global(f, "numpy.core.multiarray _reconstruct") ||
               is_global(f, "numpy._core.multiarray _reconstruct")) {
        if (a->n != 3 || !is_global(node(w, a->items[0]), "numpy ndarray"))
            return bad(w, "_reconstruct of something other than numpy.ndarray");
        r = new_node(w, FK_PK_ARRAY);
    } else if (is_global(f, "numpy.core.multiarray scalar") ||
               is_global(f, "numpy._core.multiarray scalar")) {
        /* numpy integer scalars (e.g. a list of np.int64 labels) */
        int sign = 0, size = a->n == 2 && node(w, a->items[0])->type == FK_PK_DTYPE &&
                                     node(w, a->items[1])->type == FK_PK_BYTES
                                 ? int_dtype(node(w, a->items[0]), &sign) : 0;
        if (!size || node(w, a->items[1])->len != (size_t)size)
            return bad(w, "numpy scalar that is not a little-endian integer");
        int64_t v = int_at(node(w, a->items[1])->s, size, sign);
        r = new_node(w, FK_PK_INT);
        if (r >= 0)
            node(w, r)->i = v;
    } else if (is_global(f, "numpy dtype")) {
        if (a->n < 1 || (node(w, a->items[0])->type != FK_PK_STR &&
                         node(w, a->items[0])->type != FK_PK_BYTES))
            return bad(w, "numpy.dtype without a type string");
        r = new_node(w, FK_PK_DTYPE);
        if (r >= 0) {
            node(w, r)->s = node(w, node(w, args)->items[0])->s;
            node(w, r)->len = node(w, node(w, args)->items[0])->len;
        }
    } else {
        return bad(w, "REDUCE of something that is not an allowed global");
    }
    return push(w, r);
}

static fk_status op_build(walker *w)
{
    int32_t st, obj;
    fk_status s = pop(w, &st);
    if (s == FK_OK)
        s = pop(w, &obj);
    if (s != FK_OK)
        return s;
    fk_pk_node *o = node(w, obj);
    const fk_pk_node *t = node(w, st);
    if (o->type == FK_PK_DTYPE) {
        /* (version, endian, subarray, names, fields, elsize, alignment, flags) */
        const fk_pk_node *e = t->type == FK_PK_TUPLE && t->n >= 2 ? node(w, t->items[1]) : NULL;
        if (!e || (e->type != FK_PK_STR && e->type != FK_PK_BYTES) || e->len != 1)
            return bad(w, "numpy.dtype state is not (version, byte order, ...)");
        o->endian = (char)node(w, t->items[1])->s[0];
    } else if (o->type == FK_PK_ARRAY) {
        /* (version, shape, dtype, is_fortran, raw data) */
        if (t->type != FK_PK_TUPLE || t->n != 5 || node(w, t->items[1])->type != FK_PK_TUPLE ||
            node(w, t->items[2])->type != FK_PK_DTYPE ||
            (node(w, t->items[3])->type != FK_PK_BOOL &&
             node(w, t->items[3])->type != FK_PK_INT) ||
            node(w, t->items[4])->type != FK_PK_BYTES)
            return bad(w, "numpy array state is not (version, shape, dtype, fortran, bytes)");
        o->shape = t->items[1];
        o->dtype = t->items[2];
        o->fortran = node(w, t->items[3])->i != 0;
        o->data = t->items[4];
        o->built = 1;
    } else {
        return bad(w, "BUILD on something that is not a numpy array or dtype");
    }
    return push(w, obj);
}

static fk_status memo_put(walker *w, uint32_t k)
{
    if (w->sp == 0)
        return bad(w, "PUT on an empty stack");
    if (k > 1u << 24)
        return bad(w, "memo index out of range");
    long old = w->cap_memo;
    if (grow((void **)&w->memo, &w->cap_memo, (long)k + 1, sizeof *w->memo))
        return nomem(w);
    for (long i = old; i < w->cap_memo; i++)
        w->memo[i] = -1;
    w->memo[k] = w->stack[w->sp - 1];
    return FK_OK;
}

static fk_status memo_get(walker *w, uint32_t k)
{
    if ((long)k >= w->cap_memo || w->memo[k] < 0)
        return bad(w, "GET of a memo entry never PUT");
    return push(w, w->memo[k]);
}

static fk_status push_string(walker *w, fk_pk_type t, size_t len)
{
    const uint8_t *b = take(w, len);
    if (!b)
        return truncated(w);
    int32_t k;
    fk_status s = push_new(w, t, &k);
    if (s == FK_OK) {
        node(w, k)->s = b;
        node(w, k)->len = len;
    }
    return s;
}

static fk_status push_int(walker *w, fk_pk_type t, int64_t v)
{
    int32_t k;
    fk_status s = push_new(w, t, &k);
    if (s == FK_OK)
        node(w, k)->i = v;
    return s;
}

/* APPENDS / SETITEMS: move the values above the MARK into the container below it. */
static fk_status op_extend(walker *w, fk_pk_type want)
{
    long mark;
    fk_status s = find_mark(w, &mark);
    if (s != FK_OK)
        return s;
    long n = w->sp - mark - 1;
    if (mark == 0 || node(w, w->stack[mark - 1])->type != want)
        return bad(w, want == FK_PK_LIST ? "APPENDS without a list" : "SETITEMS without a dict");
    if (want == FK_PK_DICT && n % 2)
        return bad(w, "SETITEMS with an odd number of values");
    s = add_items(w, w->stack[mark - 1], w->stack + mark + 1, n);
    w->sp = mark;
    return s;
}

static fk_status op_one(walker *w, fk_pk_type want, int pairs)
{
    if (w->sp < 1 + pairs + 1)
        return bad(w, "stack underflow");
    int32_t c = w->stack[w->sp - 2 - pairs];
    if (node(w, c)->type != want)
        return bad(w, want == FK_PK_LIST ? "APPEND without a list" : "SETITEM without a dict");
    fk_status s = add_items(w, c, w->stack + w->sp - 1 - pairs, 1 + pairs);
    w->sp -= 1 + pairs;
    return s;
}

static fk_status step(walker *w, int *stop)
{
    w->op_at = w->at;
    const uint8_t *b = take(w, 1);
    if (!b)
        return fk_error(FK_ERR_FORMAT, "%s: truncated pickle: no STOP opcode before the end "
                        "of the file (%zu bytes); download and extract the data set again",
                        w->p->path, w->n);
    uint8_t op = *b;
    const uint8_t *a;
    switch (op) {
    case 0x80: /* PROTO */
        if (!(a = take(w, 1)))
            return truncated(w);
        if (*a > 2) {
            char msg[96];
            snprintf(msg, sizeof msg, "pickle protocol %d (the CIFAR files are protocol 2)", *a);
            return bad(w, msg);
        }
        return FK_OK;
    case '.': *stop = 1; return FK_OK;
    case '(': return push_new(w, FK_PK_MARK, NULL);
    case '}': return push_new(w, FK_PK_DICT, NULL);
    case ']': return push_new(w, FK_PK_LIST, NULL);
    case ')': return make_tuple(w, 0);
    case 't': return make_tuple(w, -1);
    case 0x85: return make_tuple(w, 1);
    case 0x86: return make_tuple(w, 2);
    case 0x87: return make_tuple(w, 3);
    case 'e': return op_extend(w, FK_PK_LIST);
    case 'u': return op_extend(w, FK_PK_DICT);
    case 'a': return op_one(w, FK_PK_LIST, 0);
    case 's': return op_one(w, FK_PK_DICT, 1);
    case 'N': return push_new(w, FK_PK_NONE, NULL);
    case 0x88: return push_int(w, FK_PK_BOOL, 1);
    case 0x89: return push_int(w, FK_PK_BOOL, 0);
    case 'K':
        if (!(a = take(w, 1)))
            return truncated(w);
        return push_int(w, FK_PK_INT, a[0]);
    case 'M':
        if (!(a = take(w, 2)))
            return truncated(w);
        return push_int(w, FK_PK_INT, a[0] | a[1] << 8);
    case 'J':
        if (!(a = take(w, 4)))
            return truncated(w);
        return push_int(w, FK_PK_INT, (int32_t)le32(a));
    case 0x8a: { /* LONG1: little-endian two's complement, up to 8 bytes here */
        if (!(a = take(w, 1)))
            return truncated(w);
        size_t k = a[0];
        if (k > 8)
            return bad(w, "integer wider than 64 bits");
        if (!(a = take(w, k)))
            return truncated(w);
        uint64_t v = 0;
        for (size_t i = 0; i < k; i++)
            v |= (uint64_t)a[i] << (8 * i);
        if (k && k < 8 && (a[k - 1] & 0x80))
            v |= ~0ull << (8 * k);
        return push_int(w, FK_PK_INT, (int64_t)v);
    }
    case 'U': /* SHORT_BINSTRING (Python 2 str) */
    case 'C': /* SHORT_BINBYTES */
        if (!(a = take(w, 1)))
            return truncated(w);
        return push_string(w, FK_PK_BYTES, a[0]);
    case 'T': /* BINSTRING (Python 2 str) */
    case 'B': /* BINBYTES */
    case 'X': /* BINUNICODE */
        if (!(a = take(w, 4)))
            return truncated(w);
        if (op == 'T' && (le32(a) & 0x80000000u))
            return bad(w, "negative string length");
        return push_string(w, op == 'X' ? FK_PK_STR : FK_PK_BYTES, le32(a));
    case 'c': return op_global(w);
    case 'R': return op_reduce(w);
    case 'b': return op_build(w);
    case 'q':
        if (!(a = take(w, 1)))
            return truncated(w);
        return memo_put(w, a[0]);
    case 'r':
        if (!(a = take(w, 4)))
            return truncated(w);
        return memo_put(w, le32(a));
    case 'h':
        if (!(a = take(w, 1)))
            return truncated(w);
        return memo_get(w, a[0]);
    case 'j':
        if (!(a = take(w, 4)))
            return truncated(w);
        return memo_get(w, le32(a));
    case '0': { /* POP */
        int32_t k;
        return pop(w, &k);
    }
    default: {
        char msg[96];
        snprintf(msg, sizeof msg, "unsupported pickle opcode 0x%02x%s%c%s", op,
                 op >= 32 && op < 127 ? " ('" : "", op >= 32 && op < 127 ? op : ' ',
                 op >= 32 && op < 127 ? "')" : "");
        return bad(w, msg);
    }
    }
}

void fk_pickle_free(fk_pickle *p)
{
    if (!p)
        return;
    for (long i = 0; i < p->n_nodes; i++)
        free(p->nodes[i].items);
    free(p->nodes);
    for (long i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    free(p->owned);
    if (p->map)
        munmap(p->map, p->map_len);
    free(p);
}

fk_status fk_pickle_parse(const char *name, const uint8_t *buf, size_t n, fk_pickle **out)
{
    *out = NULL;
    fk_pickle *p = fk_calloc(1, sizeof *p);
    if (!p)
        return FK_ERR_NOMEM;
    snprintf(p->path, sizeof p->path, "%s", name);
    walker w = {.p = p, .buf = buf, .n = n};
    fk_status s = FK_OK;
    int stop = 0;
    while (s == FK_OK && !stop)
        s = step(&w, &stop);
    if (s == FK_OK && (w.sp != 1 || node(&w, w.stack[0])->type == FK_PK_MARK))
        s = bad(&w, "STOP with other than one value on the stack");
    if (s == FK_OK)
        p->root = w.stack[0];
    free(w.stack);
    free(w.memo);
    if (s != FK_OK) {
        fk_pickle_free(p);
        return s;
    }
    *out = p;
    return FK_OK;
}

fk_status fk_pickle_load(const char *path, fk_pickle **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fk_error(FK_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size == 0) {
        close(fd);
        return fk_error(FK_ERR_FORMAT, "%s: empty file, not a pickle", path);
    }
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return fk_error(FK_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    fk_status s = fk_pickle_parse(path, map, len, out);
    if (s != FK_OK) {
        munmap(map, len);
        return s;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    return FK_OK;
}

int32_t fk_pickle_dict_get(const fk_pickle *p, int32_t d, const char *key)
{
    const fk_pk_node *nd = &p->nodes[d];
    if (nd->type != FK_PK_DICT)
        return -1;
    for (long i = 0; i + 1 < nd->n; i += 2) {
        const fk_pk_node *k = &p->nodes[nd->items[i]];
        if ((k->type == FK_PK_BYTES || k->type == FK_PK_STR) && eq(k, key))
            return nd->items[i + 1];
    }
    return -1;
}

long fk_pickle_len(const fk_pickle *p, int32_t seq)
{
    if (seq < 0)
        return -1;
    const fk_pk_node *nd = &p->nodes[seq];
    if (nd->type == FK_PK_LIST || nd->type == FK_PK_TUPLE)
        return nd->n;
    int sign;
    if (nd->type != FK_PK_ARRAY || !nd->built || nd->fortran || p->nodes[nd->shape].n != 1)
        return -1;
    const fk_pk_node *dim = &p->nodes[p->nodes[nd->shape].items[0]];
    int size = int_dtype(&p->nodes[nd->dtype], &sign);
    if (dim->type != FK_PK_INT || !size || dim->i < 0 ||
        p->nodes[nd->data].len != (uint64_t)dim->i * (uint64_t)size)
        return -1;
    return (long)dim->i;
}

int fk_pickle_int_at(const fk_pickle *p, int32_t seq, long i, int64_t *v)
{
    const fk_pk_node *nd = &p->nodes[seq];
    if (nd->type == FK_PK_ARRAY) {
        int sign, size = int_dtype(&p->nodes[nd->dtype], &sign);
        *v = int_at(p->nodes[nd->data].s + (size_t)i * (size_t)size, size, sign);
        return 0;
    }
    const fk_pk_node *x = &p->nodes[nd->items[i]];
    *v = x->i;
    return x->type == FK_PK_INT ? 0 : -1;
}
