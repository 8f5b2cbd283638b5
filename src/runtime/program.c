/* OpenCL programs: embedded sources, build with options, and a cache in
 * memory (per runtime) and on disk keyed by device, driver, source and
 * options. A cache file that is corrupt, stale or refused by the driver is
 * rebuilt from source and rewritten; it is never fatal. */
#include "figkd/runtime.h"
#include "runtime/cl_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fk_kernel_entry {
    char name[96];
    cl_kernel kernel;
    struct fk_kernel_entry *next;
} fk_kernel_entry;

struct fk_program_entry {
    char *file;
    char *options;
    cl_program program;
    fk_kernel_entry *kernels;
    struct fk_program_entry *next;
};

#define CACHE_MAGIC "FKPCACHE"
#define CACHE_VERSION 1u

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}
#define FNV_INIT 14695981039346656037ull

static char *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        if (buf) {
            buf[n] = '\0';
            *size = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

const char *fk_kernel_source(const char *name, char **owned)
{
    *owned = NULL;
#ifdef FK_KERNEL_DIR
    char path[1024];
    size_t size;
    snprintf(path, sizeof path, "%s/%s.cl", FK_KERNEL_DIR, name);
    *owned = read_whole(path, &size);
    if (*owned)
        return *owned;
#endif
    for (const fk_cl_file *f = fk_cl_files; f->name; f++)
        if (!strcmp(f->name, name))
            return (const char *)f->source;
    return NULL;
}

static void cache_key(const fk_runtime *rt, const char *source, const char *options,
                      char *key, size_t keysz, char *path, size_t pathsz)
{
    uint64_t sh = fnv1a(FNV_INIT, source, strlen(source));
    snprintf(key, keysz,
             "figkd-cl program cache v%u\ndevice=%s\nplatform=%s\ndevice-version=%s\n"
             "driver=%s\noptions=%s\nsource=%016llx\n",
             CACHE_VERSION, rt->dev.name, rt->dev.platform, rt->dev.version, rt->dev.driver,
             options, (unsigned long long)sh);
    uint64_t kh = fnv1a(FNV_INIT, key, strlen(key));
    snprintf(path, pathsz, "%s/%016llx.bin", rt->opts.cache_dir, (unsigned long long)kh);
}

/* Binary from a cache file, or NULL when missing or invalid. */
static unsigned char *cache_load(fk_runtime *rt, const char *path, const char *key, size_t *bin_size)
{
    size_t size;
    char *data = read_whole(path, &size);
    if (!data)
        return NULL;
    size_t keylen = strlen(key);
    size_t head = 8 + 4 + 4;
    uint32_t version, klen;
    uint64_t bsize, sum;
    unsigned char *bin = NULL;
    if (size < head + keylen + 16 || memcmp(data, CACHE_MAGIC, 8) != 0)
        goto reject;
    memcpy(&version, data + 8, 4);
    memcpy(&klen, data + 12, 4);
    if (version != CACHE_VERSION || klen != keylen || memcmp(data + head, key, keylen) != 0)
        goto reject;
    memcpy(&bsize, data + head + keylen, 8);
    memcpy(&sum, data + head + keylen + 8, 8);
    if (bsize == 0 || bsize != size - head - keylen - 16)
        goto reject;
    const unsigned char *payload = (const unsigned char *)data + head + keylen + 16;
    if (fnv1a(FNV_INIT, payload, bsize) != sum)
        goto reject;
    bin = malloc(bsize);
    if (!bin)
        goto reject;
    memcpy(bin, payload, bsize);
    *bin_size = bsize;
    free(data);
    return bin;
reject:
    rt->cache_rejects++;
    free(data);
    return NULL;
}

static void cache_store(fk_runtime *rt, cl_program prog, const char *path, const char *key)
{
    size_t bsize = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bsize, &bsize, NULL) != CL_SUCCESS || bsize == 0)
        return;
    unsigned char *bin = malloc(bsize);
    if (!bin)
        return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS || fk_mkdirs(rt->opts.cache_dir) != 0) {
        free(bin);
        return;
    }
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f) {
        uint32_t version = CACHE_VERSION, klen = (uint32_t)strlen(key);
        uint64_t b64 = bsize, sum = fnv1a(FNV_INIT, bin, bsize);
        int ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8 && fwrite(&version, 4, 1, f) == 1 &&
                 fwrite(&klen, 4, 1, f) == 1 && fwrite(key, 1, klen, f) == klen &&
                 fwrite(&b64, 8, 1, f) == 1 && fwrite(&sum, 8, 1, f) == 1 &&
                 fwrite(bin, 1, bsize, f) == bsize;
        ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, path) != 0)
            remove(tmp);
    }
    free(bin);
}

static fk_status build_failed(fk_runtime *rt, cl_program prog, const char *name,
                              const char *options, cl_int err)
{
    size_t n = 0;
    clGetProgramBuildInfo(prog, rt->dev.device_id, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (log) {
        log[0] = '\0';
        clGetProgramBuildInfo(prog, rt->dev.device_id, CL_PROGRAM_BUILD_LOG, n, log, NULL);
        log[n] = '\0';
    }
    fk_status st = fk_error(FK_ERR_BUILD, "building cl/%s.cl (options \"%s\") failed with %s on %s; build log:\n%s",
                            name, options, fk_cl_errname(err), rt->dev.name, log ? log : "(no memory for the log)");
    free(log);
    return st;
}

static fk_status build(fk_runtime *rt, const char *name, const char *options, cl_program *out)
{
    char *owned;
    const char *src = fk_kernel_source(name, &owned);
    if (!src)
        return fk_error(FK_ERR_ARG, "no kernel file cl/%s.cl is embedded in this build", name);
    char full_opts[2048];
    snprintf(full_opts, sizeof full_opts, "-cl-std=CL1.2 %s", options);
    char key[4096], path[1100];
    cache_key(rt, src, full_opts, key, sizeof key, path, sizeof path);

    cl_int err;
    if (rt->opts.disk_cache) {
        size_t bsize;
        unsigned char *bin = cache_load(rt, path, key, &bsize);
        if (bin) {
            cl_int bin_status;
            const unsigned char *bins[1] = {bin};
            cl_program p = clCreateProgramWithBinary(rt->ctx, 1, &rt->dev.device_id, &bsize, bins, &bin_status, &err);
            free(bin);
            if (err == CL_SUCCESS && bin_status == CL_SUCCESS &&
                clBuildProgram(p, 1, &rt->dev.device_id, full_opts, NULL, NULL) == CL_SUCCESS) {
                rt->disk_hits++;
                free(owned);
                *out = p;
                return FK_OK;
            }
            if (p)
                clReleaseProgram(p);
            rt->cache_rejects++;
        }
    }
    size_t len = strlen(src);
    cl_program p = clCreateProgramWithSource(rt->ctx, 1, &src, &len, &err);
    if (err != CL_SUCCESS) {
        free(owned);
        return fk_cl_fail(err, "clCreateProgramWithSource", __FILE__, __LINE__);
    }
    err = clBuildProgram(p, 1, &rt->dev.device_id, full_opts, NULL, NULL);
    free(owned);
    if (err != CL_SUCCESS) {
        fk_status st = build_failed(rt, p, name, full_opts, err);
        clReleaseProgram(p);
        return st;
    }
    rt->builds++;
    if (rt->opts.disk_cache)
        cache_store(rt, p, path, key);
    *out = p;
    return FK_OK;
}

static fk_program_entry *find_entry(fk_runtime *rt, const char *name, const char *options)
{
    for (fk_program_entry *e = rt->programs; e; e = e->next)
        if (!strcmp(e->file, name) && !strcmp(e->options, options))
            return e;
    return NULL;
}

static fk_status get_entry(fk_runtime *rt, const char *name, const char *options, fk_program_entry **out)
{
    if (!options)
        options = "";
    fk_program_entry *e = find_entry(rt, name, options);
    if (e) {
        rt->memory_hits++;
        *out = e;
        return FK_OK;
    }
    cl_program p;
    FK_TRY(build(rt, name, options, &p));
    e = fk_calloc(1, sizeof *e);
    if (e) {
        e->file = strdup(name);
        e->options = strdup(options);
    }
    if (!e || !e->file || !e->options) {
        if (e) {
            free(e->file);
            free(e->options);
        }
        free(e);
        clReleaseProgram(p);
        return FK_ERR_NOMEM;
    }
    e->program = p;
    e->next = rt->programs;
    rt->programs = e;
    *out = e;
    return FK_OK;
}

fk_status fk_program_get(fk_runtime *rt, const char *name, const char *options, cl_program *out)
{
    fk_program_entry *e;
    FK_TRY(get_entry(rt, name, options, &e));
    *out = e->program;
    return FK_OK;
}

fk_status fk_kernel_get(fk_runtime *rt, const char *file, const char *options,
                        const char *kernel, cl_kernel *out)
{
    fk_program_entry *e;
    FK_TRY(get_entry(rt, file, options, &e));
    for (fk_kernel_entry *k = e->kernels; k; k = k->next)
        if (!strcmp(k->name, kernel)) {
            *out = k->kernel;
            return FK_OK;
        }
    cl_int err;
    cl_kernel k = clCreateKernel(e->program, kernel, &err);
    if (err != CL_SUCCESS)
        return fk_error(FK_ERR_CL, "clCreateKernel(\"%s\") from cl/%s.cl failed with %s", kernel, file,
                        fk_cl_errname(err));
    fk_kernel_entry *ke = fk_calloc(1, sizeof *ke);
    if (!ke) {
        clReleaseKernel(k);
        return FK_ERR_NOMEM;
    }
    snprintf(ke->name, sizeof ke->name, "%s", kernel);
    ke->kernel = k;
    ke->next = e->kernels;
    e->kernels = ke;
    *out = k;
    return FK_OK;
}

void fk_program_cache_free(fk_runtime *rt)
{
    fk_program_entry *e = rt->programs;
    while (e) {
        fk_program_entry *next = e->next;
        fk_kernel_entry *k = e->kernels;
        while (k) {
            fk_kernel_entry *kn = k->next;
            clReleaseKernel(k->kernel);
            free(k);
            k = kn;
        }
        clReleaseProgram(e->program);
        free(e->file);
        free(e->options);
        free(e);
        e = next;
    }
    rt->programs = NULL;
    /* the kernels by id were this cache's */
    memset(rt->kernels, 0, sizeof rt->kernels);
    rt->nvariants = 0;
}
