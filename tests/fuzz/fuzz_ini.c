/* The INI reader on any text (fk_ini_parse_text). */
#include "fuzz.h"
#include "figkd/common.h"
#include "figkd/ini.h"

#include <string.h>

static int handler(void *user, const char *section, const char *name, const char *value, int line)
{
    size_t *sum = user;
    if (!name || !value) /* a section header (FK_INI_SECTION_CALLS) */
        return !!strcmp(section, "stop");
    *sum += strlen(section) + strlen(name) + strlen(value) + (size_t)line;
    /* stop now and then, as a handler does on a bad value */
    return value[0] != '!';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fk_error_quiet(1);
    size_t sum = 0;
    /* the first byte picks the flags */
    if (size > 0)
        fk_ini_parse_text("fuzz.ini", (const char *)data + 1, size - 1, data[0] & 1, handler, &sum);
    return 0;
}
