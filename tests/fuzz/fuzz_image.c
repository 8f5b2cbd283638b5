/* PNG and JPEG decoding to RGB (fk_image_decode_rgb): an image it accepts
 * has every one of its h * w * 3 bytes in the buffer. */
#include "fuzz.h"
#include "data/data_internal.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(0, "x.img");
    fuzz_put(path, data, size);
    uint8_t *buf = NULL;
    size_t cap = 0;
    int h = 0, w = 0;
    if (fk_image_decode_rgb(path, &buf, &cap, &h, &w) == FK_OK) {
        size_t n = (size_t)h * (size_t)w * 3;
        if (h <= 0 || w <= 0 || n > cap)
            abort();
        volatile uint8_t sink = buf[0] ^ buf[n - 1];
        (void)sink;
    }
    free(buf);
    return 0;
}
