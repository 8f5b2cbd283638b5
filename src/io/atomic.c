/* Atomic file replacement: temp file, fsync, rename, fsync of the directory;
 * and the lock that keeps a second process out of a directory. */
#include "figkd/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = fk_malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Remove `path.tmp.<pid>` files left by processes that no longer run (a
 * save killed half way): best effort, errors ignored. */
static void remove_stale_tmp(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0, base_len = strlen(base);
    char *dir = fk_malloc(dir_len + 2);
    if (!dir)
        return;
    memcpy(dir, slash ? path : ".", slash ? dir_len : 1);
    dir[slash ? dir_len : 1] = '\0';
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, base_len) || strncmp(n + base_len, ".tmp.", 5))
            continue;
        char *end;
        errno = 0;
        long pid = strtol(n + base_len + 5, &end, 10);
        if (errno || *end || pid <= 0 || end == n + base_len + 5 || (pid_t)pid == getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* that process may still be writing it */
        size_t len = dir_len + strlen(n) + 1;
        char *tmp = fk_malloc(len);
        if (tmp) {
            snprintf(tmp, len, "%.*s%s", (int)dir_len, path, n);
            unlink(tmp);
            free(tmp);
        }
    }
    if (d)
        closedir(d);
    free(dir);
}

fk_status fk_atomic_open(fk_atomic_file *af, const char *path)
{
    af->fd = -1;
    af->path = NULL;
    af->tmp_path = NULL;
    if (!path || !*path)
        return fk_error(FK_ERR_ARG, "atomic write: empty file name");
    af->path = dup_str(path);
    size_t n = strlen(path) + 32;
    af->tmp_path = fk_malloc(n);
    if (!af->path || !af->tmp_path) {
        free(af->path);
        free(af->tmp_path);
        af->path = af->tmp_path = NULL;
        return FK_ERR_NOMEM;
    }
    snprintf(af->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    remove_stale_tmp(path);
    af->fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (af->fd < 0) {
        int e = errno;
        fk_status s = fk_error(FK_ERR_IO, "%s: cannot create temporary file %s: %s",
            path, af->tmp_path, strerror(e));
        free(af->path);
        free(af->tmp_path);
        af->path = af->tmp_path = NULL;
        return s;
    }
    return FK_OK;
}

void fk_atomic_abort(fk_atomic_file *af)
{
    if (af->fd >= 0)
        close(af->fd);
    af->fd = -1;
    if (af->tmp_path)
        unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    af->tmp_path = NULL;
    af->path = NULL;
}

fk_status fk_atomic_write(fk_atomic_file *af, const void *buf, size_t n)
{
    const char *p = buf;
    if (af->fd < 0)
        return fk_error(FK_ERR_ARG, "atomic write: file is not open");
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t w = write(af->fd, p, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : EIO;
            fk_status s = fk_error(FK_ERR_IO, "%s: write to %s failed: %s",
                af->path, af->tmp_path, strerror(e));
            fk_atomic_abort(af);
            return s;
        }
        p += w;
        n -= (size_t)w;
    }
    return FK_OK;
}

/* fsync the directory holding path so that the rename is durable. */
static fk_status sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = dup_str(".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = fk_malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir)
        return FK_ERR_NOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fk_status s = FK_OK;
    if (fd < 0) {
        s = fk_error(FK_ERR_IO, "%s: cannot open directory %s to sync it: %s",
            path, dir, strerror(errno));
    } else {
        /* Some file systems cannot fsync a directory; the rename stands. */
        if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP)
            s = fk_error(FK_ERR_IO, "%s: fsync of directory %s failed: %s",
                path, dir, strerror(errno));
        close(fd);
    }
    free(dir);
    return s;
}

fk_status fk_atomic_commit(fk_atomic_file *af)
{
    if (af->fd < 0 || !af->tmp_path)
        return fk_error(FK_ERR_ARG, "atomic write: file is not open");
    if (fsync(af->fd) != 0) {
        fk_status s = fk_error(FK_ERR_IO, "%s: fsync of %s failed: %s",
            af->path, af->tmp_path, strerror(errno));
        fk_atomic_abort(af);
        return s;
    }
    int rc = close(af->fd);
    af->fd = -1;
    if (rc != 0) {
        fk_status s = fk_error(FK_ERR_IO, "%s: close of %s failed: %s",
            af->path, af->tmp_path, strerror(errno));
        fk_atomic_abort(af);
        return s;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        fk_status s = fk_error(FK_ERR_IO, "%s: cannot rename %s over it: %s",
            af->path, af->tmp_path, strerror(errno));
        fk_atomic_abort(af);
        return s;
    }
    free(af->tmp_path);
    af->tmp_path = NULL;
    fk_status s = sync_dir(af->path);
    free(af->path);
    af->path = NULL;
    return s;
}

fk_status fk_dir_lock(const char *dir, int *fd_out)
{
    *fd_out = -1;
    size_t n = strlen(dir) + sizeof "/" FK_DIR_LOCK_NAME;
    char *path = fk_malloc(n);
    if (!path)
        return FK_ERR_NOMEM;
    snprintf(path, n, "%s/%s", dir, FK_DIR_LOCK_NAME);
    fk_status s = FK_OK;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        s = fk_error(FK_ERR_IO, "%s: cannot create the lock file %s: %s", dir, path,
                     strerror(errno));
        goto done;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char buf[32] = {0};
            ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
            long pid = r > 0 ? strtol(buf, NULL, 10) : 0;
            if (pid > 0)
                s = fk_error(FK_ERR_IO, "%s is already in use by pid %ld (it holds %s); "
                             "wait for it to finish or give another directory", dir, pid, path);
            else
                s = fk_error(FK_ERR_IO, "%s is already in use by another process (it holds "
                             "%s); wait for it to finish or give another directory", dir, path);
        } else {
            s = fk_error(FK_ERR_IO, "%s: cannot lock %s: %s", dir, path, strerror(e));
        }
        close(fd);
        goto done;
    }
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        s = fk_error(FK_ERR_IO, "%s: cannot write the pid into %s: %s", dir, path,
                     strerror(errno));
        close(fd);
        goto done;
    }
    *fd_out = fd;
done:
    free(path);
    return s;
}

void fk_dir_unlock(int fd)
{
    if (fd < 0)
        return;
    /* empty the lock file so that no stale pid misleads; a failure there
     * changes nothing, as the lock goes with the close */
    int rc = ftruncate(fd, 0);
    (void)rc;
    close(fd);
}
