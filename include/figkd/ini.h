/* figkd-cl: a small INI reader for run configs, with inih's callback shape
 * plus the line number.
 *
 * Syntax, as inih with Debian's build options: `[section]`, `name = value`
 * (or `name: value`), whitespace around names and values stripped, `;` and
 * `#` start a comment at the start of a line, `;` after whitespace starts an
 * inline comment, a UTF-8 BOM at the start is skipped. Unlike inih:
 * - lines of any length are read whole, so line numbers are always true;
 * - an indented line is an ordinary line (inih's multi-line continuation,
 *   which re-applied the previous key, is off);
 * - a name given twice in one section is an error naming both lines;
 * - parsing stops at the first error (unless FK_INI_KEEP_GOING);
 * - a file that is not a regular file (a directory, /dev/zero, a FIFO) or
 *   is over FK_INI_MAX_BYTES is refused before reading, as is a NUL byte. */
#ifndef FIGKD_INI_H
#define FIGKD_INI_H

#include <stddef.h>

#define FK_INI_MAX_BYTES ((size_t)1 << 20)

/* Called for each name = value in file order; return non-zero to go on, 0
 * to stop with an error at lineno (the handler keeps its own message). */
typedef int (*fk_ini_handler)(void *user, const char *section, const char *name,
                              const char *value, int lineno);

/* Parse a file. Returns 0, or the line of the first error (>0), or -1 when
 * the file cannot be read or is refused, -2 when out of memory. For errors
 * the reader finds itself (-1, -2, a malformed line, a name given twice),
 * fk_last_error() holds "FILE:LINE: why" (recorded, not printed); when the
 * handler stopped, the message is the handler's business. */
int fk_ini_parse(const char *filename, fk_ini_handler handler, void *user);

/* The text of a config file, refused as fk_ini_parse refuses it: a fresh
 * NUL-terminated allocation (free() it) of *len bytes, or NULL with *ret
 * -1 or -2 and the reason in fk_last_error(). For callers that keep the
 * text (a run saves its config) and parse it with fk_ini_parse_text. */
char *fk_ini_read(const char *filename, size_t *len, int *ret);

/* Flags of the two functions below. FK_INI_SECTION_CALLS: also call the
 * handler at each [section] header, with name and value NULL and the
 * header's line (as inih's INI_CALL_HANDLER_ON_NEW_SECTION), so that it can
 * check a section's name where it is written. */
/* FK_INI_KEEP_GOING: report every error, not only the first: the errors
 * the reader finds itself go to the handler (section and name NULL, value
 * "FILE:LINE: why") and, like a handler's 0, do not stop the reading; the
 * return value is still the first error's line. */
enum { FK_INI_SECTION_CALLS = 1, FK_INI_KEEP_GOING = 2 };
int fk_ini_parse_flags(const char *filename, int flags, fk_ini_handler handler, void *user);
/* Text in memory (len bytes, need not end in NUL); `name` is the file name
 * for messages. */
int fk_ini_parse_text(const char *name, const char *text, size_t len, int flags,
                      fk_ini_handler handler, void *user);

#endif
