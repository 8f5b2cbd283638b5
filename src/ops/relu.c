/* ReLU forward and backward (cl/relu.cl). */
#include "figkd/ops.h"

fk_status fk_relu_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_RELU_FORWARD, &k));
    FK_RUN_1D(rt, k, count, FK_T(out), FK_T(in), FK_A(count));
    return FK_OK;
}

fk_status fk_relu_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, fk_tensor out, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel(rt, FK_K_RELU_BACKWARD, &k));
    FK_RUN_1D(rt, k, count, FK_T(din), FK_T(dout), FK_T(out), FK_A(count));
    return FK_OK;
}
