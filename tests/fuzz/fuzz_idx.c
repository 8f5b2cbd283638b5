/* IDX files, gzip'd or plain (MNIST's t10k split). The first byte picks
 * which file the rest of the input is; the other is a fixed valid file of
 * two 2x2 images (or two labels). */
#include "fuzz.h"
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const uint8_t images[16 + 8] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                                           1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t labels[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 9};
    const char *root = fuzz_dir();
    const char *ipath = fuzz_path(0, "t10k-images-idx3-ubyte");
    const char *lpath = fuzz_path(1, "t10k-labels-idx1-ubyte");
    if (data[0] & 1) {
        fuzz_put(ipath, images, sizeof images);
        fuzz_put(lpath, data + 1, size - 1);
    } else {
        fuzz_put(ipath, data + 1, size - 1);
        fuzz_put(lpath, labels, sizeof labels);
    }
    fuzz_open_dataset("mnist", root, 0);
    return 0;
}
