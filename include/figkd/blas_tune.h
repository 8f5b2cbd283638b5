/* CLBlast's GEMM parameters: its own tuner and the lookup of the values in
 * use, which CLBlast 1.5 has only in its C++ API (clblast.h), behind a C
 * interface (src/runtime/blas_tune.cc; without a C++ compiler,
 * src/runtime/blas_tune_none.c says "not in this build"), and the override
 * that its C API has (src/runtime/gemm.c). Single precision throughout. */
#ifndef FIGKD_BLAS_TUNE_H
#define FIGKD_BLAS_TUNE_H

#include <stddef.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FK_BLAS_MAX_PARAMS 24

/* One CLBlast kernel's parameters, names in ascending order. */
typedef struct fk_blas_params {
    char kernel[16];                     /* "Xgemm" or "XgemmDirect" */
    int count;
    char names[FK_BLAS_MAX_PARAMS][24];  /* e.g. MWG, NWG, KWG, VWM */
    size_t values[FK_BLAS_MAX_PARAMS];
    size_t m, n, k;                      /* the GEMM the tune command timed them on (0: none) */
    double ms, default_ms;               /* its time with these and with CLBlast's defaults (0: unknown) */
} fk_blas_params;

/* Whether this build has CLBlast's tuner (it was built with a C++ compiler). */
int fk_blas_tuner_available(void);
/* CLBlast's tuner (clblast::TuneXgemm or TuneXgemmDirect) for p->kernel on
 * the queue's device at m x n x k, timing the given fraction (0 to 1] of
 * its configurations; its best into p's names and values. Returns
 * CLBlast's status code (CLBlastSuccess, 0, when tuned). Xgemm needs m and
 * n multiples of 128 and k of 32. */
int fk_blas_tune(cl_command_queue queue, size_t m, size_t n, size_t k, double fraction, fk_blas_params *p);
/* The values CLBlast uses now for p->kernel on the device (its database,
 * or an override); CLBlast's status code. */
int fk_blas_retrieve(cl_device_id device, fk_blas_params *p);
/* Make CLBlast use p's values for p->kernel on the device from its next
 * call (CLBlastOverrideParameters); CLBlast's status code. */
int fk_blas_override(cl_device_id device, const fk_blas_params *p);

#ifdef __cplusplus
}
#endif

#endif
