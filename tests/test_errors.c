/* Error naming: OpenCL and CLBlast codes by name, status names, checks. */
#include "common.h"

#include <clblast_c.h>
#include <string.h>

static fk_status failing_call(void)
{
    FK_CL_CHECK(CL_OUT_OF_RESOURCES);
    return FK_OK;
}

int main(void)
{
    fk_error_quiet(1);
    CHECK(!strcmp(fk_cl_errname(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES"), "-5");
    CHECK(!strcmp(fk_cl_errname(CL_INVALID_KERNEL_ARGS), "CL_INVALID_KERNEL_ARGS"), "-52");
    CHECK(!strcmp(fk_cl_errname(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE"), "-11");
    CHECK(!strcmp(fk_cl_errname(-9999), "CL_UNKNOWN_ERROR(-9999)"), "unknown: %s", fk_cl_errname(-9999));
    CHECK(!strcmp(fk_blas_errname(CLBlastInvalidLeadDimA), "CLBlastInvalidLeadDimA"), "lda");
    CHECK(!strcmp(fk_blas_errname(CLBlastInsufficientMemoryC), "CLBlastInsufficientMemoryC"), "memC");
    CHECK(!strcmp(fk_blas_errname(-7777), "CLBlastUnknownStatus(-7777)"), "unknown blas");
    CHECK(!strcmp(fk_status_name(FK_ERR_FORMAT), "FK_ERR_FORMAT"), "status name");

    CHECK(failing_call() == FK_ERR_CL, "FK_CL_CHECK returns FK_ERR_CL");
    const char *msg = fk_last_error();
    CHECK(strstr(msg, "CL_OUT_OF_RESOURCES") && strstr(msg, "test_errors.c:") &&
              strstr(msg, "batch_size"),
          "message names error, file:line and a remedy: %s", msg);

    long v;
    double d;
    CHECK(fk_parse_long("42", &v) == 0 && v == 42, "parse 42");
    CHECK(fk_parse_long("42x", &v) != 0, "reject 42x");
    CHECK(fk_parse_long("", &v) != 0, "reject empty");
    CHECK(fk_parse_double("0.05", &d) == 0 && d == 0.05, "parse 0.05");
    CHECK(fk_parse_double("1e400", &d) != 0, "reject overflow");
    CHECK(fk_parse_double("abc", &d) != 0, "reject abc");
    return fk_test_result("test_errors");
}
