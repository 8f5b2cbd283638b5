"""PyTorch definitions of figkd-cl's model zoo, written from the originals:

- mdistiller (github.com/megvii-research/mdistiller) mdistiller/models/cifar/
  resnet.py, resnetv2.py (ResNet50), wrn.py, vgg.py (the *_bn variants),
  mobilenetv2.py (mobile_half), ShuffleNetv1.py, ShuffleNetv2.py;
- torchvision/models/resnet.py (ResNet18, ResNet34; Debian 12 has no
  torchvision package);
- the common PyTorch MobileNetV1 port (model.N.M names, marvis/pytorch-mobilenet).

Module names and registration order are the originals' (so state_dict names
and order match); forward passes return logits only, and the CIFAR ResNets,
WRNs and VGGs keep mdistiller's features of the last forward in
`self.feats` (feats["feats"]: stage outputs) and `self.pooled`
(feats["pooled_feat"]). Final fixed-size pools
are global average pools (the same at the native input size), as in
figkd-cl. VGG applies pool3 for inputs of 64 and more (the original: h == 64).
Initialisation is whatever the fixture script sets; here PyTorch defaults.
"""

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F


def gap(x):
    return x.mean(dim=(2, 3))


# ---- mdistiller resnet.py ---------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        res = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + res)


class ResNetCifar(nn.Module):
    def __init__(self, depth, f, num_classes):
        super().__init__()
        n = (depth - 2) // 6
        self.inplanes = f[0]
        self.conv1 = nn.Conv2d(3, f[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(f[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(f[1], n)
        self.layer2 = self._make_layer(f[2], n, 2)
        self.layer3 = self._make_layer(f[3], n, 2)
        self.fc = nn.Linear(f[3], num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        down = None
        if stride != 1 or self.inplanes != planes:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                 nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, down)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        f0 = self.relu(self.bn1(self.conv1(x)))
        f1 = self.layer1(f0)
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        self.feats, self.pooled = [f0, f1, f2, f3], gap(f3)
        return self.fc(self.pooled)


# ---- mdistiller resnetv2.py (ResNet50) --------------------------------------

class Bottleneck(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != 4 * planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, 4 * planes, 1, stride, bias=False),
                                          nn.BatchNorm2d(4 * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class ResNet50(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(64, 3, 1)
        self.layer2 = self._make_layer(128, 4, 2)
        self.layer3 = self._make_layer(256, 6, 2)
        self.layer4 = self._make_layer(512, 3, 2)
        self.linear = nn.Linear(2048, num_classes)

    def _make_layer(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(Bottleneck(self.in_planes, planes, s))
            self.in_planes = 4 * planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(gap(out))


# ---- torchvision resnet.py (ResNet18/34) ------------------------------------

class ResNetImageNet(nn.Module):
    def __init__(self, blocks, num_classes):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, blocks[0])
        self.layer2 = self._make_layer(128, blocks[1], 2)
        self.layer3 = self._make_layer(256, blocks[2], 2)
        self.layer4 = self._make_layer(512, blocks[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    _make_layer = ResNetCifar._make_layer

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---- mdistiller wrn.py --------------------------------------------------------

class WrnBlock(nn.Module):
    def __init__(self, in_planes, out_planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, 1, 1, bias=False)
        self.equalInOut = in_planes == out_planes
        self.convShortcut = None if self.equalInOut else nn.Conv2d(
            in_planes, out_planes, 1, stride, 0, bias=False)

    def forward(self, x):
        if not self.equalInOut:
            x = self.relu1(self.bn1(x))
            out = x
        else:
            out = self.relu1(self.bn1(x))
        out = self.relu2(self.bn2(self.conv1(out)))
        out = self.conv2(out)
        return torch.add(x if self.equalInOut else self.convShortcut(x), out)


class NetworkBlock(nn.Module):
    def __init__(self, n, in_planes, out_planes, stride):
        super().__init__()
        self.layer = nn.Sequential(*[WrnBlock(in_planes if i == 0 else out_planes, out_planes,
                                              stride if i == 0 else 1) for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, depth, k, num_classes):
        super().__init__()
        ch = [16, 16 * k, 32 * k, 64 * k]
        n = (depth - 4) // 6
        self.conv1 = nn.Conv2d(3, ch[0], 3, 1, 1, bias=False)
        self.block1 = NetworkBlock(n, ch[0], ch[1], 1)
        self.block2 = NetworkBlock(n, ch[1], ch[2], 2)
        self.block3 = NetworkBlock(n, ch[2], ch[3], 2)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(ch[3], num_classes)

    def forward(self, x):
        f0 = self.conv1(x)
        f1 = self.block1(f0)
        f2 = self.block2(f1)
        f3 = self.block3(f2)
        self.feats, self.pooled = [f0, f1, f2, f3], gap(self.relu(self.bn1(f3)))
        return self.fc(self.pooled)


# ---- mdistiller vgg.py (batch_norm=True) ---------------------------------------

VGG_CFG = {
    8: [[64], [128], [256], [512], [512]],
    11: [[64], [128], [256, 256], [512, 512], [512, 512]],
    13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    19: [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4],
}


class VGG(nn.Module):
    def __init__(self, depth, num_classes):
        super().__init__()
        cfg = VGG_CFG[depth]
        ins = [3] + [c[-1] for c in cfg[:-1]]
        for i in range(5):
            setattr(self, "block%d" % i, self._make_layers(cfg[i], ins[i]))
        self.pool0 = nn.MaxPool2d(2, 2)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.pool3 = nn.MaxPool2d(2, 2)
        self.pool4 = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(512, num_classes)

    @staticmethod
    def _make_layers(cfg, c):
        layers = []
        for v in cfg:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            c = v
        return nn.Sequential(*layers[:-1])

    def forward(self, x):
        h = x.shape[2]
        f0 = F.relu(self.block0(x))
        f1 = F.relu(self.block1(self.pool0(f0)))
        f2 = F.relu(self.block2(self.pool1(f1)))
        f3 = F.relu(self.block3(self.pool2(f2)))
        f4 = F.relu(self.block4(self.pool3(f3) if h >= 64 else f3))
        self.feats, self.pooled = [f0, f1, f2, f3, f4], self.pool4(f4).reshape(x.size(0), -1)
        return self.classifier(self.pooled)


# ---- mdistiller mobilenetv2.py (mobile_half) -----------------------------------

class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, t):
        super().__init__()
        self.use_res_connect = stride == 1 and inp == oup
        h = inp * t
        self.conv = nn.Sequential(
            nn.Conv2d(inp, h, 1, 1, 0, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True),
            nn.Conv2d(h, h, 3, stride, 1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU(inplace=True),
            nn.Conv2d(h, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup))

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes, T=6, width=0.5):
        super().__init__()
        setting = [[1, 16, 1, 1], [T, 24, 2, 1], [T, 32, 3, 2], [T, 64, 4, 2], [T, 96, 3, 1],
                   [T, 160, 3, 2], [T, 320, 1, 1]]
        c = int(32 * width)
        self.conv1 = nn.Sequential(nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList([])
        for t, ch, n, s in setting:
            oc = int(ch * width)
            layers = []
            for stride in [s] + [1] * (n - 1):
                layers.append(InvertedResidual(c, oc, stride, t))
                c = oc
            self.blocks.append(nn.Sequential(*layers))
        last = int(1280 * width) if width > 1.0 else 1280
        self.conv2 = nn.Sequential(nn.Conv2d(c, last, 1, 1, 0, bias=False), nn.BatchNorm2d(last),
                                   nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Linear(last, num_classes))

    def forward(self, x):
        out = self.conv1(x)
        for b in self.blocks:
            out = b(out)
        return self.classifier(gap(self.conv2(out)))


# ---- mdistiller ShuffleNetv1.py / ShuffleNetv2.py -------------------------------

class ShuffleBlock(nn.Module):
    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        N, C, H, W = x.size()
        g = self.groups
        return x.reshape(N, g, C // g, H, W).permute(0, 2, 1, 3, 4).reshape(N, C, H, W)


class ShuffleV1Block(nn.Module):
    def __init__(self, in_planes, out_planes, stride, groups):
        super().__init__()
        self.stride = stride
        mid = int(out_planes / 4)
        g = 1 if in_planes == 24 else groups
        self.conv1 = nn.Conv2d(in_planes, mid, 1, groups=g, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.shuffle1 = ShuffleBlock(g)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_planes, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.shortcut = nn.Sequential()
        if stride == 2:
            self.shortcut = nn.Sequential(nn.AvgPool2d(3, stride=2, padding=1))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.shuffle1(out)
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        res = self.shortcut(x)
        return F.relu(torch.cat([out, res], 1) if self.stride == 2 else out + res)


class ShuffleV1(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        out_planes, num_blocks, groups = [240, 480, 960], [4, 8, 4], 3
        self.conv1 = nn.Conv2d(3, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        self.in_planes = 24
        for i in range(3):
            layers = []
            for j in range(num_blocks[i]):
                cat = self.in_planes if j == 0 else 0
                layers.append(ShuffleV1Block(self.in_planes, out_planes[i] - cat, 2 if j == 0 else 1, groups))
                self.in_planes = out_planes[i]
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layers))
        self.linear = nn.Linear(out_planes[2], num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.linear(gap(out))


class V2Basic(nn.Module):
    def __init__(self, c):
        super().__init__()
        c = int(c * 0.5)
        self.conv1 = nn.Conv2d(c, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.conv3 = nn.Conv2d(c, c, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c)
        self.shuffle = ShuffleBlock(2)
        self.c = c

    def forward(self, x):
        x1, x2 = x[:, :self.c], x[:, self.c:]
        out = F.relu(self.bn1(self.conv1(x2)))
        out = self.bn2(self.conv2(out))
        out = F.relu(self.bn3(self.conv3(out)))
        return self.shuffle(torch.cat([x1, out], 1))


class V2Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        mid = cout // 2
        self.conv1 = nn.Conv2d(cin, cin, 3, 2, 1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv2 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv4 = nn.Conv2d(mid, mid, 3, 2, 1, groups=mid, bias=False)
        self.bn4 = nn.BatchNorm2d(mid)
        self.conv5 = nn.Conv2d(mid, mid, 1, bias=False)
        self.bn5 = nn.BatchNorm2d(mid)
        self.shuffle = ShuffleBlock(2)

    def forward(self, x):
        o1 = self.bn1(self.conv1(x))
        o1 = F.relu(self.bn2(self.conv2(o1)))
        o2 = F.relu(self.bn3(self.conv3(x)))
        o2 = self.bn4(self.conv4(o2))
        o2 = F.relu(self.bn5(self.conv5(o2)))
        return self.shuffle(torch.cat([o1, o2], 1))


class ShuffleV2(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        out_ch, num_blocks = (116, 232, 464, 1024), (3, 7, 3)
        self.conv1 = nn.Conv2d(3, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        cin = 24
        for i in range(3):
            layers = [V2Down(cin, out_ch[i])] + [V2Basic(out_ch[i]) for _ in range(num_blocks[i])]
            cin = out_ch[i]
            setattr(self, "layer%d" % (i + 1), nn.Sequential(*layers))
        self.conv2 = nn.Conv2d(out_ch[2], out_ch[3], 1, 1, 0, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch[3])
        self.linear = nn.Linear(out_ch[3], num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.relu(self.bn2(self.conv2(out)))
        return self.linear(gap(out))


# ---- MobileNetV1 (model.N.M layout) ----------------------------------------------

class MobileNetV1(nn.Module):
    def __init__(self, num_classes):
        super().__init__()

        def conv_bn(i, o, s):
            return nn.Sequential(nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

        def conv_dw(i, o, s):
            return nn.Sequential(nn.Conv2d(i, i, 3, s, 1, groups=i, bias=False), nn.BatchNorm2d(i),
                                 nn.ReLU(inplace=True), nn.Conv2d(i, o, 1, 1, 0, bias=False),
                                 nn.BatchNorm2d(o), nn.ReLU(inplace=True))
        dw = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)] + \
             [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]
        self.model = nn.Sequential(conv_bn(3, 32, 2), *[conv_dw(*a) for a in dw])
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        return self.fc(gap(self.model(x)))


def build(name, num_classes):
    """The model called name (figkd-cl's registry names)."""
    narrow, wide = [16, 16, 32, 64], [32, 64, 128, 256]
    if name.startswith("resnet"):
        x4 = name.endswith("x4")
        depth = int(name[6:-2] if x4 else name[6:])
        return ResNetCifar(depth, wide if x4 else narrow, num_classes)
    if name.startswith("wrn_"):
        _, d, k = name.split("_")
        return WideResNet(int(d), int(k), num_classes)
    if name.startswith("vgg"):
        return VGG(int(name[3:]), num_classes)
    table = {
        "ResNet50": lambda: ResNet50(num_classes),
        "MobileNetV2": lambda: MobileNetV2(num_classes),
        "ShuffleV1": lambda: ShuffleV1(num_classes),
        "ShuffleV2": lambda: ShuffleV2(num_classes),
        "ResNet18": lambda: ResNetImageNet([2, 2, 2, 2], num_classes),
        "ResNet34": lambda: ResNetImageNet([3, 4, 6, 3], num_classes),
        "MobileNetV1": lambda: MobileNetV1(num_classes),
    }
    return table[name]()


ZOO = ["resnet8", "resnet14", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
       "resnet8x4", "resnet32x4", "wrn_16_1", "wrn_16_2", "wrn_40_1", "wrn_40_2",
       "vgg8", "vgg11", "vgg13", "vgg16", "vgg19", "ResNet50", "MobileNetV2", "ShuffleV1",
       "ShuffleV2", "ResNet18", "ResNet34", "MobileNetV1"]


# ---- helpers of the reference generators (gen_model_cases.py, gen_step.py) --------

_relu = F.relu
relu_min = [float("inf")]  # smallest nonzero |ReLU input| while recording_relu() is active


def _recording_relu(x, inplace=False):
    # exact zeros (average pools of ReLU outputs that are all zero) are zero
    # in any precision: no decision to flip
    a = x.detach().abs()
    a = a[a > 0]
    if a.numel():
        relu_min[0] = min(relu_min[0], a.min().item())
    return _relu(x, inplace=inplace)


@contextlib.contextmanager
def recording_relu():
    """F.relu records its smallest nonzero |input| in relu_min[0] (reset to
    inf on entry) until the block ends."""
    relu_min[0] = float("inf")
    F.relu = _recording_relu
    try:
        yield
    finally:
        F.relu = _relu


def randomise_bn(model, g):
    """BatchNorm weights, biases and running statistics drawn from g."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 0.5 + torch.rand(c, generator=g)
            m.bias.data = 0.2 * torch.randn(c, generator=g)
            m.running_mean.data = 0.2 * torch.randn(c, generator=g)
            m.running_var.data = 0.5 + torch.rand(c, generator=g)
