/* Fault injection for tests: an LD_PRELOAD shim that counts the calls a
 * process makes on files under one folder and makes the N-th of them fail.
 *
 *   FIGKD_FAULT_DIR    the folder (a run's out_dir); only calls on files in
 *                      it (or on the folder itself) are counted; unset: none
 *   FIGKD_FAULT_CALLS  which calls count, e.g. "write,fsync,rename" (the
 *                      default); also open (creating or writing), close,
 *                      fdatasync
 *   FIGKD_FAULT_AT     the call (1-based, in order from process start) that
 *                      fails; unset or 0: none fails
 *   FIGKD_FAULT_STICKY 1: every counted call from the N-th on fails (a disk
 *                      that stays full)
 *   FIGKD_FAULT_ERRNO  ENOSPC (the default) or EIO
 *   FIGKD_FAULT_KILL   1: the N-th call sends SIGKILL to the process instead
 *                      (a kill at an exact point, e.g. between two renames)
 *   FIGKD_FAULT_COUNT  file that receives the number of counted calls at exit
 *   FIGKD_FAULT_LOG    file that receives one line per counted call:
 *                      "N CALL PATH ok|ENOSPC|EIO|SIGKILL"
 *
 * write, pwrite, fsync, fdatasync, rename, renameat, open, open64, close
 * are interposed. stdio does not call the exported write(), so fopen of a
 * file under the folder for writing or appending returns a stream over
 * fopencookie() whose writes go through the counted write(): fwrite,
 * fprintf, fputs, fflush and fclose reach the same failure points as the
 * system calls they end in. A failing close still releases the descriptor,
 * as Linux's does; the other calls fail without doing anything. */
#define _GNU_SOURCE
/* open, fopen and pwrite under their own names (not redirected to the
 * *64 ones, which are defined below as well) */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum { C_WRITE, C_FSYNC, C_FDATASYNC, C_RENAME, C_OPEN, C_CLOSE, C_COUNT };
static const char *const call_names[C_COUNT] = {"write", "fsync", "fdatasync", "rename", "open", "close"};

static struct {
    int ready;
    char dir[PATH_MAX];
    size_t dir_len;
    unsigned enabled;        /* bit per call kind */
    long at;                 /* 0: no fault */
    int sticky;
    int kill;
    int err;
    char count_path[PATH_MAX];
    int log_fd;
    long calls;              /* counted so far (atomic) */
} fi = {.log_fd = -1};

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_close)(int);
static FILE *(*real_fopen)(const char *, const char *);
static FILE *(*real_fopen64)(const char *, const char *);

/* dlsym's object pointer into a function pointer without a cast that
 * -Wpedantic rejects. */
#define RESOLVE(var, name)                       \
    do {                                         \
        void *sym_ = dlsym(RTLD_NEXT, name);     \
        memcpy(&(var), &sym_, sizeof(var));      \
    } while (0)

static void resolve_all(void)
{
    RESOLVE(real_write, "write");
    RESOLVE(real_pwrite, "pwrite");
    RESOLVE(real_fsync, "fsync");
    RESOLVE(real_fdatasync, "fdatasync");
    RESOLVE(real_rename, "rename");
    RESOLVE(real_renameat, "renameat");
    RESOLVE(real_open, "open");
    RESOLVE(real_open64, "open64");
    RESOLVE(real_close, "close");
    RESOLVE(real_fopen, "fopen");
    RESOLVE(real_fopen64, "fopen64");
}

static void abs_path(const char *path, char *out, size_t cap);

static void fi_init(void)
{
    if (__atomic_load_n(&fi.ready, __ATOMIC_ACQUIRE))
        return;
    resolve_all();
    const char *dir = getenv("FIGKD_FAULT_DIR");
    if (dir && *dir && strlen(dir) < sizeof fi.dir) {
        char given[PATH_MAX];
        strcpy(given, dir);
        for (size_t n = strlen(given); n > 1 && given[n - 1] == '/'; n--)
            given[n - 1] = '\0';
        /* the folder may not exist yet: then its parent through realpath */
        if (!realpath(given, fi.dir))
            abs_path(given, fi.dir, sizeof fi.dir);
        fi.dir_len = strlen(fi.dir);
    }
    const char *calls = getenv("FIGKD_FAULT_CALLS");
    if (!calls || !*calls)
        calls = "write,fsync,rename";
    for (int c = 0; c < C_COUNT; c++) {
        size_t n = strlen(call_names[c]);
        for (const char *p = calls; (p = strstr(p, call_names[c])); p += n)
            if ((p == calls || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
                fi.enabled |= 1u << c;
    }
    const char *at = getenv("FIGKD_FAULT_AT");
    fi.at = at ? strtol(at, NULL, 10) : 0;
    const char *sticky = getenv("FIGKD_FAULT_STICKY");
    fi.sticky = sticky && !strcmp(sticky, "1");
    const char *kill_ = getenv("FIGKD_FAULT_KILL");
    fi.kill = kill_ && !strcmp(kill_, "1");
    const char *err = getenv("FIGKD_FAULT_ERRNO");
    fi.err = err && !strcmp(err, "EIO") ? EIO : ENOSPC;
    const char *count = getenv("FIGKD_FAULT_COUNT");
    if (count && strlen(count) < sizeof fi.count_path)
        strcpy(fi.count_path, count);
    const char *log = getenv("FIGKD_FAULT_LOG");
    if (log && *log)
        fi.log_fd = real_open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    __atomic_store_n(&fi.ready, 1, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void fi_start(void) { fi_init(); }

__attribute__((destructor)) static void fi_finish(void)
{
    if (!fi.count_path[0])
        return;
    int fd = real_open(fi.count_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", __atomic_load_n(&fi.calls, __ATOMIC_SEQ_CST));
    if (real_write(fd, buf, (size_t)n) != n) {
        /* the test notices the missing count */
    }
    real_close(fd);
}

static int under_dir(const char *abs)
{
    return fi.dir_len && !strncmp(abs, fi.dir, fi.dir_len) && (abs[fi.dir_len] == '/' || abs[fi.dir_len] == '\0');
}

/* The absolute name of path: its folder through realpath, then its last
 * component (the file itself need not exist). */
static void abs_path(const char *path, char *out, size_t cap)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (!realpath(dir, real)) {
        snprintf(out, cap, "%s", path);
        return;
    }
    int n = *base ? snprintf(out, cap, "%s/%s", strcmp(real, "/") ? real : "", base) : snprintf(out, cap, "%s", real);
    if (n < 0 || (size_t)n >= cap)
        snprintf(out, cap, "%s", path);
}

static int fd_path(int fd, char *out, size_t cap)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, cap - 1);
    if (n < 0)
        return -1;
    out[n] = '\0';
    return 0;
}

/* Count a call on path when its kind is enabled and path is in the folder;
 * return the errno it must fail with, or 0. */
static int fi_hit(int call, const char *path)
{
    if (!(fi.enabled & (1u << call)) || !under_dir(path))
        return 0;
    long n = __atomic_add_fetch(&fi.calls, 1, __ATOMIC_SEQ_CST);
    int fail = fi.at > 0 && (n == fi.at || (fi.sticky && n > fi.at));
    if (fi.log_fd >= 0) {
        char line[PATH_MAX + 64];
        int len = snprintf(line, sizeof line, "%ld %s %s %s\n", n, call_names[call], path,
                           !fail ? "ok" : fi.kill ? "SIGKILL" : fi.err == EIO ? "EIO" : "ENOSPC");
        if (len > 0 && real_write(fi.log_fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1) < 0) {
            /* the log is best effort */
        }
    }
    if (fail && fi.kill)
        kill(getpid(), SIGKILL);
    return fail ? fi.err : 0;
}

static int fi_hit_fd(int call, int fd)
{
    char path[PATH_MAX];
    if (!fi.dir_len || !(fi.enabled & (1u << call)) || fd < 0 || fd_path(fd, path, sizeof path))
        return 0;
    return fi_hit(call, path);
}

static int fi_hit_path(int call, const char *p)
{
    char path[PATH_MAX];
    if (!fi.dir_len || !(fi.enabled & (1u << call)) || !p)
        return 0;
    abs_path(p, path, sizeof path);
    return fi_hit(call, path);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    fi_init();
    int e = fi_hit_fd(C_WRITE, fd);
    if (e) {
        errno = e;
        return -1;
    }
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    fi_init();
    int e = fi_hit_fd(C_WRITE, fd);
    if (e) {
        errno = e;
        return -1;
    }
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
    return pwrite(fd, buf, n, (off_t)off);
}

int fsync(int fd)
{
    fi_init();
    int e = fi_hit_fd(C_FSYNC, fd);
    if (e) {
        errno = e;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    fi_init();
    int e = fi_hit_fd(C_FDATASYNC, fd);
    if (e) {
        errno = e;
        return -1;
    }
    return real_fdatasync(fd);
}

int rename(const char *from, const char *to)
{
    fi_init();
    int e = fi_hit_path(C_RENAME, to);
    if (e) {
        errno = e;
        return -1;
    }
    return real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    fi_init();
    int e = tofd == AT_FDCWD || (to && to[0] == '/') ? fi_hit_path(C_RENAME, to) : 0;
    if (e) {
        errno = e;
        return -1;
    }
    return real_renameat(fromfd, from, tofd, to);
}

int close(int fd)
{
    fi_init();
    int e = fi_hit_fd(C_CLOSE, fd);
    int rc = real_close(fd);
    if (e) {
        errno = e;
        return -1;
    }
    return rc;
}

static int open_common(int (*real)(const char *, int, ...), const char *path, int flags, mode_t mode)
{
    fi_init();
    int e = (flags & (O_CREAT | O_WRONLY | O_RDWR)) ? fi_hit_path(C_OPEN, path) : 0;
    if (e) {
        errno = e;
        return -1;
    }
    return real(path, flags, mode);
}

/* The mode argument that open has only with O_CREAT or O_TMPFILE. */
static mode_t open_mode(int flags, va_list ap) { return flags & (O_CREAT | O_TMPFILE) ? (mode_t)va_arg(ap, int) : 0; }

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return open_common(real_open, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return open_common(real_open64, path, flags, mode);
}

/* ----------------------------------------------- stdio streams in the folder */

static ssize_t ck_read(void *c, char *buf, size_t n) { return read((int)(intptr_t)c, buf, n); }

static ssize_t ck_write(void *c, const char *buf, size_t n)
{
    ssize_t w = write((int)(intptr_t)c, buf, n); /* the counted one */
    return w < 0 ? 0 : w;                        /* 0: glibc marks the stream's error flag */
}

static int ck_seek(void *c, off64_t *off, int whence)
{
    off_t r = lseek((int)(intptr_t)c, (off_t)*off, whence);
    if (r < 0)
        return -1;
    *off = r;
    return 0;
}

static int ck_close(void *c) { return close((int)(intptr_t)c); }

static FILE *fopen_common(FILE *(*real)(const char *, const char *), const char *path, const char *mode)
{
    fi_init();
    char abs[PATH_MAX];
    if (!fi.dir_len || !path || !mode || !strpbrk(mode, "wa"))
        return real(path, mode);
    abs_path(path, abs, sizeof abs);
    if (!under_dir(abs))
        return real(path, mode);
    int flags = (strchr(mode, '+') ? O_RDWR : O_WRONLY) | O_CREAT | (mode[0] == 'a' ? O_APPEND : O_TRUNC);
    if (strchr(mode, 'e'))
        flags |= O_CLOEXEC;
    int fd = open(path, flags, 0666); /* the counted one */
    if (fd < 0)
        return NULL;
    cookie_io_functions_t io = {.read = ck_read, .write = ck_write, .seek = ck_seek, .close = ck_close};
    FILE *f = fopencookie((void *)(intptr_t)fd, mode, io);
    if (!f) {
        int e = errno;
        real_close(fd);
        errno = e;
    }
    return f;
}

FILE *fopen(const char *path, const char *mode) { return fopen_common(real_fopen, path, mode); }
FILE *fopen64(const char *path, const char *mode) { return fopen_common(real_fopen64, path, mode); }
