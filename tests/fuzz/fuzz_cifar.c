/* CIFAR binary files: the first byte picks CIFAR-10 (test_batch.bin) or
 * CIFAR-100 (test.bin); the rest of the input is that file. */
#include "fuzz.h"
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int c100 = data[0] & 1;
    fuzz_put(fuzz_path(0, c100 ? "test.bin" : "test_batch.bin"), data + 1, size - 1);
    fuzz_open_dataset(c100 ? "cifar100" : "cifar10", fuzz_dir(), 0);
    return 0;
}
