/* The model zoo by name (mdistiller/RepDistiller names). */
#include "models.h"

#include <string.h>

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

const fk_model_entry *fk_model_find(const char *name)
{
    int count;
    const fk_model_entry *list = fk_model_registry(&count);
    for (int i = 0; i < count; i++)
        if (!strcmp(list[i].name, name))
            return &list[i];
    return NULL;
}

fk_status fk_model_build(const char *name, const fk_model_opts *opts, fk_model **out)
{
    *out = NULL;
    const fk_model_entry *e = fk_model_find(name);
    if (!e) {
        int count;
        const fk_model_entry *list = fk_model_registry(&count);
        char names[1024] = "";
        for (int i = 0; i < count; i++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", list[i].name);
        }
        return fk_error(FK_ERR_ARG, "unknown model '%s'; models: %s", name, names);
    }
    fk_model_opts o = *opts;
    if (o.input_size == 0)
        o.input_size = e->native_input;
    if (o.in_channels == 0)
        o.in_channels = 3;
    if (o.num_classes <= 0 || o.input_size <= 0 || o.in_channels <= 0)
        return fk_error(FK_ERR_ARG, "model %s: bad classes %d, input size %d or channels %d", name,
                        o.num_classes, o.input_size, o.in_channels);
    fk_model *m = fk_calloc(1, sizeof *m);
    if (!m)
        return FK_ERR_NOMEM;
    m->entry = e;
    m->opts = o;
    fk_graph_init(&m->graph);
    fk_status st = e->build(&m->graph, e, &o);
    if (st == FK_OK)
        st = m->graph.status;
    if (st == FK_OK)
        st = fk_graph_finish(&m->graph);
    if (st != FK_OK) {
        fk_model_free(m);
        return st;
    }
    *out = m;
    return FK_OK;
}
