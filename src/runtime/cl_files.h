/* The kernel files embedded at build time (tools/embed_cl.py). */
#ifndef FIGKD_CL_FILES_H
#define FIGKD_CL_FILES_H
#include <stddef.h>

typedef struct fk_cl_file {
    const char *name;            /* "conv" for cl/conv.cl */
    const unsigned char *source; /* NUL-terminated */
    size_t size;                 /* without the NUL */
} fk_cl_file;

extern const fk_cl_file fk_cl_files[]; /* ends with a NULL name */
#endif
