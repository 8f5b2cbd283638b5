/* Open a data set of a fuzz target and check what the reader accepted. */
#ifndef FIGKD_FUZZ_DATA_H
#define FIGKD_FUZZ_DATA_H

#include "figkd/data.h"

#include <stdint.h>
#include <stdlib.h>

/* Open split `train` of dataset in root (cache off); on success every label
 * is a class and every sample can be fetched. */
static inline void fuzz_open_dataset(const char *dataset, const char *root, int train)
{
    fk_data_config c;
    fk_data_config_default(&c);
    if (fk_data_config_set(&c, "dataset", dataset) || fk_data_config_set(&c, "root", root) ||
        fk_data_config_set(&c, "workers", "1") || fk_data_config_set(&c, "cache", "false") ||
        fk_data_config_finish(&c))
        abort();
    fk_dataset *ds = NULL;
    if (fk_dataset_open(&c, train, &ds) == FK_OK) {
        uint8_t *scratch = NULL;
        size_t ss = 0;
        long n = fk_dataset_count(ds);
        for (long i = 0; i < n; i++) {
            int y = fk_dataset_label(ds, i);
            if (y < 0 || y >= fk_dataset_classes(ds))
                abort();
            fk_image im;
            if (fk_dataset_get(ds, i, &im, &scratch, &ss) == FK_OK) {
                volatile uint8_t sink = 0;
                size_t px = (size_t)im.h * (size_t)im.w * (size_t)im.c;
                for (size_t k = 0; k < px; k += 97)
                    sink ^= im.pixels[k];
                if (px)
                    sink ^= im.pixels[px - 1];
                (void)sink;
            }
        }
        free(scratch);
    }
    fk_dataset_free(ds);
}

#endif
