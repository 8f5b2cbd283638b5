/* OpenCL and CLBlast error names. */
#include "figkd/device.h"

#include <clblast_c.h>
#include <stdio.h>

const char *fk_cl_errname(cl_int err)
{
    switch (err) {
#define N(x) case x: return #x;
    N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE)
    N(CL_COMPILER_NOT_AVAILABLE) N(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    N(CL_OUT_OF_RESOURCES) N(CL_OUT_OF_HOST_MEMORY) N(CL_PROFILING_INFO_NOT_AVAILABLE)
    N(CL_MEM_COPY_OVERLAP) N(CL_IMAGE_FORMAT_MISMATCH) N(CL_IMAGE_FORMAT_NOT_SUPPORTED)
    N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE) N(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    N(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) N(CL_COMPILE_PROGRAM_FAILURE)
    N(CL_LINKER_NOT_AVAILABLE) N(CL_LINK_PROGRAM_FAILURE) N(CL_DEVICE_PARTITION_FAILED)
    N(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    N(CL_INVALID_VALUE) N(CL_INVALID_DEVICE_TYPE) N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE)
    N(CL_INVALID_CONTEXT) N(CL_INVALID_QUEUE_PROPERTIES) N(CL_INVALID_COMMAND_QUEUE)
    N(CL_INVALID_HOST_PTR) N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)
    N(CL_INVALID_IMAGE_SIZE) N(CL_INVALID_SAMPLER) N(CL_INVALID_BINARY)
    N(CL_INVALID_BUILD_OPTIONS) N(CL_INVALID_PROGRAM) N(CL_INVALID_PROGRAM_EXECUTABLE)
    N(CL_INVALID_KERNEL_NAME) N(CL_INVALID_KERNEL_DEFINITION) N(CL_INVALID_KERNEL)
    N(CL_INVALID_ARG_INDEX) N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE)
    N(CL_INVALID_KERNEL_ARGS) N(CL_INVALID_WORK_DIMENSION) N(CL_INVALID_WORK_GROUP_SIZE)
    N(CL_INVALID_WORK_ITEM_SIZE) N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST)
    N(CL_INVALID_EVENT) N(CL_INVALID_OPERATION) N(CL_INVALID_GL_OBJECT)
    N(CL_INVALID_BUFFER_SIZE) N(CL_INVALID_MIP_LEVEL) N(CL_INVALID_GLOBAL_WORK_SIZE)
    N(CL_INVALID_PROPERTY) N(CL_INVALID_IMAGE_DESCRIPTOR) N(CL_INVALID_COMPILER_OPTIONS)
    N(CL_INVALID_LINKER_OPTIONS) N(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef N
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    static _Thread_local char buf[48];
    snprintf(buf, sizeof buf, "CL_UNKNOWN_ERROR(%d)", (int)err);
    return buf;
}

const char *fk_blas_errname(int status)
{
    switch ((CLBlastStatusCode)status) {
#define N(x) case x: return #x;
    N(CLBlastSuccess) N(CLBlastOpenCLCompilerNotAvailable) N(CLBlastTempBufferAllocFailure)
    N(CLBlastOpenCLOutOfResources) N(CLBlastOpenCLOutOfHostMemory)
    N(CLBlastOpenCLBuildProgramFailure) N(CLBlastInvalidValue) N(CLBlastInvalidCommandQueue)
    N(CLBlastInvalidMemObject) N(CLBlastInvalidBinary) N(CLBlastInvalidBuildOptions)
    N(CLBlastInvalidProgram) N(CLBlastInvalidProgramExecutable) N(CLBlastInvalidKernelName)
    N(CLBlastInvalidKernelDefinition) N(CLBlastInvalidKernel) N(CLBlastInvalidArgIndex)
    N(CLBlastInvalidArgValue) N(CLBlastInvalidArgSize) N(CLBlastInvalidKernelArgs)
    N(CLBlastInvalidLocalNumDimensions) N(CLBlastInvalidLocalThreadsTotal)
    N(CLBlastInvalidLocalThreadsDim) N(CLBlastInvalidGlobalOffset) N(CLBlastInvalidEventWaitList)
    N(CLBlastInvalidEvent) N(CLBlastInvalidOperation) N(CLBlastInvalidBufferSize)
    N(CLBlastInvalidGlobalWorkSize) N(CLBlastNotImplemented) N(CLBlastInvalidMatrixA)
    N(CLBlastInvalidMatrixB) N(CLBlastInvalidMatrixC) N(CLBlastInvalidVectorX)
    N(CLBlastInvalidVectorY) N(CLBlastInvalidDimension) N(CLBlastInvalidLeadDimA)
    N(CLBlastInvalidLeadDimB) N(CLBlastInvalidLeadDimC) N(CLBlastInvalidIncrementX)
    N(CLBlastInvalidIncrementY) N(CLBlastInsufficientMemoryA) N(CLBlastInsufficientMemoryB)
    N(CLBlastInsufficientMemoryC) N(CLBlastInsufficientMemoryX) N(CLBlastInsufficientMemoryY)
    N(CLBlastInsufficientMemoryTemp) N(CLBlastInvalidBatchCount) N(CLBlastInvalidOverrideKernel)
    N(CLBlastMissingOverrideParameter) N(CLBlastInvalidLocalMemUsage) N(CLBlastNoHalfPrecision)
    N(CLBlastNoDoublePrecision) N(CLBlastInvalidVectorScalar) N(CLBlastInsufficientMemoryScalar)
    N(CLBlastDatabaseError) N(CLBlastUnknownError) N(CLBlastUnexpectedError)
#undef N
    }
    static _Thread_local char buf[48];
    snprintf(buf, sizeof buf, "CLBlastUnknownStatus(%d)", status);
    return buf;
}

fk_status fk_cl_fail(cl_int err, const char *call, const char *file, int line)
{
    const char *hint = "";
    if (err == CL_OUT_OF_RESOURCES || err == CL_MEM_OBJECT_ALLOCATION_FAILURE)
        hint = " (the device ran out of memory or resources: try a smaller batch_size)";
    else if (err == CL_INVALID_WORK_GROUP_SIZE)
        hint = " (work-group size not supported by this device)";
    return fk_error(FK_ERR_CL, "%s failed with %s at %s:%d%s", call, fk_cl_errname(err), file, line, hint);
}
