/* Python pickles as torchvision's CIFAR files are (src/data/pickle.c): the
 * input is the file; parsed, then walked as the CIFAR reader walks it. */
#include "fuzz.h"
#include "data/layouts.h"
#include "figkd/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int q = fk_error_quiet(1);
    fk_pickle *p = NULL;
    if (fk_pickle_parse("fuzz.pkl", data, size, &p) == FK_OK && p) {
        static const char *const keys[] = {"data", "labels", "fine_labels", "coarse_labels", "filenames"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            int32_t v = fk_pickle_dict_get(p, p->root, keys[k]);
            long n = fk_pickle_len(p, v);
            int64_t x;
            for (long i = 0; i < n && i < 64; i++)
                fk_pickle_int_at(p, v, i, &x);
        }
        fk_pickle_free(p);
    }
    fk_error_quiet(q);
    return 0;
}
