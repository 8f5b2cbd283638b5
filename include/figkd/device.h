/* figkd-cl OpenCL basics below the runtime: checked OpenCL calls and the
 * device list with the FIGKD_DEVICE selection rules. Nothing here knows
 * the runtime (include/figkd/runtime.h builds on it). */
#ifndef FIGKD_DEVICE_H
#define FIGKD_DEVICE_H

#include "figkd/common.h"

#include <CL/cl.h>
#include <stdbool.h>

/* ---- errors --------------------------------------------------------- */

/* "CL_OUT_OF_RESOURCES" for -5, "CL_UNKNOWN_ERROR(-1234)" style otherwise
 * (the unknown form uses a static buffer per thread). */
const char *fk_cl_errname(cl_int err);
/* CLBlast status name, e.g. "CLBlastInvalidMatrixA". */
const char *fk_blas_errname(int status);
fk_status fk_cl_fail(cl_int err, const char *call, const char *file, int line);

/* Check an OpenCL call inside a function returning fk_status. */
#define FK_CL_CHECK(expr)                                                      \
    do {                                                                       \
        cl_int fk_err_ = (expr);                                               \
        if (fk_err_ != CL_SUCCESS)                                             \
            return fk_cl_fail(fk_err_, #expr, __FILE__, __LINE__);             \
    } while (0)

/* Propagate a failed fk_status. */
#define FK_TRY(expr)                                                           \
    do {                                                                       \
        fk_status fk_st_ = (expr);                                             \
        if (fk_st_ != FK_OK)                                                   \
            return fk_st_;                                                     \
    } while (0)

/* ---- devices -------------------------------------------------------- */

typedef struct fk_device_info {
    int platform_index, device_index; /* within the platform */
    char platform[256];
    char name[256];
    char version[128];        /* CL_DEVICE_VERSION */
    char driver[128];         /* CL_DRIVER_VERSION */
    char c_version[128];      /* CL_DEVICE_OPENCL_C_VERSION */
    bool is_gpu, is_cpu;
    bool images;              /* CL_DEVICE_IMAGE_SUPPORT */
    unsigned compute_units;
    uint64_t global_mem, max_alloc;
    size_t max_work_group;
    cl_platform_id platform_id;
    cl_device_id device_id;
} fk_device_info;

/* Every device of every platform, in platform then device order. */
fk_status fk_device_list(fk_device_info **out, int *count);

/* Pick a device by the FIGKD_DEVICE rules (spec NULL or "" = default: the
 * first GPU, else the first CPU, else the first device). Pure host logic
 * over the list; on no match returns FK_ERR_DEVICE with a message that
 * lists every platform:device with its index and name. */
fk_status fk_device_select(const fk_device_info *list, int count, const char *spec, int *index);

#endif
