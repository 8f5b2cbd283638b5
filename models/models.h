/* Builders of the model families (one file each) for the registry. */
#ifndef FIGKD_MODELS_H
#define FIGKD_MODELS_H

#include "figkd/model.h"

#include <stdio.h>

/* The graph's input (o's channels and size) after setting the family's
 * initialisers of convs and linears. Defined in blocks.c, as fk_conv_bn. */
int fk_model_input(fk_graph *g, const fk_model_opts *o, fk_conv_init conv, fk_linear_init linear);
/* A conv without bias (PyTorch's arguments), a BatchNorm, and a ReLU when
 * relu is not NULL, named prefix.conv, prefix.bn, prefix.relu (the names
 * alone when prefix is ""); returns the last layer. */
int fk_conv_bn(fk_graph *g, int x, int c_out, int k, int stride, int pad, int groups, const char *prefix,
               const char *conv, const char *bn, const char *relu);

/* A residual block (in_planes -> planes * its expansion) named p. */
typedef int (*fk_resnet_block)(fk_graph *g, int x, int in_planes, int planes, int stride, const char *p);
/* The four stages of an ImageNet-layout ResNet after a 64-channel stem:
 * blocks[s] blocks layer<s+1>.<i> of 64 << s planes, the first block of
 * stages 2-4 with stride 2; returns the last layer. */
int fk_resnet_stages(fk_graph *g, int x, const int blocks[4], int expansion, fk_resnet_block block);

/* The BasicBlock of mdistiller's resnet.py and torchvision's resnet.py (the
 * same module and names): conv1 bn1 relu conv2 bn2, downsample.0/.1 when the
 * stride or width changes, add, relu. Defined in resnet_cifar.c. */
int fk_resnet_basic_block(fk_graph *g, int x, int inplanes, int planes, int stride, const char *prefix);

fk_status fk_build_resnet_cifar(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o);
fk_status fk_build_resnet_v2(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o);
fk_status fk_build_resnet_imagenet(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o);
fk_status fk_build_wrn(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o);
fk_status fk_build_vgg(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o);
fk_status fk_build_mobilenetv2(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o);
fk_status fk_build_mobilenetv1(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o);
fk_status fk_build_shufflenetv1(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o);
fk_status fk_build_shufflenetv2(fk_graph *g, const fk_model_entry *e, const fk_model_opts *o);

#endif
