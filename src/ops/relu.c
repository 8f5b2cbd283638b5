/* ReLU forward and backward (cl/relu.cl). */
#include "figkd/ops.h"

fk_status fk_relu_forward(fk_runtime *rt, fk_tensor out, fk_tensor in, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "relu", "", "relu_forward", &k));
    cl_ulong out_off = out.off, in_off = in.off, n = count;
    FK_ARG(k, 0, out.buf);
    FK_ARG(k, 1, out_off);
    FK_ARG(k, 2, in.buf);
    FK_ARG(k, 3, in_off);
    FK_ARG(k, 4, n);
    size_t global = fk_round_up(count, 64);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}

fk_status fk_relu_backward(fk_runtime *rt, fk_tensor din, fk_tensor dout, fk_tensor out, size_t count)
{
    cl_kernel k;
    FK_TRY(fk_kernel_get(rt, "relu", "", "relu_backward", &k));
    cl_ulong din_off = din.off, dout_off = dout.off, out_off = out.off, n = count;
    FK_ARG(k, 0, din.buf);
    FK_ARG(k, 1, din_off);
    FK_ARG(k, 2, dout.buf);
    FK_ARG(k, 3, dout_off);
    FK_ARG(k, 4, out.buf);
    FK_ARG(k, 5, out_off);
    FK_ARG(k, 6, n);
    size_t global = fk_round_up(count, 64);
    FK_LAUNCH(rt, k, 1, &global, NULL);
    return FK_OK;
}
