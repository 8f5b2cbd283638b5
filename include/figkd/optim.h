/* SGD exactly as torch.optim.SGD (dampening 0): one launch updates every
 * parameter of a store. Weight decay applies to all parameters (as
 * mdistiller); the store's buffers (BN statistics) are not touched. */
#ifndef FIGKD_OPTIM_H
#define FIGKD_OPTIM_H

#include "figkd/runtime.h"

typedef struct fk_sgd {
    float lr, momentum, weight_decay;
    bool nesterov;
} fk_sgd;

/* p -= lr * step(grad + wd * p), with momentum buffer updated in place. */
fk_status fk_sgd_step(fk_runtime *rt, fk_param_store *ps, const fk_sgd *opt);

#endif
