/* The INI reader (src/io/ini.c): inih's syntax, lines of any length with
 * true line numbers, a name given twice, files that are refused. */
#include "common.h"
#include "figkd/ini.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[512];

#define HAS(sub) CHECK(strstr(fk_last_error(), (sub)) != NULL, "message '%s' lacks '%s'", \
                       fk_last_error(), (sub))

/* Every call as "section|name|value|line\n". */
typedef struct dump {
    char text[8192];
    size_t n;
    int stop_at; /* return 0 on this line */
} dump;

static int record(void *user, const char *section, const char *name, const char *value, int line)
{
    dump *d = user;
    if (!name) /* a section header */
        name = value = "(section)";
    d->n += (size_t)snprintf(d->text + d->n, sizeof d->text - d->n, "%s|%s|%s|%d\n", section, name,
                             value, line);
    return line != d->stop_at;
}

static const char *write_file(const char *name, const char *text, size_t n)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, n, f) != n || fclose(f) != 0)
        exit(1);
    return path;
}

static int parse(const char *text, dump *d)
{
    memset(d, 0, sizeof *d);
    return fk_ini_parse(write_file("t.ini", text, strlen(text)), record, d);
}

static void test_syntax(void)
{
    dump d;
    int r = parse("\xEF\xBB\xBF; comment\n# comment\n\n[run]\nname = a b \n  seed=3 ; inline\n"
                  "x: y\nurl = a;b\n[data]\r\nroot = /p # not a comment\nempty =\n"
                  "[ spaced ] trailing\nk = v\n= nameless\n", &d);
    CHECK(r == 0, "parse: %d %s", r, fk_last_error());
    const char *want = "run|name|a b|5\nrun|seed|3|6\nrun|x|y|7\nrun|url|a;b|8\n"
                       "data|root|/p # not a comment|10\ndata|empty||11\n"
                       " spaced |k|v|13\n spaced ||nameless|14\n";
    CHECK(!strcmp(d.text, want), "calls:\n%s\nwant:\n%s", d.text, want);
    /* section calls: each header, with its line */
    memset(&d, 0, sizeof d);
    const char *p = write_file("s.ini", "[a]\n\n[b]\nk = 1\n", 15);
    r = fk_ini_parse_flags(p, FK_INI_SECTION_CALLS, record, &d);
    CHECK(r == 0 && !strcmp(d.text, "a|(section)|(section)|1\nb|(section)|(section)|3\nb|k|1|4\n"),
          "section calls: %d\n%s", r, d.text);
    memset(&d, 0, sizeof d);
    d.stop_at = 3;
    CHECK(fk_ini_parse_flags(p, FK_INI_SECTION_CALLS, record, &d) == 3, "stop at a section");
    /* keys before any section, no newline at the end */
    r = parse("a = 1\n[s]\nb = 2", &d);
    CHECK(r == 0 && !strcmp(d.text, "|a|1|1\ns|b|2|3\n"), "got %d:\n%s", r, d.text);
}

static void test_long_lines(void)
{
    /* a comment of 5000 characters ending in "lr = 0.5": all comment, and the
     * key after it is on line 3 */
    size_t n = 6000;
    char *t = malloc(n + 100);
    size_t k = (size_t)snprintf(t, n, "[optim]\n; ");
    while (k < 5000)
        t[k++] = 'x';
    k += (size_t)snprintf(t + k, 100, " lr = 0.5\nmomentum = 0.9\n");
    dump d;
    int r = parse(t, &d);
    CHECK(r == 0 && !strcmp(d.text, "optim|momentum|0.9|3\n"), "long comment: %d\n%s", r, d.text);
    /* a long value read whole */
    k = (size_t)snprintf(t, n, "[run]\nname = ");
    while (k < 5000)
        t[k++] = 'v';
    k += (size_t)snprintf(t + k, 100, "\nseed = 1\n");
    r = parse(t, &d);
    CHECK(r == 0 && strlen(d.text) > 4990 && strstr(d.text, "run|seed|1|3\n"), "long value: %d", r);
    free(t);
}

static void test_errors(void)
{
    dump d;
    int r = parse("[optim]\nlr = 0.1\nmomentum = 0.9\n\nlr = 0.5\n", &d);
    CHECK(r == 5, "a name given twice: %d", r);
    HAS("t.ini:5: [optim] lr is given twice; first at ");
    HAS("t.ini:2");
    CHECK(!strstr(d.text, "0.5"), "the second value was applied");
    /* the same section given twice */
    r = parse("[optim]\nlr = 0.1\n[data]\nroot = x\n[optim]\nlr = 0.2\n", &d);
    CHECK(r == 6, "twice across sections: %d", r);
    HAS("t.ini:6: [optim] lr is given twice");
    /* the same name in two sections is fine; names are case-sensitive */
    r = parse("[optim]\nlr = 0.1\n[teacher_optim]\nlr = 0.2\nLR = 1\n", &d);
    CHECK(r == 0, "same name, two sections: %d %s", r, fk_last_error());
    r = parse("[run]\nthis is not ini\n", &d);
    CHECK(r == 2, "not an INI line: %d", r);
    HAS("t.ini:2: not an INI line");
    r = parse("[run\nx = 1\n", &d);
    CHECK(r == 1, "no ']': %d", r);
    HAS("t.ini:1:");
    /* an indented line is an ordinary line, not a continuation of the last key */
    r = parse("[optim]\nlr = 0.1\n    momentum = 0.9\n", &d);
    CHECK(r == 0 && !strcmp(d.text, "optim|lr|0.1|2\noptim|momentum|0.9|3\n"), "indented: %d\n%s", r, d.text);
    r = parse("[optim]\nlr = 0.1\n    0.5\n", &d);
    CHECK(r == 3, "an indented value alone: %d", r);
    /* the handler stops: its line, nothing after */
    memset(&d, 0, sizeof d);
    d.stop_at = 3;
    const char *p = write_file("h.ini", "[s]\na = 1\nb = 2\nc = 3\n", 22);
    CHECK(fk_ini_parse(p, record, &d) == 3 && !strstr(d.text, "c|"), "handler stop");
    /* a NUL byte */
    p = write_file("nul.ini", "[s]\na = 1\0x\n", 12);
    CHECK(fk_ini_parse(p, record, &d) == 2, "NUL byte");
    HAS("nul.ini:2: a NUL byte");
}

static void test_refused(void)
{
    dump d;
    CHECK(fk_ini_parse("/dev/zero", record, &d) == -1, "/dev/zero read");
    HAS("/dev/zero: is a character device, not a regular file");
    CHECK(fk_ini_parse(dir, record, &d) == -1, "a directory read");
    HAS("is a directory");
    char fifo[700];
    snprintf(fifo, sizeof fifo, "%s/fifo.ini", dir);
    if (mkfifo(fifo, 0600) == 0) {
        CHECK(fk_ini_parse(fifo, record, &d) == -1, "a FIFO read");
        HAS("is a FIFO");
    }
    char path[700];
    snprintf(path, sizeof path, "%s/missing.ini", dir);
    CHECK(fk_ini_parse(path, record, &d) == -1, "missing file");
    HAS("missing.ini: cannot open");
    size_t n = FK_INI_MAX_BYTES + 1;
    char *big = malloc(n);
    memset(big, '\n', n);
    CHECK(fk_ini_parse(write_file("big.ini", big, n), record, &d) == -1, "over 1 MiB read");
    HAS("over 1048576 bytes (1 MiB) is refused");
    CHECK(fk_ini_parse(write_file("big.ini", big, n - 1), record, &d) == 0, "1 MiB exactly: %s",
          fk_last_error());
    free(big);
    /* the text as read for keeping */
    size_t len = 0;
    int ret = 0;
    char *text = fk_ini_read(write_file("k.ini", "[a]\nb = c\n", 10), &len, &ret);
    CHECK(text && len == 10 && !strcmp(text, "[a]\nb = c\n"), "fk_ini_read");
    free(text);
    CHECK(!fk_ini_read("/dev/zero", &len, &ret) && ret == -1, "fk_ini_read /dev/zero");
    HAS("not a regular file");
}

/* FK_INI_KEEP_GOING: the reader's errors reach the handler and the reading
 * goes on; the keys under a broken header are skipped; the return value
 * is the first error's line. */
static int keep_record(void *user, const char *section, const char *name, const char *value, int line)
{
    dump *d = user;
    d->n += (size_t)snprintf(d->text + d->n, sizeof d->text - d->n, "%s|%s|%.30s|%d\n", section ? section : "ERR",
                             name ? name : "-", value ? value : "-", line);
    return line != d->stop_at;
}

static void test_keep_going(void)
{
    const char *text = "[a]\nk = 1\nnot ini\nk = 2\n[b\nskipped = 1\n[c]\nj = 3\n";
    dump d;
    memset(&d, 0, sizeof d);
    d.stop_at = 8; /* the handler refuses j: the reading goes on all the same */
    int r = fk_ini_parse_text("t.ini", text, strlen(text), FK_INI_KEEP_GOING, keep_record, &d);
    const char *want = "a|k|1|2\nERR|-|t.ini:3: not an INI line (expe|3\nERR|-|t.ini:4: [a] k is given twice;|4\n"
                       "ERR|-|t.ini:5: a section header with|5\nc|j|3|8\n";
    CHECK(r == 3, "first error at line 3, got %d", r);
    CHECK(!strcmp(d.text, want), "calls:\n%s\nwant:\n%s", d.text, want);
    /* without the flag: the first error stops the reading */
    memset(&d, 0, sizeof d);
    r = fk_ini_parse_text("t.ini", text, strlen(text), 0, keep_record, &d);
    CHECK(r == 3 && !strcmp(d.text, "a|k|1|2\n"), "stops at line 3: %d\n%s", r, d.text);
}

int main(void)
{
    fk_test_mkdir("ini");
    snprintf(dir, sizeof dir, "%s", fk_test_dir());
    test_syntax();
    test_long_lines();
    test_errors();
    test_refused();
    test_keep_going();
    if (!fk_test_failures)
        fk_test_rmdir();
    return fk_test_result("ini");
}
