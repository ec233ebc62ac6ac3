"""Plain-PyTorch twins of zoo entries, one per family the examples' twins do not cover.

Each builder follows torchvision's definition of the network (torchvision itself is not a
dependency), with torchvision's module names, so its ``state_dict`` keys are torchvision's:
DenseNet-121, SqueezeNet 1.1, GoogLeNet (without its auxiliary classifiers, as the pretrained
model), MNASNet 0.5, ResNeXt-50 32x4d, RegNetX-400MF, MobileNetV3-Small, EfficientNet-B0,
RegNetY-400MF, ConvNeXt-Tiny and Inception v3 (with its auxiliary head). The widths are
written out here from torchvision's rules, independently of the zoo's generator, so the twins
check it; each twin's parameter count is torchvision's published one.

Import this module only after ``pytest.importorskip("torch")``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
import torch_models
from torch import Tensor, nn

__all__ = [
    "BUILDERS",
    "convnext_tiny",
    "densenet121",
    "efficientnet_b0",
    "googlenet",
    "inception_v3",
    "mnasnet0_5",
    "mobilenet_v3_small",
    "regnet_x_400mf",
    "regnet_y_400mf",
    "resnext50_32x4d",
    "squeezenet1_1",
]


# --------------------------------------------------------------------------- DenseNet


class _DenseLayer(nn.Module):
    """torchvision's _DenseLayer: BN-ReLU-1x1 conv (4k) then BN-ReLU-3x3 conv (k)."""

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

    def forward(self, features: list[Tensor]) -> Tensor:
        out = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        result: Tensor = self.conv2(self.relu2(self.norm2(out)))
        return result


class _DenseBlock(nn.ModuleDict):
    """torchvision's _DenseBlock: every layer sees the concatenation of all before it."""

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int,
                 growth_rate: int) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features: Tensor) -> Tensor:
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, 1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """torchvision.models.DenseNet (DenseNet-BC)."""

    def __init__(self, growth_rate: int = 32, block_config: tuple[int, ...] = (6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4,
                 num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, 7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size, growth_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                transition = _Transition(num_features, num_features // 2)
                self.features.add_module(f"transition{i + 1}", transition)
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.features(x))
        out = torch.flatten(nn.functional.adaptive_avg_pool2d(out, (1, 1)), 1)
        result: Tensor = self.classifier(out)
        return result


def densenet121() -> nn.Module:
    """DenseNet-121: 7,978,856 params."""
    return DenseNet(32, (6, 12, 24, 16), 64)


# --------------------------------------------------------------------------- SqueezeNet


class Fire(nn.Module):
    """torchvision's Fire: a 1x1 squeeze, then 1x1 and 3x3 expands concatenated."""

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int,
                 expand3x3_planes: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet11(nn.Module):
    """torchvision.models.SqueezeNet(version="1_1")."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(64, 16, 64, 64),
            Fire(128, 16, 64, 64),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(128, 32, 128, 128),
            Fire(256, 32, 128, 128),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256),
            Fire(512, 64, 256, 256),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Conv2d(512, num_classes, kernel_size=1),
            nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def squeezenet1_1() -> nn.Module:
    """SqueezeNet 1.1: 1,235,496 params."""
    return SqueezeNet11()


# --------------------------------------------------------------------------- GoogLeNet


class BasicConv2d(nn.Module):
    """torchvision's googlenet BasicConv2d: bias-free conv, BN (eps 0.001), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """torchvision's googlenet Inception block (its "5x5" branch has a 3x3 kernel)."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)],
                         1)


class GoogLeNet(nn.Module):
    """torchvision.models.GoogLeNet(aux_logits=False, transform_input=False)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for name in ("4a", "4b", "4c", "4d", "4e"):
            x = getattr(self, f"inception{name}")(x)
        x = self.inception5b(self.inception5a(self.maxpool4(x)))
        x = torch.flatten(self.avgpool(x), 1)
        out: Tensor = self.fc(self.dropout(x))
        return out


def googlenet() -> nn.Module:
    """GoogLeNet without auxiliary classifiers: 6,624,904 params."""
    return GoogLeNet()


# --------------------------------------------------------------------------- MNASNet


class _InvertedResidual(nn.Module):
    """torchvision's mnasnet _InvertedResidual: expand, depthwise, project, maybe add."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int,
                 expansion_factor: int) -> None:
        super().__init__()
        mid_ch = in_ch * expansion_factor
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 1, bias=False),
            nn.BatchNorm2d(mid_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, mid_ch, kernel_size, padding=kernel_size // 2, stride=stride,
                      groups=mid_ch, bias=False),
            nn.BatchNorm2d(mid_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.layers(x)
        return out + x if self.apply_residual else out


def _stack(in_ch: int, out_ch: int, kernel_size: int, stride: int, exp_factor: int,
           repeats: int) -> nn.Sequential:
    first = _InvertedResidual(in_ch, out_ch, kernel_size, stride, exp_factor)
    rest = [_InvertedResidual(out_ch, out_ch, kernel_size, 1, exp_factor)
            for _ in range(1, repeats)]
    return nn.Sequential(first, *rest)


class MNASNet(nn.Module):
    """torchvision.models.MNASNet (module version 2), given its rounded depths."""

    def __init__(self, depths: list[int], num_classes: int = 1000) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, depths[0], 3, padding=1, stride=2, bias=False),
            nn.BatchNorm2d(depths[0]),
            nn.ReLU(inplace=True),
            nn.Conv2d(depths[0], depths[0], 3, padding=1, groups=depths[0], bias=False),
            nn.BatchNorm2d(depths[0]),
            nn.ReLU(inplace=True),
            nn.Conv2d(depths[0], depths[1], 1, bias=False),
            nn.BatchNorm2d(depths[1]),
            _stack(depths[1], depths[2], 3, 2, 3, 3),
            _stack(depths[2], depths[3], 5, 2, 3, 3),
            _stack(depths[3], depths[4], 5, 2, 6, 3),
            _stack(depths[4], depths[5], 3, 1, 6, 2),
            _stack(depths[5], depths[6], 5, 2, 6, 4),
            _stack(depths[6], depths[7], 3, 1, 6, 1),
            nn.Conv2d(depths[7], 1280, 1, bias=False),
            nn.BatchNorm2d(1280),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Sequential(nn.Dropout(p=0.2), nn.Linear(1280, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.classifier(self.layers(x).mean([2, 3]))
        return out


def mnasnet0_5() -> nn.Module:
    """MNASNet 0.5: depths 32, 16, 24, ... times 0.5 rounded to multiples of 8; 2,218,512."""
    return MNASNet([16, 8, 16, 24, 40, 48, 96, 160])


# --------------------------------------------------------------------------- ResNeXt


class _GroupedBottleneck(nn.Module):
    """torchvision's Bottleneck with groups=32, width_per_group=4 (ResNeXt-50 32x4d)."""

    expansion = 4
    groups = 32
    base_width = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        width = int(planes * (self.base_width / 64.0)) * self.groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=self.groups,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        result: Tensor = self.relu(self.bn3(self.conv3(out)) + identity)
        return result


def resnext50_32x4d() -> nn.Module:
    """ResNeXt-50 32x4d: torch_models' ResNet with grouped bottlenecks; 25,028,904 params."""
    return torch_models.ResNet(_GroupedBottleneck, [3, 4, 6, 3])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- RegNetX


def _conv_norm_act(in_ch: int, out_ch: int, kernel_size: int, stride: int = 1,
                   groups: int = 1, activation: bool = True) -> nn.Sequential:
    """torchvision's Conv2dNormActivation with BatchNorm2d and (optionally) ReLU."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if activation:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResBottleneckBlock(nn.Module):
    """torchvision's regnet ResBottleneckBlock with a bottleneck multiplier of 1, no SE."""

    def __init__(self, width_in: int, width_out: int, stride: int, group_width: int) -> None:
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = _conv_norm_act(width_in, width_out, 1, stride=stride, activation=False)
        groups = width_out // group_width
        self.f = nn.Sequential(OrderedDict([
            ("a", _conv_norm_act(width_in, width_out, 1)),
            ("b", _conv_norm_act(width_out, width_out, 3, stride=stride, groups=groups)),
            ("c", _conv_norm_act(width_out, width_out, 1, activation=False)),
        ]))
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        out: Tensor = self.activation(shortcut + self.f(x))
        return out


class RegNetX(nn.Module):
    """torchvision.models.RegNet with SimpleStemIN and ResBottleneckBlocks, given its stages."""

    def __init__(self, stages: list[tuple[int, int, int]], num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = _conv_norm_act(3, 32, 3, stride=2)
        width_in = 32
        blocks = []
        for index, (width, depth, group_width) in enumerate(stages, 1):
            stage = nn.Sequential()
            for i in range(depth):
                block = ResBottleneckBlock(width_in if i == 0 else width, width,
                                           2 if i == 0 else 1, group_width)
                stage.add_module(f"block{index}-{i}", block)
            blocks.append((f"block{index}", stage))
            width_in = width
        self.trunk_output = nn.Sequential(OrderedDict(blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.avgpool(self.trunk_output(self.stem(x))), 1)
        out: Tensor = self.fc(x)
        return out


def regnet_x_400mf() -> nn.Module:
    """RegNetX-400MF: depth 22, w_0 24, w_a 24.48, w_m 2.54, group width 16, which give
    stages of 1x32, 2x64, 7x160, 12x400 (blocks x width); 5,495,976 params."""
    return RegNetX([(32, 1, 16), (64, 2, 16), (160, 7, 16), (400, 12, 16)])


# --------------------------------------------------------------------------- modern CNNs
# MobileNetV3-Small, EfficientNet-B0, RegNetY-400MF, ConvNeXt-Tiny and Inception v3 (with its
# auxiliary head): squeeze-and-excitation, channels-last LayerNorm, layer scale, aux heads.


def _conv_norm(in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, groups: int = 1,
               activation: Callable[[], nn.Module] | None = nn.ReLU,
               eps: float = 1e-5) -> nn.Sequential:
    """torchvision's Conv2dNormActivation: a bias-free conv, BatchNorm2d(eps), an activation."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(out_ch, eps=eps),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


def _divisible(value: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: the nearest multiple of 8, never 10% below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation: pool to 1x1, two 1x1 convs, a gate, times the input."""

    def __init__(self, channels: int, squeeze_channels: int,
                 activation: Callable[[], nn.Module] = nn.ReLU,
                 scale_activation: Callable[[], nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x: Tensor) -> Tensor:
        scale = self.avgpool(x)
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(scale))))
        result: Tensor = scale * x
        return result


class _MobileNetV3Block(nn.Module):
    """torchvision's mobilenetv3 InvertedResidual: expand, depthwise, SE, project, maybe add."""

    def __init__(self, in_ch: int, kernel: int, expanded: int, out_ch: int, use_se: bool,
                 hardswish: bool, stride: int) -> None:
        super().__init__()
        activation = nn.Hardswish if hardswish else nn.ReLU
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expanded != in_ch:
            layers.append(_conv_norm(in_ch, expanded, 1, activation=activation, eps=0.001))
        layers.append(_conv_norm(expanded, expanded, kernel, stride=stride, groups=expanded,
                                 activation=activation, eps=0.001))
        if use_se:
            layers.append(SqueezeExcitation(expanded, _divisible(expanded // 4),
                                            scale_activation=nn.Hardsigmoid))
        layers.append(_conv_norm(expanded, out_ch, 1, activation=None, eps=0.001))
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.block(x)
        return out + x if self.use_res_connect else out


def mobilenet_v3_small() -> nn.Module:
    """MobileNetV3-Small (torchvision.models.mobilenet_v3_small, width 1.0): 2,542,856."""
    # input, kernel, expanded, output, SE, hardswish, stride: torchvision's bneck_conf rows
    settings = [(16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2),
                (24, 3, 88, 24, False, False, 1), (24, 5, 96, 40, True, True, 2),
                (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
                (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1),
                (48, 5, 288, 96, True, True, 2), (96, 5, 576, 96, True, True, 1),
                (96, 5, 576, 96, True, True, 1)]
    features: list[nn.Module] = [_conv_norm(3, 16, 3, stride=2, activation=nn.Hardswish,
                                            eps=0.001)]
    features += [_MobileNetV3Block(*row) for row in settings]
    features.append(_conv_norm(96, 576, 1, activation=nn.Hardswish, eps=0.001))
    model = nn.Sequential(OrderedDict([
        ("features", nn.Sequential(*features)),
        ("avgpool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten(1)),
        ("classifier", nn.Sequential(nn.Linear(576, 1024), nn.Hardswish(), nn.Dropout(0.2),
                                     nn.Linear(1024, 1000))),
    ]))
    return model


class _MBConv(nn.Module):
    """torchvision's efficientnet MBConv: expand, depthwise, SE (SiLU), project, maybe add."""

    def __init__(self, in_ch: int, out_ch: int, expand_ratio: int, kernel: int,
                 stride: int) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and in_ch == out_ch
        expanded = _divisible(in_ch * expand_ratio)
        layers: list[nn.Module] = []
        if expanded != in_ch:
            layers.append(_conv_norm(in_ch, expanded, 1, activation=nn.SiLU))
        layers.append(_conv_norm(expanded, expanded, kernel, stride=stride, groups=expanded,
                                 activation=nn.SiLU))
        layers.append(SqueezeExcitation(expanded, max(1, in_ch // 4), activation=nn.SiLU))
        layers.append(_conv_norm(expanded, out_ch, 1, activation=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.block(x)
        return out + x if self.use_res_connect else out


def efficientnet_b0() -> nn.Module:
    """EfficientNet-B0 (torchvision.models.efficientnet_b0): 5,288,548 params."""
    # expand ratio, kernel, first stride, input, output, blocks: torchvision's bneck_conf rows
    settings = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
                (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
                (6, 3, 1, 192, 320, 1)]
    features: list[nn.Module] = [_conv_norm(3, 32, 3, stride=2, activation=nn.SiLU)]
    for expand, kernel, stride, in_ch, out_ch, blocks in settings:
        features.append(nn.Sequential(*[
            _MBConv(in_ch if i == 0 else out_ch, out_ch, expand, kernel, stride if i == 0 else 1)
            for i in range(blocks)]))
    features.append(_conv_norm(320, 1280, 1, activation=nn.SiLU))
    return nn.Sequential(OrderedDict([
        ("features", nn.Sequential(*features)),
        ("avgpool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten(1)),
        ("classifier", nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))),
    ]))


class _SEBottleneckBlock(nn.Module):
    """torchvision's regnet ResBottleneckBlock with SE: its squeeze width is a quarter of the
    block's input width, not of the bottleneck's."""

    def __init__(self, width_in: int, width_out: int, stride: int, group_width: int) -> None:
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = _conv_norm(width_in, width_out, 1, stride=stride, activation=None)
        self.f = nn.Sequential(OrderedDict([
            ("a", _conv_norm(width_in, width_out, 1)),
            ("b", _conv_norm(width_out, width_out, 3, stride=stride,
                             groups=width_out // group_width)),
            ("se", SqueezeExcitation(width_out, round(0.25 * width_in))),
            ("c", _conv_norm(width_out, width_out, 1, activation=None)),
        ]))
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        out: Tensor = self.activation(shortcut + self.f(x))
        return out


def regnet_y_400mf() -> nn.Module:
    """RegNetY-400MF: depth 16, w_0 48, w_a 27.89, w_m 2.09, group width 8, SE ratio 0.25,
    which give stages of 1x48, 3x104, 6x208, 6x440 (blocks x width); 4,344,144 params."""
    stages = [(48, 1), (104, 3), (208, 6), (440, 6)]
    blocks = []
    width_in = 32
    for index, (width, depth) in enumerate(stages, 1):
        stage = nn.Sequential()
        for i in range(depth):
            stage.add_module(f"block{index}-{i}", _SEBottleneckBlock(
                width_in if i == 0 else width, width, 2 if i == 0 else 1, 8))
        blocks.append((f"block{index}", stage))
        width_in = width
    return nn.Sequential(OrderedDict([
        ("stem", _conv_norm(3, 32, 3, stride=2)),
        ("trunk_output", nn.Sequential(OrderedDict(blocks))),
        ("avgpool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten(1)),
        ("fc", nn.Linear(width_in, 1000)),
    ]))


class LayerNorm2d(nn.LayerNorm):
    """torchvision's convnext LayerNorm2d: LayerNorm over the channels at each position."""

    def forward(self, x: Tensor) -> Tensor:
        out = nn.functional.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape,
                                       self.weight, self.bias, self.eps)
        return out.permute(0, 3, 1, 2)


class Permute(nn.Module):
    """torchvision.ops.Permute."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    """torchvision's convnext CNBlock: a 7x7 depthwise conv, then channels last a LayerNorm and
    a 4x MLP, scaled per channel (``layer_scale``, a parameter of the block itself), plus the
    input. Stochastic depth is the identity in eval and is left out."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, x: Tensor) -> Tensor:
        result: Tensor = self.layer_scale * self.block(x) + x
        return result


def convnext_tiny() -> nn.Module:
    """ConvNeXt-Tiny (torchvision.models.convnext_tiny): widths 96, 192, 384, 768, blocks 3, 3,
    9, 3; 28,589,128 params."""
    widths, depths = [96, 192, 384, 768], [3, 3, 9, 3]
    features: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, 96, kernel_size=4, stride=4),
                                               LayerNorm2d(96, eps=1e-6))]
    for index, (width, depth) in enumerate(zip(widths, depths, strict=True)):
        features.append(nn.Sequential(*[CNBlock(width) for _ in range(depth)]))
        if index + 1 < len(widths):
            features.append(nn.Sequential(LayerNorm2d(width, eps=1e-6),
                                          nn.Conv2d(width, widths[index + 1], 2, stride=2)))
    return nn.Sequential(OrderedDict([
        ("features", nn.Sequential(*features)),
        ("avgpool", nn.AdaptiveAvgPool2d(1)),
        ("classifier", nn.Sequential(LayerNorm2d(768, eps=1e-6), nn.Flatten(1),
                                     nn.Linear(768, 1000))),
    ]))


class _Conv(nn.Module):
    """torchvision's inception BasicConv2d: bias-free conv, BN (eps 0.001), ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int | tuple[int, int],
                 stride: int = 1, padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=padding,
                              bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.bn(self.conv(x)))


def _avg3(x: Tensor) -> Tensor:
    return nn.functional.avg_pool2d(x, kernel_size=3, stride=1, padding=1)


class InceptionA(nn.Module):
    def __init__(self, in_ch: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _Conv(in_ch, 64, 1)
        self.branch5x5_1 = _Conv(in_ch, 48, 1)
        self.branch5x5_2 = _Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _Conv(in_ch, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, padding=1)
        self.branch_pool = _Conv(in_ch, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg3(x)),
        ], 1)


class InceptionB(nn.Module):
    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3 = _Conv(in_ch, 384, 3, stride=2)
        self.branch3x3dbl_1 = _Conv(in_ch, 64, 1)
        self.branch3x3dbl_2 = _Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _Conv(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            nn.functional.max_pool2d(x, kernel_size=3, stride=2),
        ], 1)


class InceptionC(nn.Module):
    def __init__(self, in_ch: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = _Conv(in_ch, 192, 1)
        self.branch7x7_1 = _Conv(in_ch, c7, 1)
        self.branch7x7_2 = _Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _Conv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _Conv(in_ch, c7, 1)
        self.branch7x7dbl_2 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _Conv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _Conv(in_ch, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        dbl = self.branch7x7dbl_1(x)
        for index in range(2, 6):
            dbl = getattr(self, f"branch7x7dbl_{index}")(dbl)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            dbl,
            self.branch_pool(_avg3(x)),
        ], 1)


class InceptionD(nn.Module):
    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch3x3_1 = _Conv(in_ch, 192, 1)
        self.branch3x3_2 = _Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _Conv(in_ch, 192, 1)
        self.branch7x7x3_2 = _Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _Conv(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        seven = self.branch7x7x3_1(x)
        for index in range(2, 5):
            seven = getattr(self, f"branch7x7x3_{index}")(seven)
        return torch.cat([
            self.branch3x3_2(self.branch3x3_1(x)),
            seven,
            nn.functional.max_pool2d(x, kernel_size=3, stride=2),
        ], 1)


class InceptionE(nn.Module):
    def __init__(self, in_ch: int) -> None:
        super().__init__()
        self.branch1x1 = _Conv(in_ch, 320, 1)
        self.branch3x3_1 = _Conv(in_ch, 384, 1)
        self.branch3x3_2a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _Conv(in_ch, 448, 1)
        self.branch3x3dbl_2 = _Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _Conv(in_ch, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        three = self.branch3x3_1(x)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(three), self.branch3x3_2b(three),
            self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl),
            self.branch_pool(_avg3(x)),
        ], 1)


class InceptionAux(nn.Module):
    def __init__(self, in_ch: int, num_classes: int) -> None:
        super().__init__()
        self.conv0 = _Conv(in_ch, 128, 1)
        self.conv1 = _Conv(128, 768, 5)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(self.conv0(nn.functional.avg_pool2d(x, kernel_size=5, stride=3)))
        out: Tensor = self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
        return out


class Inception3(nn.Module):
    """torchvision.models.Inception3(aux_logits=True, transform_input=False).

    torchvision runs ``AuxLogits`` only in training (and then returns both outputs); with
    ``aux_in_eval`` the twin runs it in eval too, so that forward hooks see its modules, and
    still returns the main logits alone.
    """

    def __init__(self, num_classes: int = 1000, aux_in_eval: bool = False) -> None:
        super().__init__()
        self.aux_in_eval = aux_in_eval
        self.Conv2d_1a_3x3 = _Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = _Conv(32, 64, 3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = _Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = _Conv(80, 192, 3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.AuxLogits = InceptionAux(768, num_classes)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(p=0.5)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1",
                     "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c",
                     "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
            x = getattr(self, name)(x)
        aux = self.AuxLogits(x) if self.training or self.aux_in_eval else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        logits: Tensor = self.fc(torch.flatten(self.dropout(self.avgpool(x)), 1))
        if self.training and aux is not None:
            return logits, aux
        return logits


def inception_v3() -> nn.Module:
    """Inception v3 with its auxiliary head run in eval too: 27,161,264 params (the main
    network's 23,834,568 and the head's 3,326,696)."""
    return Inception3(aux_in_eval=True)


# --------------------------------------------------------------------------- helpers

BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "densenet121": densenet121,
    "googlenet": googlenet,
    "mnasnet0_5": mnasnet0_5,
    "regnet_x_400mf": regnet_x_400mf,
    "resnext50_32x4d": resnext50_32x4d,
    "squeezenet1_1": squeezenet1_1,
    # modern CNNs
    "convnext_tiny": convnext_tiny,
    "efficientnet_b0": efficientnet_b0,
    "inception_v3": inception_v3,
    "mobilenet_v3_small": mobilenet_v3_small,
    "regnet_y_400mf": regnet_y_400mf,
}


# --------------------------------------------------------------------------- ShuffleNetV2


def _channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """torchvision's channel_shuffle: view as (groups, C/groups), transpose, flatten."""
    batch, channels, height, width = x.size()
    x = x.view(batch, groups, channels // groups, height, width)
    return torch.transpose(x, 1, 2).contiguous().view(batch, -1, height, width)


def _depthwise(channels: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, stride, 1, bias=False, groups=channels)


class _ShuffleBlock(nn.Module):
    """torchvision's InvertedResidual: stride 2 runs branch1 and branch2 on the whole input;
    stride 1 keeps one half of the channels and runs branch2 on the other; then a shuffle."""

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        half = oup // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(inp, stride), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            _depthwise(half, stride), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return _channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """torchvision's ShuffleNetV2: stem conv and max pool, stages 2-4, conv5, mean, fc."""

    def __init__(self, stages_repeats: list[int], stages_out_channels: list[int],
                 num_classes: int = 1000) -> None:
        super().__init__()
        channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels, 3, 2, 1, bias=False),
                                   nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for stage, repeats, out in zip((2, 3, 4), stages_repeats, stages_out_channels[1:],
                                       strict=False):
            blocks = [_ShuffleBlock(channels, out, 2)]
            blocks += [_ShuffleBlock(out, out, 1) for _ in range(repeats - 1)]
            self.add_module(f"stage{stage}", nn.Sequential(*blocks))
            channels = out
        last = stages_out_channels[-1]
        self.conv5 = nn.Sequential(nn.Conv2d(channels, last, 1, bias=False),
                                   nn.BatchNorm2d(last), nn.ReLU(inplace=True))
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        out: Tensor = self.fc(self.conv5(x).mean([2, 3]))
        return out


def shufflenet_v2_x0_5() -> nn.Module:
    """ShuffleNetV2 0.5x: repeats 4, 8, 4 and widths 24, 48, 96, 192, 1024; 1,366,792 params."""
    return ShuffleNetV2([4, 8, 4], [24, 48, 96, 192, 1024])


BUILDERS["shufflenet_v2_x0_5"] = shufflenet_v2_x0_5
__all__ += ["shufflenet_v2_x0_5"]
