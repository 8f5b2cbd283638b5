/* Checks before any work, for train, eval, predict, bench and data: each
 * finds what it can without a device and without writing anything, reports
 * every error it finds (fk_error: "FILE: [section] key ...: why") and adds
 * their number to *errors, so that one run of a command lists every
 * mistake at once (src/train/check.c). */
#ifndef FIGKD_CHECK_H
#define FIGKD_CHECK_H

#include "figkd/config.h"
#include "figkd/data.h"

#include <stdbool.h>

/* Open the splits asked for (train and/or test not NULL; each one opened
 * is the caller's to free, NULL when it failed), in seconds[0] and [1]
 * seconds when seconds is not NULL: a missing path, an unrecognised
 * layout, or splits with different class counts are errors at [data] (one
 * message when both splits fail alike). Nothing is opened when cfg's
 * [data] did not load. */
void fk_check_data(const fk_config *cfg, fk_dataset **train, fk_dataset **test, double *seconds, int *errors);

/* A folder that will be written (created when missing): it, or the
 * nearest folder above it that exists, must be a folder we can write in.
 * `what` names it in messages ("[run] out_dir"). */
void fk_check_dir(const fk_config *cfg, const char *what, const char *dir, int *errors);
/* A file that will be written: not a folder, in a folder that can be
 * written; messages start "what path: " (what: "--out"). */
void fk_check_output(const char *what, const char *path, int *errors);

/* Weights that will be read (eval, predict): the file's header reads, the
 * model (--model, else the file's figkd.model, else [student] model) is
 * in the zoo, and a class count it records matches `classes` (0: unknown). */
/* The weights eval reads when not told: out_dir/best.safetensors, else
 * out_dir/last.safetensors. */
void fk_check_default_weights(const fk_config *cfg, char *path, size_t n);
void fk_check_weights(const fk_config *cfg, const char *path, const char *model, int classes, int *errors);

/* Everything `train` can check before work: cfg's own errors, the data
 * (both splits, kept open for the run in *train and *test), the out_dir
 * (writable, and what it holds against resume/force), the teacher
 * checkpoint (readable and made for this model, class count, input size
 * and data set; or, when missing, a folder it can be saved in) and
 * [student] init. Returns the number of errors (cfg->errors included). */
int fk_check_train(const fk_config *cfg, bool resume, bool force, fk_dataset **train, fk_dataset **test);

#endif
