/* Atomic file replacement: temp file, fsync, rename, fsync of the directory. */
#include "figkd/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
