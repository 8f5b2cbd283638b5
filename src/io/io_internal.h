/* Helpers shared by the file formats of src/io (not part of the API). */
#ifndef FIGKD_IO_INTERNAL_H
#define FIGKD_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* 1 on a little-endian host (the only byte order the formats are read in). */
int fk_io_host_is_le(void);

/* *out = elem times the product of the ndim dimensions; -1 when one is
 * negative or the product does not fit in size_t. */
int fk_io_shape_bytes(int ndim, const int64_t *shape, size_t elem, size_t *out);

#endif
