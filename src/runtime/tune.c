/* The tune cache (include/figkd/runtime.h, written by `figkd-cl tune`):
 * per conv shape, which of the exact-equivalent paths of src/ops/conv.c
 * runs on this device. One INI file per device:
 *
 *   [device]
 *   format = 1
 *   name = <CL_DEVICE_NAME>
 *   driver = <CL_DRIVER_VERSION>
 *   sources = <fk_kernel_sources_hash, 16 hex digits>
 *
 *   [train N C_IN H W C_OUT K STRIDE PAD GROUPS]
 *   gemm = own | wi | clblast | default
 *   forward = columns | winograd | batch | default
 *   backward = columns | winograd | batch | default
 *   ms = 12.5           ; optional: the chosen candidate's time
 *   default_ms = 14.0   ; optional: the device default's time
 *
 *   [frozen N C_IN H W C_OUT K STRIDE PAD GROUPS]   ; no backward
 *
 *   [clblast Xgemm]     ; or XgemmDirect: CLBlast's tuner's choice
 *   MWG = 64            ; every parameter of the kernel, in capitals
 *   ...
 *   m = 128             ; optional: the GEMM it was timed on,
 *   n = 1024            ;   its time and CLBlast's defaults' time
 *   k = 576
 *   ms = 3.1
 *   default_ms = 4.0
 *
 * A file whose [device] differs from this runtime's (another device,
 * driver or kernel sources, or format) is stale: ignored as a whole. */
#include "figkd/ini.h"
#include "figkd/io.h"
#include "figkd/runtime.h"
#include "cl_files.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TUNE_FORMAT 1

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

uint64_t fk_kernel_sources_hash(void)
{
    uint64_t h = 14695981039346656037ull;
    for (const fk_cl_file *f = fk_cl_files; f->name; f++) {
        char *owned;
        const char *src = fk_kernel_source(f->name, &owned);
        h = fnv1a(h, f->name, strlen(f->name) + 1);
        if (src)
            h = fnv1a(h, src, strlen(src));
        free(owned);
    }
    return h;
}

fk_status fk_tune_path(const fk_runtime *rt, char *out, size_t n)
{
    if (rt->opts.tune_file[0]) {
        snprintf(out, n, "%s", rt->opts.tune_file);
        return FK_OK;
    }
    if (!rt->opts.tune_dir[0])
        return fk_error(FK_ERR_ARG, "tune cache: neither XDG_CACHE_HOME nor HOME is set (FIGKD_TUNE=FILE names one)");
    char name[256];
    size_t i = 0;
    for (const char *c = rt->dev.name; *c && i + 1 < sizeof name; c++)
        name[i++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                            *c == '.' || *c == '-' || *c == '_'
                        ? *c
                        : '_';
    name[i] = '\0';
    snprintf(out, n, "%s/tune-%s.ini", rt->opts.tune_dir, name);
    return FK_OK;
}

void fk_tune_clear(fk_runtime *rt)
{
    rt->ntune = 0;
}

static const char *const blas_kernels[] = {"Xgemm", "XgemmDirect"};

fk_status fk_tune_set_blas(fk_runtime *rt, const fk_blas_params *p)
{
    int i = 0;
    while (i < rt->nblas && strcmp(rt->blas[i].kernel, p->kernel))
        i++;
    if (i == (int)(sizeof rt->blas / sizeof rt->blas[0]))
        return fk_error(FK_ERR_ARG, "tune: CLBlast kernel %s: only Xgemm and XgemmDirect are tuned", p->kernel);
    rt->blas[i] = *p;
    rt->nblas = i == rt->nblas ? i + 1 : rt->nblas;
    return FK_OK;
}

static bool same_shape(const fk_tune_entry *a, const fk_tune_entry *b)
{
    return a->frozen == b->frozen && a->n == b->n && a->c_in == b->c_in && a->h == b->h && a->w == b->w &&
           a->c_out == b->c_out && a->k == b->k && a->stride == b->stride && a->pad == b->pad &&
           a->groups == b->groups;
}

fk_status fk_tune_set(fk_runtime *rt, const fk_tune_entry *e)
{
    for (int i = 0; i < rt->ntune; i++)
        if (same_shape(&rt->tune[i], e)) {
            rt->tune[i] = *e;
            return FK_OK;
        }
    if (rt->ntune == rt->captune) {
        int cap = rt->captune ? 2 * rt->captune : 16;
        fk_tune_entry *t = realloc(rt->tune, (size_t)cap * sizeof *t);
        if (!t)
            return fk_error(FK_ERR_NOMEM, "tune table: out of memory");
        rt->tune = t, rt->captune = cap;
    }
    rt->tune[rt->ntune++] = *e;
    return FK_OK;
}

fk_tune_entry *fk_tune_find(fk_runtime *rt, bool frozen, int n, int c_in, int h, int w, int c_out, int k,
                            int stride, int pad, int groups)
{
    const fk_tune_entry key = {frozen, n, c_in, h, w, c_out, k, stride, pad, groups, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < rt->ntune; i++)
        if (same_shape(&rt->tune[i], &key)) {
            rt->tune[i].uses++;
            return &rt->tune[i];
        }
    return NULL;
}

int fk_tune_used(const fk_runtime *rt)
{
    int used = 0;
    for (int i = 0; i < rt->ntune; i++)
        used += rt->tune[i].uses > 0;
    return used;
}

void fk_tune_blas_names(const fk_runtime *rt, char *out, size_t n)
{
    size_t len = 0;
    if (n)
        out[0] = '\0';
    for (int i = 0; i < rt->nblas && len < n; i++)
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", rt->blas[i].kernel);
}

static const char *const gemm_names[] = {"default", "own", "clblast", "wi"};
static const char *const way_names[] = {"default", "columns", "winograd", "batch"};

static int name_index(const char *v, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(v, names[i]))
            return i;
    return -1;
}

/* ---- reading -------------------------------------------------------- */

typedef struct tune_reader {
    fk_runtime *rt;
    char key_name[256], key_driver[128], key_sources[32];
    long format;
    bool in_device, checked, stale;
    fk_tune_entry cur;
    bool have_cur;
    fk_blas_params blas; /* a [clblast KERNEL] section being read (blas.kernel[0]) */
    int blas_line[2];
    int cur_line;
    char why[512];
    int count;
} tune_reader;

static int fail(tune_reader *r, const char *fmt, ...) FK_PRINTF(2, 3);
static int fail(tune_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return 0;
}

/* whether the [device] section read so far is this runtime's */
static int check_key(tune_reader *r)
{
    char src[32];
    snprintf(src, sizeof src, "%016llx", (unsigned long long)fk_kernel_sources_hash());
    if (!r->key_name[0] || !r->key_driver[0] || !r->key_sources[0] || !r->format)
        return fail(r, "a [device] section with format, name, driver and sources comes first");
    r->checked = true;
    r->stale = r->format != TUNE_FORMAT || strcmp(r->key_name, r->rt->dev.name) ||
               strcmp(r->key_driver, r->rt->dev.driver) || strcmp(r->key_sources, src);
    return !r->stale;
}

/* what the finished entry may hold */
static int end_entry(tune_reader *r)
{
    if (r->blas.kernel[0]) {
        if (!r->blas.count)
            return fail(r, "[clblast %s] has no parameters", r->blas.kernel);
        r->blas_line[r->rt->nblas] = r->cur_line;
        int ok = fk_tune_set_blas(r->rt, &r->blas) == FK_OK;
        r->blas.kernel[0] = '\0';
        return ok;
    }
    if (!r->have_cur)
        return 1;
    const fk_tune_entry *e = &r->cur;
    const bool wino_shape = e->groups == 1 && e->k == 3 && e->stride == 1 && e->pad == 1 && e->c_in >= 8 &&
                            e->c_out >= 8;
    const fk_tune_way ways[2] = {e->forward, e->backward};
    for (int i = 0; i < 2; i++) {
        if (ways[i] == FK_TUNE_WINOGRAD && !wino_shape)
            return fail(r, "winograd is for 3x3 stride-1 pad-1 convs with groups 1 and 8 or more channels "
                           "in and out");
        if (ways[i] != FK_TUNE_DEFAULT && e->groups != 1)
            return fail(r, "grouped convs have one way only (forward and backward must be default)");
    }
    r->have_cur = false;
    r->count++;
    return fk_tune_set(r->rt, e) == FK_OK;
}

/* a key of a [clblast KERNEL] section */
static int blas_key(tune_reader *r, const char *name, const char *value)
{
    fk_blas_params *p = &r->blas;
    if (!strcmp(name, "ms") || !strcmp(name, "default_ms")) {
        double v;
        if (fk_parse_double(value, &v) || !(v >= 0))
            return fail(r, "%s = %s: expected a time in ms (>= 0)", name, value);
        *(name[0] == 'm' ? &p->ms : &p->default_ms) = v;
        return 1;
    }
    long v;
    if (fk_parse_long(value, &v) || v < 0)
        return fail(r, "%s = %s: expected a whole number >= 0", name, value);
    if (!strcmp(name, "m") || !strcmp(name, "n") || !strcmp(name, "k")) {
        *(name[0] == 'm' ? &p->m : name[0] == 'n' ? &p->n : &p->k) = (size_t)v;
        return 1;
    }
    bool capitals = name[0] >= 'A' && name[0] <= 'Z' && strlen(name) < sizeof p->names[0];
    for (const char *c = name; *c && capitals; c++)
        capitals = (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_';
    if (!capitals)
        return fail(r, "unknown key '%s' in [clblast %s] (CLBlast's parameters in capitals, m, n, k, ms, "
                       "default_ms)", name, p->kernel);
    if (p->count == FK_BLAS_MAX_PARAMS)
        return fail(r, "[clblast %s]: more than %d parameters", p->kernel, FK_BLAS_MAX_PARAMS);
    snprintf(p->names[p->count], sizeof p->names[0], "%s", name);
    p->values[p->count++] = (size_t)v;
    return 1;
}

static int tune_handler(void *user, const char *section, const char *name, const char *value, int lineno)
{
    tune_reader *r = user;
    if (!name) { /* a [section] header */
        if (!end_entry(r))
            return 0;
        r->cur_line = lineno;
        if (!strcmp(section, "device")) {
            if (r->checked || r->in_device)
                return fail(r, "[device] given twice");
            r->in_device = true;
            return 1;
        }
        if (!r->checked) {
            r->in_device = false;
            if (!check_key(r))
                return 0; /* stale (r->stale) or an error */
        }
        if (!strncmp(section, "clblast ", 8)) {
            const char *k = section + 8;
            if (name_index(k, blas_kernels, 2) < 0)
                return fail(r, "section [%s]: expected [clblast Xgemm] or [clblast XgemmDirect]", section);
            for (int i = 0; i < r->rt->nblas; i++)
                if (!strcmp(r->rt->blas[i].kernel, k))
                    return fail(r, "section [%s] given twice", section);
            memset(&r->blas, 0, sizeof r->blas);
            snprintf(r->blas.kernel, sizeof r->blas.kernel, "%s", k);
            return 1;
        }
        fk_tune_entry e;
        memset(&e, 0, sizeof e);
        char role[16], extra;
        int got = sscanf(section, "%15s %d %d %d %d %d %d %d %d %d %c", role, &e.n, &e.c_in, &e.h, &e.w, &e.c_out,
                         &e.k, &e.stride, &e.pad, &e.groups, &extra);
        if (got != 10 || (strcmp(role, "train") && strcmp(role, "frozen")))
            return fail(r, "section [%s]: expected [train|frozen N C_IN H W C_OUT K STRIDE PAD GROUPS]", section);
        if (e.n <= 0 || e.c_in <= 0 || e.h <= 0 || e.w <= 0 || e.c_out <= 0 || e.k <= 0 || e.stride <= 0 ||
            e.pad < 0 || e.groups <= 0)
            return fail(r, "section [%s]: sizes must be positive (pad >= 0)", section);
        e.frozen = !strcmp(role, "frozen");
        for (int i = 0; i < r->rt->ntune; i++)
            if (same_shape(&r->rt->tune[i], &e))
                return fail(r, "section [%s] given twice", section);
        r->cur = e;
        r->have_cur = true;
        return 1;
    }
    if (!section) /* the reader's own error (FK_INI_KEEP_GOING is off: not reached) */
        return fail(r, "%s", value);
    if (r->in_device && !strcmp(section, "device")) {
        if (!strcmp(name, "name"))
            snprintf(r->key_name, sizeof r->key_name, "%s", value);
        else if (!strcmp(name, "driver"))
            snprintf(r->key_driver, sizeof r->key_driver, "%s", value);
        else if (!strcmp(name, "sources"))
            snprintf(r->key_sources, sizeof r->key_sources, "%s", value);
        else if (!strcmp(name, "format")) {
            if (fk_parse_long(value, &r->format) || r->format <= 0)
                return fail(r, "format = %s: expected a positive integer", value);
        } else
            return fail(r, "unknown key '%s' in [device] (format, name, driver, sources)", name);
        return 1;
    }
    if (r->blas.kernel[0])
        return blas_key(r, name, value);
    if (!r->have_cur)
        return fail(r, "key '%s' outside an entry", name);
    fk_tune_entry *e = &r->cur;
    int i;
    if (!strcmp(name, "gemm")) {
        if ((i = name_index(value, gemm_names, 4)) < 0)
            return fail(r, "gemm = %s: expected own, wi, clblast or default", value);
        e->gemm = (fk_conv_gemm)i;
    } else if (!strcmp(name, "forward") || !strcmp(name, "backward")) {
        if (e->frozen && !strcmp(name, "backward"))
            return fail(r, "a frozen entry has no backward");
        if ((i = name_index(value, way_names, 4)) < 0)
            return fail(r, "%s = %s: expected columns, winograd, batch or default", name, value);
        *(name[0] == 'f' ? &e->forward : &e->backward) = (fk_tune_way)i;
    } else if (!strcmp(name, "ms") || !strcmp(name, "default_ms")) {
        double v;
        if (fk_parse_double(value, &v) || !(v >= 0))
            return fail(r, "%s = %s: expected a time in ms (>= 0)", name, value);
        *(name[0] == 'm' ? &e->ms : &e->default_ms) = v;
    } else {
        return fail(r, "unknown key '%s' (gemm, forward, backward, ms, default_ms)", name);
    }
    return 1;
}

/* the table and the CLBlast values: none */
static void forget(fk_runtime *rt)
{
    fk_tune_clear(rt);
    rt->nblas = 0;
}

fk_status fk_tune_load(fk_runtime *rt, const char *file, int *count, bool *stale)
{
    *count = 0;
    *stale = false;
    forget(rt);
    struct stat sb;
    if (stat(file, &sb) != 0 && errno == ENOENT)
        return FK_OK;
    tune_reader r;
    memset(&r, 0, sizeof r);
    r.rt = rt;
    const char *hint = "delete it or run `figkd-cl tune` again; FIGKD_TUNE=0 ignores it";
    int line = fk_ini_parse_flags(file, FK_INI_SECTION_CALLS, tune_handler, &r);
    if (line == 0 && !r.checked && !check_key(&r))
        line = r.stale ? 0 : 1;
    if (line == 0 && !r.stale && !end_entry(&r))
        line = r.cur_line;
    if (r.stale) {
        forget(rt);
        *stale = true;
        return FK_OK;
    }
    if (line != 0) {
        forget(rt);
        if (r.why[0])
            return fk_error(FK_ERR_FORMAT, "%s:%d: %s (tune cache: %s)", file, line, r.why, hint);
        char msg[1200];
        snprintf(msg, sizeof msg, "%s", fk_last_error());
        return fk_error(FK_ERR_FORMAT, "%s (tune cache: %s)", msg[0] ? msg : file, hint);
    }
    for (int i = 0; i < rt->nblas; i++) {
        int s = fk_blas_override(rt->dev.device_id, &rt->blas[i]);
        if (s) {
            fk_error(FK_ERR_FORMAT, "%s:%d: CLBlast refused the parameters of [clblast %s]: %s (tune cache: %s)",
                     file, r.blas_line[i], rt->blas[i].kernel, fk_blas_errname(s), hint);
            forget(rt);
            return FK_ERR_FORMAT;
        }
    }
    *count = r.count;
    return FK_OK;
}

/* ---- writing -------------------------------------------------------- */

fk_status fk_tune_save(const fk_runtime *rt, const char *file)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (fk_mkdirs(dir))
            return fk_error(FK_ERR_IO, "%s: cannot create the folder", dir);
    }
    size_t cap = 512 + (size_t)rt->ntune * 256 + (size_t)rt->nblas * (256 + FK_BLAS_MAX_PARAMS * 48), len = 0;
    char *text = fk_malloc(cap);
    if (!text)
        return FK_ERR_NOMEM;
    len += (size_t)snprintf(text + len, cap - len,
                            "# figkd-cl tune cache, written by `figkd-cl tune` (docs/speed.md); FIGKD_TUNE=0 "
                            "ignores it\n[device]\nformat = %d\nname = %s\ndriver = %s\nsources = %016llx\n",
                            TUNE_FORMAT, rt->dev.name, rt->dev.driver, (unsigned long long)fk_kernel_sources_hash());
    for (int i = 0; i < rt->ntune; i++) {
        const fk_tune_entry *e = &rt->tune[i];
        len += (size_t)snprintf(text + len, cap - len, "\n[%s %d %d %d %d %d %d %d %d %d]\ngemm = %s\nforward = %s\n",
                                e->frozen ? "frozen" : "train", e->n, e->c_in, e->h, e->w, e->c_out, e->k,
                                e->stride, e->pad, e->groups, gemm_names[e->gemm], way_names[e->forward]);
        if (!e->frozen)
            len += (size_t)snprintf(text + len, cap - len, "backward = %s\n", way_names[e->backward]);
        if (e->ms > 0)
            len += (size_t)snprintf(text + len, cap - len, "ms = %.3f\n", e->ms);
        if (e->default_ms > 0)
            len += (size_t)snprintf(text + len, cap - len, "default_ms = %.3f\n", e->default_ms);
    }
    for (int i = 0; i < rt->nblas; i++) {
        const fk_blas_params *p = &rt->blas[i];
        if (cap - len < 256 + (size_t)p->count * 48)
            break; /* not reached: sized below */
        len += (size_t)snprintf(text + len, cap - len, "\n[clblast %s]\n", p->kernel);
        for (int j = 0; j < p->count; j++)
            len += (size_t)snprintf(text + len, cap - len, "%s = %zu\n", p->names[j], p->values[j]);
        if (p->m)
            len += (size_t)snprintf(text + len, cap - len, "m = %zu\nn = %zu\nk = %zu\n", p->m, p->n, p->k);
        if (p->ms > 0)
            len += (size_t)snprintf(text + len, cap - len, "ms = %.3f\n", p->ms);
        if (p->default_ms > 0)
            len += (size_t)snprintf(text + len, cap - len, "default_ms = %.3f\n", p->default_ms);
    }
    fk_atomic_file af;
    fk_status st = fk_atomic_open(&af, file);
    if (!st)
        st = fk_atomic_write(&af, text, len);
    if (!st)
        st = fk_atomic_commit(&af);
    free(text);
    return st;
}

fk_status fk_tune_use(fk_runtime *rt, char *file, size_t n, int *count)
{
    *count = 0;
    if (n)
        file[0] = '\0';
    if (!rt->opts.tune)
        return FK_OK;
    if (fk_tune_path(rt, file, n) != FK_OK) {
        fk_error_clear();
        file[0] = '\0';
        return FK_OK; /* no folder: nothing tuned */
    }
    bool stale;
    FK_TRY(fk_tune_load(rt, file, count, &stale));
    if (stale)
        fprintf(stderr,
                "figkd-cl: %s was tuned for another device, driver or kernel sources: ignored (run `figkd-cl "
                "tune` again)\n",
                file);
    return FK_OK;
}
