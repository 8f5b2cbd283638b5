/* Atomic writes that fail (a write past RLIMIT_FSIZE, a rename over a
 * directory, a writer killed half way) leave no `*.tmp.<pid>` file and the
 * old file intact; the out_dir lock keeps a second process out (fork). */
#include "common.h"
#include "figkd/io.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[512];

#define HAS(sub) CHECK(strstr(fk_last_error(), (sub)) != NULL, "message '%s' lacks '%s'", \
                       fk_last_error(), (sub))

/* Files in dir whose name contains ".tmp." */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static fk_status save(const char *path, const char *text, size_t n)
{
    fk_atomic_file af;
    fk_status s = fk_atomic_open(&af, path);
    if (s == FK_OK)
        s = fk_atomic_write(&af, text, n);
    if (s == FK_OK)
        s = fk_atomic_commit(&af);
    return s;
}

static int has_text(const char *path, const char *text)
{
    char buf[64] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(text) && !memcmp(buf, text, n);
}

static void test_failed_writes(void)
{
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/w", root);
    fk_mkdirs(dir);
    snprintf(path, sizeof path, "%s/last.safetensors", dir);
    CHECK(save(path, "old", 3) == FK_OK, "first save: %s", fk_last_error());

    /* a write that fails (EFBIG past RLIMIT_FSIZE), in a child */
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        static char big[65536];
        fk_status s = save(path, big, sizeof big);
        int ok = s == FK_ERR_IO && strstr(fk_last_error(), path) && strstr(fk_last_error(), "write");
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a failed write is not FK_ERR_IO naming the file");
    CHECK(count_tmp(dir) == 0, "a failed write left %d temporary file(s)", count_tmp(dir));
    CHECK(has_text(path, "old"), "a failed write changed the file");

    /* a rename that fails: the target is a folder that holds a file */
    char target[800], inner[900];
    snprintf(target, sizeof target, "%s/best.safetensors", dir);
    snprintf(inner, sizeof inner, "%s/x", target);
    fk_mkdirs(inner);
    CHECK(save(target, "new", 3) == FK_ERR_IO, "rename over a folder succeeded");
    HAS("rename");
    CHECK(count_tmp(dir) == 0, "a failed rename left %d temporary file(s)", count_tmp(dir));

    /* a writer killed half way (here: it exits without commit or abort) */
    pid = fork();
    if (pid == 0) {
        fk_atomic_file af;
        if (fk_atomic_open(&af, path) || fk_atomic_write(&af, "half", 4))
            _exit(1);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child writer");
    CHECK(count_tmp(dir) == 1, "the killed writer's temporary file is there");
    CHECK(has_text(path, "old"), "a killed writer changed the file");
    CHECK(save(path, "next", 4) == FK_OK, "save after a killed writer: %s", fk_last_error());
    CHECK(count_tmp(dir) == 0, "the next save left %d stale temporary file(s)", count_tmp(dir));
    CHECK(has_text(path, "next"), "the next save");
}

static void test_dir_lock(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/out", root);
    fk_mkdirs(dir);
    int up[2];
    if (pipe(up) != 0)
        return;
    pid_t holder = fork();
    if (holder == 0) {
        int fd;
        char c = fk_dir_lock(dir, &fd) == FK_OK ? 'y' : 'n';
        if (write(up[1], &c, 1) != 1)
            _exit(1);
        pause(); /* killed by the parent */
        _exit(0);
    }
    char c = 0;
    CHECK(read(up[0], &c, 1) == 1 && c == 'y', "child took the lock");
    int fd = -1;
    CHECK(fk_dir_lock(dir, &fd) == FK_ERR_IO && fd == -1, "second lock of a busy folder");
    char want[700];
    snprintf(want, sizeof want, "%s is already in use by pid %ld", dir, (long)holder);
    HAS(want);
    /* the holder dies without unlocking: the lock goes with it */
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    CHECK(fk_dir_lock(dir, &fd) == FK_OK && fd >= 0, "lock after the holder died: %s", fk_last_error());
    /* and now a child is refused, naming this pid */
    pid_t pid = fork();
    if (pid == 0) {
        int fd2;
        char w[128];
        snprintf(w, sizeof w, "already in use by pid %ld", (long)getppid());
        _exit(fk_dir_lock(dir, &fd2) == FK_ERR_IO && strstr(fk_last_error(), w) ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child not refused with this pid");
    fk_dir_unlock(fd);
    pid = fork();
    if (pid == 0) {
        int fd2;
        _exit(fk_dir_lock(dir, &fd2) == FK_OK ? 0 : 1);
    }
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child refused after unlock");
    /* a folder that does not exist */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no/such", root);
    CHECK(fk_dir_lock(missing, &fd) == FK_ERR_IO, "lock in a missing folder");
    close(up[0]);
    close(up[1]);
}

int main(void)
{
    fk_test_mkdir("atomic");
    snprintf(root, sizeof root, "%s", fk_test_dir());
    fk_error_quiet(1);
    test_failed_writes();
    test_dir_lock();
    fk_error_quiet(0);
    if (!fk_test_failures)
        fk_test_rmdir();
    return fk_test_result("atomic");
}
