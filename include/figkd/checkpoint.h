/* Checkpoints: a parameter store (PyTorch state_dict names) in a
 * safetensors file, optionally with the SGD momentum buffers as
 * "optimizer.momentum.<name>" and any metadata (epoch, step, config text).
 * PyTorch loads the weights with
 *   {k: v for k, v in sd.items() if not k.startswith("optimizer.")}
 * (and "method.", FK_CKPT_METHOD_PREFIX, when a method saved its own).
 * Written atomically (temp file, fsync, rename): a crash mid-write leaves
 * the previous file as it was. */
#ifndef FIGKD_CHECKPOINT_H
#define FIGKD_CHECKPOINT_H

#include "figkd/io.h"
#include "figkd/runtime.h"

#define FK_CKPT_MOMENTUM_PREFIX "optimizer.momentum."
/* A method's own parameters (FitNet's regressor: "method.conv_reg.conv.weight",
 * its momentum "optimizer.momentum.method.conv_reg.conv.weight"), saved beside
 * the model's by fk_checkpoint_save_stores. A load given no store that holds
 * them passes them over, as it does optimizer state it was not asked for:
 * the student's weights load alone (eval, predict, student_init); PyTorch
 * drops them with the optimizer entries,
 *   {k: v for k, v in sd.items() if not k.startswith(("optimizer.", "method."))}. */
#define FK_CKPT_METHOD_PREFIX "method."

/* Save params and buffers (num_batches_tracked as I64), and the momentum
 * buffers when with_momentum. Reads the device (waits for it). */
fk_status fk_checkpoint_save(fk_runtime *rt, const fk_param_store *ps, const char *path, bool with_momentum,
                             const char *const *meta_keys, const char *const *meta_values, size_t n_meta);

/* The same for several stores in one file (a student's and its method's
 * own parameters): their names must not overlap. */
fk_status fk_checkpoint_save_stores(fk_runtime *rt, const fk_param_store *const *stores, int nstores,
                                    const char *path, bool with_momentum, const char *const *meta_keys,
                                    const char *const *meta_values, size_t n_meta);

/* Load every parameter and buffer of ps from path, checking names, shapes
 * and dtypes (the first mismatch is reported by name). Momentum tensors are
 * loaded when with_momentum (they must be present) and ignored otherwise.
 * When meta is not NULL it receives the file (free with fk_st_free) so the
 * caller can read its metadata. */
fk_status fk_checkpoint_load(fk_runtime *rt, fk_param_store *ps, const char *path, bool with_momentum,
                             fk_st_file *meta);

/* fk_checkpoint_load of several stores from one file. */
fk_status fk_checkpoint_load_stores(fk_runtime *rt, fk_param_store *const *stores, int nstores, const char *path,
                                    bool with_momentum, fk_st_file *meta);

/* The same without momentum, leaving out the tensors whose names match one
 * of the comma-separated shell globs of exclude ("fc.*"): they keep the
 * values the store holds (its initialisation), may be absent from the file
 * or of another shape there; every other mismatch is an error. */
fk_status fk_checkpoint_load_except(fk_runtime *rt, fk_param_store *ps, const char *path, const char *exclude);
/* Whether name matches one of the comma-separated globs. */
bool fk_checkpoint_excluded(const char *name, const char *globs);

#endif
