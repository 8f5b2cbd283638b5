/* The model zoo by name (mdistiller/RepDistiller names). */
#include "models.h"

#define MDI "megvii-research/mdistiller mdistiller/models/cifar/"

static const fk_model_entry registry[] = {
    {"resnet8", "resnet_cifar", MDI "resnet.py", 32, 8, 1, fk_build_resnet_cifar},
    {"resnet14", "resnet_cifar", MDI "resnet.py", 32, 14, 1, fk_build_resnet_cifar},
    {"resnet20", "resnet_cifar", MDI "resnet.py", 32, 20, 1, fk_build_resnet_cifar},
    {"resnet32", "resnet_cifar", MDI "resnet.py", 32, 32, 1, fk_build_resnet_cifar},
    {"resnet44", "resnet_cifar", MDI "resnet.py", 32, 44, 1, fk_build_resnet_cifar},
    {"resnet56", "resnet_cifar", MDI "resnet.py", 32, 56, 1, fk_build_resnet_cifar},
    {"resnet110", "resnet_cifar", MDI "resnet.py", 32, 110, 1, fk_build_resnet_cifar},
    {"resnet8x4", "resnet_cifar", MDI "resnet.py", 32, 8, 4, fk_build_resnet_cifar},
    {"resnet32x4", "resnet_cifar", MDI "resnet.py", 32, 32, 4, fk_build_resnet_cifar},
    {"wrn_16_1", "wrn", MDI "wrn.py", 32, 16, 1, fk_build_wrn},
    {"wrn_16_2", "wrn", MDI "wrn.py", 32, 16, 2, fk_build_wrn},
    {"wrn_40_1", "wrn", MDI "wrn.py", 32, 40, 1, fk_build_wrn},
    {"wrn_40_2", "wrn", MDI "wrn.py", 32, 40, 2, fk_build_wrn},
    {"vgg8", "vgg", MDI "vgg.py (vgg8_bn)", 32, 8, 0, fk_build_vgg},
    {"vgg11", "vgg", MDI "vgg.py (vgg11_bn)", 32, 11, 0, fk_build_vgg},
    {"vgg13", "vgg", MDI "vgg.py (vgg13_bn)", 32, 13, 0, fk_build_vgg},
    {"vgg16", "vgg", MDI "vgg.py (vgg16_bn)", 32, 16, 0, fk_build_vgg},
    {"vgg19", "vgg", MDI "vgg.py (vgg19_bn)", 32, 19, 0, fk_build_vgg},
    {"ResNet50", "resnet_cifar", MDI "resnetv2.py", 32, 50, 0, fk_build_resnet_v2},
    {"MobileNetV2", "mobilenetv2", MDI "mobilenetv2.py (mobile_half)", 32, 6, 50, fk_build_mobilenetv2},
    {"ShuffleV1", "shufflenet", MDI "ShuffleNetv1.py", 32, 0, 0, fk_build_shufflenetv1},
    {"ShuffleV2", "shufflenet", MDI "ShuffleNetv2.py", 32, 0, 0, fk_build_shufflenetv2},
    {"ResNet18", "resnet_imagenet", "torchvision/models/resnet.py (resnet18)", 224, 18, 0,
     fk_build_resnet_imagenet},
    {"ResNet34", "resnet_imagenet", "torchvision/models/resnet.py (resnet34)", 224, 34, 0,
     fk_build_resnet_imagenet},
    {"MobileNetV1", "mobilenetv1", "marvis/pytorch-mobilenet layout (model.N.M)", 224, 0, 0,
     fk_build_mobilenetv1},
};

const fk_model_entry *fk_model_registry(int *count)
{
    *count = (int)(sizeof registry / sizeof registry[0]);
    return registry;
}
