"""Plain-PyTorch twins of the networks in examples/.

Each builder reproduces the architecture of the matching ``examples/<stem>.yaml``
layer for layer, so a test can compare what convcalc computes from the YAML with
what torch itself reports (parameter counts, output shapes, hook-counted MACs).

AlexNet, VGG-16, ResNet-18/50 and MobileNetV2 follow torchvision's definitions
(torchvision itself is not a dependency); their module names, and so their
``state_dict`` keys, are the same as torchvision's. LeNet-5, MobileNetV1 and the
small U-Net are not in torchvision; their module names are the YAML files' full names.
In all eight, every module that holds parameters is named as its layer's full name in
the YAML (nested names joined by dots), with the same parameter count.

Import this module only after ``pytest.importorskip("torch")``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = [
    "BUILDERS",
    "INPUT_SHAPES",
    "alexnet",
    "count_macs",
    "count_params",
    "lenet5",
    "mobilenet_v1",
    "mobilenet_v2",
    "resnet18",
    "resnet50",
    "unet_small",
    "vgg16",
]


# --------------------------------------------------------------------------- LeNet-5


def lenet5() -> nn.Module:
    """LeNet-5 (LeCun et al. 1998), the common avgpool/tanh simplification: 61,706 params.

    Full C3 connectivity (no sparse connection table), parameter-free 2x2 average
    pooling for S2/S4, C5 as a 400 -> 120 linear layer, and a linear output layer
    instead of the RBF units.
    """
    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(1, 6, kernel_size=5)),  # C1: 6@28x28
                ("tanh1", nn.Tanh()),
                ("pool1", nn.AvgPool2d(kernel_size=2, stride=2)),  # S2: 6@14x14
                ("conv2", nn.Conv2d(6, 16, kernel_size=5)),  # C3: 16@10x10
                ("tanh2", nn.Tanh()),
                ("pool2", nn.AvgPool2d(kernel_size=2, stride=2)),  # S4: 16@5x5
                ("flatten", nn.Flatten()),
                ("fc1", nn.Linear(16 * 5 * 5, 120)),  # C5
                ("tanh3", nn.Tanh()),
                ("fc2", nn.Linear(120, 84)),  # F6
                ("tanh4", nn.Tanh()),
                ("fc3", nn.Linear(84, 10)),  # output
            ]
        )
    )


# --------------------------------------------------------------------------- AlexNet


class AlexNet(nn.Module):
    """torchvision.models.AlexNet (the one-GPU variant of Krizhevsky's network)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        out: Tensor = self.classifier(x)
        return out


def alexnet() -> nn.Module:
    """AlexNet as torchvision builds it: 61,100,840 params, 0.71 GMACs at 224x224."""
    return AlexNet()


# --------------------------------------------------------------------------- VGG-16

# Configuration "D" of Simonyan & Zisserman; "M" is a 2x2 max pool.
_VGG16_CFG: list[int | str] = [
    64, 64, "M",
    128, 128, "M",
    256, 256, 256, "M",
    512, 512, 512, "M",
    512, 512, 512, "M",
]  # fmt: skip


class VGG(nn.Module):
    """torchvision.models.VGG without batch norm."""

    def __init__(self, cfg: list[int | str], num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                assert isinstance(v, int)
                layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.ReLU(True)]
                in_channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        out: Tensor = self.classifier(x)
        return out


def vgg16() -> nn.Module:
    """VGG-16 (configuration D, no BN) as torchvision builds it: 138,357,544 params."""
    return VGG(_VGG16_CFG)


# --------------------------------------------------------------------------- ResNet


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        result: Tensor = self.relu(out + identity)
        return result


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3 conv)."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        width = planes
        self.conv1 = _conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        result: Tensor = self.relu(out + identity)
        return result


class ResNet(nn.Module):
    """torchvision.models.ResNet."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: list[int],
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                _conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        out: Tensor = self.fc(x)
        return out


def resnet18() -> nn.Module:
    """ResNet-18 as torchvision builds it: 11,689,512 params, 1.81 GMACs."""
    return ResNet(BasicBlock, [2, 2, 2, 2])


def resnet50() -> nn.Module:
    """ResNet-50 (v1.5) as torchvision builds it: 25,557,032 params, 4.09 GMACs."""
    return ResNet(Bottleneck, [3, 4, 6, 3])


# --------------------------------------------------------------------------- MobileNetV1


class _ConvBNReLU(nn.Sequential):
    """conv (no bias) + BN + activation, named like torchvision's Conv2dNormActivation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(
                in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False
            ),
            nn.BatchNorm2d(out_channels),
            activation(inplace=True),
        )


class DepthwiseSeparable(nn.Module):
    """MobileNetV1 block: 3x3 depthwise conv-BN-ReLU, then 1x1 pointwise conv-BN-ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels, bias=False)
        self.dw_bn = nn.BatchNorm2d(in_channels)
        self.dw_relu = nn.ReLU(inplace=True)
        self.pw = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pw_bn = nn.BatchNorm2d(out_channels)
        self.pw_relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.dw_relu(self.dw_bn(self.dw(x)))
        out: Tensor = self.pw_relu(self.pw_bn(self.pw(x)))
        return out


# (output channels, stride) of the 13 depthwise-separable blocks, Table 1 of Howard et al.
_MOBILENET_V1_CFG = [
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
]  # fmt: skip


class MobileNetV1(nn.Module):
    """MobileNetV1 (Howard et al. 2017), width multiplier 1.0, 224x224 input."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [_ConvBNReLU(3, 32, stride=2)]
        in_channels = 32
        for out_channels, stride in _MOBILENET_V1_CFG:
            layers.append(DepthwiseSeparable(in_channels, out_channels, stride))
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        out: Tensor = self.fc(x)
        return out


def mobilenet_v1() -> nn.Module:
    """MobileNetV1 1.0-224 with BN and a 1000-class FC: 4,231,976 params, 569 M mult-adds."""
    return MobileNetV1()


# --------------------------------------------------------------------------- MobileNetV2


class InvertedResidual(nn.Module):
    """torchvision's InvertedResidual: [1x1 expand] -> 3x3 depthwise -> 1x1 linear project."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden_dim = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_ConvBNReLU(inp, hidden_dim, kernel_size=1, activation=nn.ReLU6))
        layers += [
            _ConvBNReLU(
                hidden_dim, hidden_dim, stride=stride, groups=hidden_dim, activation=nn.ReLU6
            ),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.conv(x)
        return x + out if self.use_res_connect else out


# (expansion t, output channels c, repeats n, first stride s), Table 2 of Sandler et al.
_MOBILENET_V2_CFG = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


class MobileNetV2(nn.Module):
    """torchvision.models.MobileNetV2, width 1.0."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        input_channel, last_channel = 32, 1280
        features: list[nn.Module] = [_ConvBNReLU(3, input_channel, stride=2, activation=nn.ReLU6)]
        for t, c, n, s in _MOBILENET_V2_CFG:
            for i in range(n):
                features.append(InvertedResidual(input_channel, c, s if i == 0 else 1, t))
                input_channel = c
        features.append(
            _ConvBNReLU(input_channel, last_channel, kernel_size=1, activation=nn.ReLU6)
        )
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last_channel, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        out: Tensor = self.classifier(x)
        return out


def mobilenet_v2() -> nn.Module:
    """MobileNetV2 as torchvision builds it: 3,504,872 params, 0.30 GMACs."""
    return MobileNetV2()


# --------------------------------------------------------------------------- small U-Net


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """(3x3 conv, no bias -> BN -> ReLU) twice, padded so the size is kept."""
    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)),
                ("bn1", nn.BatchNorm2d(out_channels)),
                ("relu1", nn.ReLU(inplace=True)),
                ("conv2", nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)),
                ("bn2", nn.BatchNorm2d(out_channels)),
                ("relu2", nn.ReLU(inplace=True)),
            ]
        )
    )


class _ConcatSkip(nn.Module):
    """``cat([x, branch(x)], dim=1)``: the branch's layers are this module's children, in order.

    The YAML writes this as a ``parallel`` with ``merge: concat`` over an identity branch
    ``[]`` and the branch, so the skip's channels come first.
    """

    def __init__(self, branch: OrderedDict[str, nn.Module]) -> None:
        super().__init__()
        for name, module in branch.items():
            self.add_module(name, module)

    def forward(self, x: Tensor) -> Tensor:
        y = x
        for module in self.children():
            y = module(y)
        return torch.cat([x, y], dim=1)


class UNetSmall(nn.Module):
    """A small U-Net: 3 resolution levels (16, 32, 64 channels), 1x64x64 in, 2x64x64 out.

    Modules nest as the YAML's layers do, so full names agree (``skip1.skip2.up2``)::

        enc1 -> skip1[ down1 -> enc2 -> skip2[ down2 -> bottleneck -> up2 ] -> dec2 -> up1 ]
             -> dec1 -> head
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, base: int = 16) -> None:
        super().__init__()
        c1, c2, c3 = base, base * 2, base * 4
        self.enc1 = _double_conv(in_channels, c1)
        skip2 = _ConcatSkip(
            OrderedDict(
                [
                    ("down2", nn.MaxPool2d(2)),
                    ("bottleneck", _double_conv(c2, c3)),
                    ("up2", nn.ConvTranspose2d(c3, c2, kernel_size=2, stride=2)),
                ]
            )
        )
        self.skip1 = _ConcatSkip(
            OrderedDict(
                [
                    ("down1", nn.MaxPool2d(2)),
                    ("enc2", _double_conv(c1, c2)),
                    ("skip2", skip2),  # c2 + c2 channels
                    ("dec2", _double_conv(2 * c2, c2)),
                    ("up1", nn.ConvTranspose2d(c2, c1, kernel_size=2, stride=2)),
                ]
            )
        )  # c1 + c1 channels
        self.dec1 = _double_conv(2 * c1, c1)
        self.head = nn.Conv2d(c1, num_classes, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.head(self.dec1(self.skip1(self.enc1(x))))
        return out


def unet_small() -> nn.Module:
    """The small U-Net of examples/unet_small.yaml."""
    return UNetSmall()


# --------------------------------------------------------------------------- helpers

BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "lenet5": lenet5,
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v1": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "unet_small": unet_small,
}

# Input shape (C, H, W) of each example, without the batch dimension.
INPUT_SHAPES: dict[str, tuple[int, ...]] = {
    "lenet5": (1, 32, 32),
    "alexnet": (3, 224, 224),
    "vgg16": (3, 224, 224),
    "resnet18": (3, 224, 224),
    "resnet50": (3, 224, 224),
    "mobilenet_v1": (3, 224, 224),
    "mobilenet_v2": (3, 224, 224),
    "unet_small": (1, 64, 64),
}


def count_params(model: nn.Module) -> int:
    """Number of parameters (all trainable; BN running statistics are buffers, not counted)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """Weight multiply-accumulates of conv and linear layers for one sample, and its output shape.

    conv (and transposed conv): MACs = output elements * (C_in / groups) * prod(kernel);
    for a transposed conv the "output" is its input, since each input element meets the
    whole kernel once (the same count as the equivalent direct conv's gradient).
    linear: MACs = in_features * out_features per sample. Bias additions are not counted.
    """
    total = 0

    def conv_hook(m: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d)
        k = 1
        for d in m.kernel_size:
            k *= d
        total += out.numel() * (m.in_channels // m.groups) * k

    def conv_t_hook(m: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.ConvTranspose1d | nn.ConvTranspose2d | nn.ConvTranspose3d)
        k = 1
        for d in m.kernel_size:
            k *= d
        total += inp[0].numel() * (m.out_channels // m.groups) * k

    def linear_hook(m: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal total
        assert isinstance(m, nn.Linear)
        total += (out.numel() // m.out_features) * m.in_features * m.out_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.ConvTranspose1d | nn.ConvTranspose2d | nn.ConvTranspose3d):
            handles.append(m.register_forward_hook(conv_t_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, *input_shape))
    finally:
        for h in handles:
            h.remove()
    return total, tuple(out.shape[1:])
