/* MATLAB v5 MAT-files as Stanford Dogs' split lists are (src/data/matv5.c):
 * the input is the file; the two variables the reader asks for. */
#include "fuzz.h"
#include "data/layouts.h"
#include "figkd/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int q = fk_error_quiet(1);
    static const char *const names[] = {"file_list", "labels"};
    for (size_t k = 0; k < 2; k++) {
        fk_mat_var v = {0, NULL, NULL};
        if (fk_mat_parse("fuzz.mat", data, size, names[k], &v) == FK_OK)
            fk_mat_var_free(&v);
    }
    fk_error_quiet(q);
    return 0;
}
