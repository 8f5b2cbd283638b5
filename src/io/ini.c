/* INI reader (include/figkd/ini.h): the whole file in memory, one pass over
 * its lines, a hash set of (section, name) for names given twice. */
#include "figkd/ini.h"
#include "figkd/common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Record an error without printing it; returns ret. */
static int quiet_error(int ret, const char *fmt, ...) FK_PRINTF(2, 3);
static int quiet_error(int ret, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int q = fk_error_quiet(1);
    fk_error(ret == -2 ? FK_ERR_NOMEM : ret == -1 ? FK_ERR_IO : FK_ERR_ARG, "%s", msg);
    fk_error_quiet(q);
    return ret;
}

/* ---- (section, name) -> first line ---- */

typedef struct seen_entry {
    const char *section, *name;
    int line;
} seen_entry;

typedef struct seen_set {
    seen_entry *v;
    size_t cap, n;
} seen_set;

static uint64_t hash_pair(const char *a, const char *b)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 0x100000001b3ull;
    return h;
}

/* The entry for (section, name): the existing one, or a new one with line 0;
 * NULL when out of memory. */
static seen_entry *seen_find(seen_set *s, const char *section, const char *name)
{
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        seen_entry *v = calloc(cap, sizeof *v);
        if (!v)
            return NULL;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->v[i].name)
                continue;
            size_t j = (size_t)hash_pair(s->v[i].section, s->v[i].name) & (cap - 1);
            while (v[j].name)
                j = (j + 1) & (cap - 1);
            v[j] = s->v[i];
        }
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    size_t j = (size_t)hash_pair(section, name) & (s->cap - 1);
    while (s->v[j].name) {
        if (!strcmp(s->v[j].section, section) && !strcmp(s->v[j].name, name))
            return &s->v[j];
        j = (j + 1) & (s->cap - 1);
    }
    s->v[j].section = section;
    s->v[j].name = name;
    s->v[j].line = 0;
    s->n++;
    return &s->v[j];
}

/* ---- lines, as inih reads them ---- */

static char *rstrip(char *s)
{
    char *p = s + strlen(s);
    while (p > s && isspace((unsigned char)p[-1]))
        *--p = '\0';
    return s;
}

static char *lskip(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return s;
}

/* The first of chars (if chars) or a ';' after whitespace, or the end. */
static char *find_chars_or_comment(char *s, const char *chars)
{
    int was_space = 0;
    while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

/* An error in a line: recorded (the first one's line in *error); with
 * keep, the handler hears of it, section and name NULL and value the
 * message, and the reading goes on. */
static void line_error(int *error, bool keep, fk_ini_handler handler, void *user, int lineno, const char *fmt, ...)
    FK_PRINTF(6, 7);
static void line_error(int *error, bool keep, fk_ini_handler handler, void *user, int lineno, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!*error || !keep)
        quiet_error(lineno, "%s", msg);
    if (!*error)
        *error = lineno;
    if (keep)
        handler(user, NULL, NULL, msg, lineno);
}

int fk_ini_parse_text(const char *file, const char *text, size_t len, int flags,
                      fk_ini_handler handler, void *user)
{
    if (len > FK_INI_MAX_BYTES)
        return quiet_error(-1, "%s: %zu bytes; a config file over %zu bytes (1 MiB) is refused",
                           file, len, FK_INI_MAX_BYTES);
    char *buf = malloc(len + 1);
    if (!buf)
        return quiet_error(-2, "%s: out of memory reading the file", file);
    memcpy(buf, text, len);
    buf[len] = '\0';
    seen_set seen = {0};
    const char *section = "";
    int section_line = 0, error = 0, lineno = 0;
    bool keep = flags & FK_INI_KEEP_GOING, skip = false; /* skip: the keys under a broken header */
    char *next = buf, *end_of_text = buf + len;
    while ((keep || !error) && next < end_of_text) {
        char *line = next, *nl = memchr(line, '\n', (size_t)(end_of_text - line));
        lineno++;
        if (nl) {
            *nl = '\0';
            next = nl + 1;
        } else {
            next = end_of_text;
        }
        if (strlen(line) != (size_t)((nl ? nl : end_of_text) - line)) {
            line_error(&error, keep, handler, user, lineno, "%s:%d: a NUL byte; not a text file", file, lineno);
            break;
        }
        char *start = line;
        if (lineno == 1 && (unsigned char)start[0] == 0xEF && (unsigned char)start[1] == 0xBB &&
            (unsigned char)start[2] == 0xBF)
            start += 3;
        start = lskip(rstrip(start));
        if (*start == '\0' || *start == ';' || *start == '#')
            continue;
        if (*start == '[') {
            char *end = find_chars_or_comment(start + 1, "]");
            if (*end != ']') {
                line_error(&error, keep, handler, user, lineno, "%s:%d: a section header without ']'", file,
                           lineno);
                skip = true;
                continue;
            }
            *end = '\0';
            section = start + 1;
            section_line = lineno;
            skip = false;
            if ((flags & FK_INI_SECTION_CALLS) && !handler(user, section, NULL, NULL, lineno) && !error)
                error = lineno;
            continue;
        }
        char *end = find_chars_or_comment(start, "=:");
        if (*end != '=' && *end != ':') {
            line_error(&error, keep, handler, user, lineno,
                       "%s:%d: not an INI line (expected [section] or key = value)", file, lineno);
            continue;
        }
        if (skip)
            continue;
        *end = '\0';
        char *name = rstrip(start), *value = end + 1;
        end = find_chars_or_comment(value, NULL);
        *end = '\0';
        value = rstrip(lskip(value));
        seen_entry *e = seen_find(&seen, section, name);
        if (!e) {
            error = quiet_error(-2, "%s: out of memory reading the file", file);
            break;
        }
        if (e->line) {
            line_error(&error, keep, handler, user, lineno, "%s:%d: [%s] %s is given twice; first at %s:%d%s",
                       file, lineno, section, name, file, e->line,
                       section_line > e->line ? " (the section is given twice)" : "");
            continue;
        }
        e->line = lineno;
        if (!handler(user, section, name, value, lineno) && !error)
            error = lineno;
    }
    free(seen.v);
    free(buf);
    return error;
}

int fk_ini_parse(const char *filename, fk_ini_handler handler, void *user)
{
    return fk_ini_parse_flags(filename, 0, handler, user);
}

char *fk_ini_read(const char *filename, size_t *len_out, int *ret)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    int fd = open(filename, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *ret = quiet_error(-1, "%s: cannot open the config file: %s", filename, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        *ret = quiet_error(-1, "%s: cannot read the config file: %s", filename, strerror(e));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        const char *kind = S_ISDIR(st.st_mode) ? "a directory" : S_ISCHR(st.st_mode) ? "a character device"
                         : S_ISBLK(st.st_mode) ? "a block device" : S_ISFIFO(st.st_mode) ? "a FIFO"
                         : S_ISSOCK(st.st_mode) ? "a socket" : "not a file";
        *ret = quiet_error(-1, "%s: is %s, not a regular file; a config must be an INI file",
                           filename, kind);
        return NULL;
    }
    if ((uint64_t)st.st_size > FK_INI_MAX_BYTES) {
        close(fd);
        *ret = quiet_error(-1, "%s: %lld bytes; a config file over %zu bytes (1 MiB) is refused",
                           filename, (long long)st.st_size, FK_INI_MAX_BYTES);
        return NULL;
    }
    /* read up to one byte past the limit: a file that grew is refused too */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *text = malloc(cap + 1);
    *ret = 0;
    while (text) {
        if (len == cap) {
            if (cap > FK_INI_MAX_BYTES)
                break;
            size_t nc = cap * 2 > FK_INI_MAX_BYTES + 1 ? FK_INI_MAX_BYTES + 1 : cap * 2;
            char *t = realloc(text, nc + 1);
            if (!t) {
                free(text);
                text = NULL;
                break;
            }
            text = t;
            cap = nc;
        }
        ssize_t r = read(fd, text + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *ret = quiet_error(-1, "%s: cannot read the config file: %s", filename, strerror(errno));
            free(text);
            text = NULL;
            break;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (!text) {
        if (!*ret)
            *ret = quiet_error(-2, "%s: out of memory reading the file", filename);
        return NULL;
    }
    if (len > FK_INI_MAX_BYTES) {
        free(text);
        *ret = quiet_error(-1, "%s: over %zu bytes (1 MiB); a config file that large is refused",
                           filename, FK_INI_MAX_BYTES);
        return NULL;
    }
    text[len] = '\0';
    *len_out = len;
    return text;
}

int fk_ini_parse_flags(const char *filename, int flags, fk_ini_handler handler, void *user)
{
    size_t len = 0;
    int ret;
    char *text = fk_ini_read(filename, &len, &ret);
    if (!text)
        return ret;
    ret = fk_ini_parse_text(filename, text, len, flags, handler, user);
    free(text);
    return ret;
}
