/* A build without a C++ compiler: no CLBlast tuner (include/figkd/blas_tune.h). */
#include "figkd/blas_tune.h"

#include <clblast_c.h>

int fk_blas_tuner_available(void)
{
    return 0;
}

int fk_blas_tune(cl_command_queue queue, size_t m, size_t n, size_t k, double fraction, fk_blas_params *p)
{
    (void)queue, (void)m, (void)n, (void)k, (void)fraction, (void)p;
    return CLBlastNotImplemented;
}

int fk_blas_retrieve(cl_device_id device, fk_blas_params *p)
{
    (void)device, (void)p;
    return CLBlastNotImplemented;
}
