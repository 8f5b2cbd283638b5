/* TinyImageNet's wnids.txt and val/val_annotations.txt: the input up to the
 * first "\n--\n" is wnids.txt, the rest the annotations. The images listed
 * do not exist: a missing image is an error, not a finding (the image
 * target covers decoding). */
#include "fuzz.h"
#include "fuzz_data.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const uint8_t *find(const uint8_t *h, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(h + i, needle, k))
            return h + i;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *root = fuzz_dir();
    static int ready;
    if (!ready) {
        char p[600];
        snprintf(p, sizeof p, "%s/val/images", root);
        fk_mkdirs(p);
        ready = 1;
    }
    const uint8_t *sep = find(data, size, "\n--\n");
    size_t nw = sep ? (size_t)(sep - data) : size;
    fuzz_put(fuzz_path(0, "wnids.txt"), data, nw);
    const uint8_t *ann = sep ? sep + 4 : data + size;
    fuzz_put(fuzz_path(1, "val/val_annotations.txt"), ann, (size_t)(data + size - ann));
    fuzz_open_dataset("tinyimagenet", root, 0);
    return 0;
}
