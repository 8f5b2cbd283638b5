/* Fuzz targets: each file defines LLVMFuzzerTestOneInput. Built with
 * clang -fsanitize=fuzzer by run.sh, or with driver.c (a main() that replays
 * files and folders named on the command line) in the normal build, where
 * the tests replay tests/fuzz/corpus/<target>/. */
#ifndef FIGKD_FUZZ_H
#define FIGKD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A folder of this process for the files a target writes (created on first
 * use, removed at exit). */
const char *fuzz_dir(void);
/* fuzz_dir()/name, in a static buffer of the caller's slot (0..3). */
const char *fuzz_path(int slot, const char *name);
/* Write size bytes to path (exits on failure: not a finding). */
void fuzz_put(const char *path, const void *data, size_t size);

#endif
