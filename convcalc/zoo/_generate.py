"""Write the zoo's network files from the architectures' published hyperparameters.

Run ``python -m convcalc.zoo._generate`` from the repository root after changing this file;
it rewrites ``convcalc/zoo/<builder>.yaml`` (or the directory given as its argument). The
output is committed, and a test runs this into a temporary directory and compares, so the
files and their source cannot drift.

Each builder follows torchvision's ``models/*.py`` (torchvision itself is not needed):
widths, depths, kernels, strides and rounding rules are written here as data, and layer names
are torchvision's module names wherever the format can spell them. Since a conv's input
channels come from the layer before it, two blocks that differ only in their input width have
the same body; a body used more than once is written once with a YAML anchor and reused with
an alias.

This module is a development tool: ``convcalc.zoo`` never imports it.
"""

from __future__ import annotations

import math
import re
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Layer = dict[str, Any]

# --------------------------------------------------------------------------- layer helpers


@dataclass(frozen=True)
class Body:
    """A layer list that gets the YAML anchor ``label`` when it is used more than once."""

    label: str
    layers: tuple[Layer, ...]


def _layer(type_: str, name: str, **options: Any) -> Layer:
    return {"type": type_, "name": name, **{k: v for k, v in options.items() if v is not None}}


def conv(name: str, filters: int, kernel: int | list[int], stride: int = 1,
         padding: int | list[int] = 0, groups: int | str = 1, bias: bool = True) -> Layer:
    return _layer("conv", name, filters=filters, kernel=kernel,
                  stride=stride if stride != 1 else None,
                  padding=padding or None, groups=groups if groups != 1 else None,
                  bias=None if bias else False)


def batchnorm(name: str, eps: float | None = None) -> Layer:
    return _layer("batchnorm", name, eps=eps)


def act(type_: str, name: str) -> Layer:
    return _layer(type_, name)


def maxpool(name: str, kernel: int, stride: int | None = None, padding: int = 0,
            ceil_mode: bool = False) -> Layer:
    return _layer("maxpool", name, kernel=kernel, stride=stride, padding=padding or None,
                  ceil_mode=True if ceil_mode else None)


def avgpool(name: str, kernel: int, stride: int | None = None) -> Layer:
    return _layer("avgpool", name, kernel=kernel, stride=stride)


def adaptive_avgpool(name: str, output: int | list[int]) -> Layer:
    return _layer("adaptive_avgpool", name, output=output)


def linear(name: str, units: int) -> Layer:
    return _layer("linear", name, units=units)


def dropout(name: str, p: float) -> Layer:
    return _layer("dropout", name, p=p)


def sequential(name: str, layers: Body | list[Layer]) -> Layer:
    return {"type": "sequential", "name": name, "layers": layers}


def residual(name: str, layers: Body | list[Layer], shortcut: list[Layer] | None = None,
             after: list[Layer] | None = None) -> Layer:
    block: Layer = {"type": "residual", "name": name, "layers": layers}
    if shortcut:
        block["shortcut"] = shortcut
    if after:
        block["after"] = after
    return block


def parallel(name: str, branches: list[Body | list[Layer]], merge: str | None = None,
             after: list[Layer] | None = None) -> Layer:
    block: Layer = {"type": "parallel", "name": name}
    if merge:
        block["merge"] = merge
    block["branches"] = branches
    if after:
        block["after"] = after
    return block


def aux(name: str, layers: list[Layer]) -> Layer:
    """An auxiliary head: its layers run on the current tensor, the main path goes on."""
    return {"type": "aux", "name": name, "layers": layers}


def body(label: str, layers: list[Layer]) -> Body:
    return Body(label, tuple(layers))


# --------------------------------------------------------------------------- YAML writer

_CONTAINERS = ("sequential", "residual", "parallel", "aux")
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    text = str(value)
    if _PLAIN_NAME.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return f'"{text}"'


def _key(layers: Any) -> str:
    """Return a text that two equal bodies share (the anchor's identity)."""
    return repr(layers.layers if isinstance(layers, Body) else layers)


def _bodies(layers: list[Layer] | tuple[Layer, ...]) -> Iterator[Body]:
    for layer in layers:
        for key in ("layers", "shortcut", "after"):
            if key in layer:
                yield from _walk_body(layer[key])
        for branch in layer.get("branches", ()):
            yield from _walk_body(branch)


def _walk_body(value: Body | list[Layer]) -> Iterator[Body]:
    if isinstance(value, Body):
        yield value
        yield from _bodies(value.layers)
    else:
        yield from _bodies(value)


class _Writer:
    """Writes a layer list as block YAML: containers as mappings, leaves on one line each."""

    def __init__(self, layers: list[Layer]) -> None:
        counts: dict[str, int] = {}
        labels: dict[str, str] = {}
        for found in _bodies(layers):
            key = _key(found)
            counts[key] = counts.get(key, 0) + 1
            labels.setdefault(key, found.label)
        self.anchors = {key: labels[key] for key, n in counts.items() if n > 1}
        if len(set(self.anchors.values())) != len(self.anchors):
            raise ValueError(f"two different bodies share an anchor label: {self.anchors}")
        self.written: set[str] = set()
        self.lines: list[str] = []

    def _reference(self, value: Body | list[Layer]) -> tuple[str, bool]:
        """Return the text after ``key:`` and whether the layers follow on their own lines."""
        key = _key(value)
        if key in self.written:
            return f" *{self.anchors[key]}", False
        layers = value.layers if isinstance(value, Body) else value
        if not layers:
            return " []", False
        if key in self.anchors:
            self.written.add(key)
            return f" &{self.anchors[key]}", True
        return "", True

    def layers(self, layers: list[Layer] | tuple[Layer, ...], indent: int) -> None:
        for layer in layers:
            self.layer(layer, indent)

    def layer(self, layer: Layer, indent: int) -> None:
        pad = " " * indent
        if layer["type"] not in _CONTAINERS:
            fields = ", ".join(f"{k}: {_scalar(v)}" for k, v in layer.items())
            self.lines.append(f"{pad}- {{{fields}}}")
            return
        self.lines.append(f"{pad}- type: {layer['type']}")
        self.lines.append(f"{pad}  name: {_scalar(layer['name'])}")
        if "merge" in layer:
            self.lines.append(f"{pad}  merge: {layer['merge']}")
        for key in ("layers", "shortcut"):
            if key in layer:
                self.block(key, layer[key], indent + 2)
        if "branches" in layer:
            self.branches(layer["branches"], indent + 2)
        if "after" in layer:
            self.block("after", layer["after"], indent + 2)

    def block(self, key: str, value: Body | list[Layer], indent: int) -> None:
        reference, follows = self._reference(value)
        self.lines.append(f"{' ' * indent}{key}:{reference}")
        if follows:
            self.layers(value.layers if isinstance(value, Body) else value, indent + 2)

    def branches(self, branches: list[Body | list[Layer]], indent: int) -> None:
        pad = " " * indent
        texts = [self._reference(branch) for branch in branches]
        if not any(follows for _, follows in texts):
            self.lines.append(f"{pad}branches: [{', '.join(t.strip() for t, _ in texts)}]")
            return
        self.lines.append(f"{pad}branches:")
        for branch, (reference, follows) in zip(branches, texts, strict=True):
            if reference or not follows:  # an anchor, an alias or []: on the dash's line
                self.lines.append(f"{pad}  -{reference}")
            start = len(self.lines)
            if follows:
                self.layers(branch.layers if isinstance(branch, Body) else branch, indent + 4)
            if follows and not reference:  # the first layer goes on the dash's line: "- - {"
                self.lines[start] = f"{pad}  - " + self.lines[start].lstrip()


def to_yaml(header: str, name: str, input_size: int, layers: list[Layer]) -> str:
    """Return the network file of ``layers``: the header comment, name, input and layers."""
    writer = _Writer(layers)
    writer.layers(layers, 2)
    paragraphs = [textwrap.fill(" ".join(p.split()), width=92, break_on_hyphens=False)
                  for p in header.strip().split("\n\n")]
    comment = "\n#\n".join("\n".join(f"# {line}" for line in p.splitlines())
                           for p in paragraphs)
    note = (f"#\n# Written by convcalc/zoo/_generate.py from the published hyperparameters; "
            f"edit that,\n# not this file. Input 3x{input_size}x{input_size}; another size "
            "through --input.\n")
    return (f"{comment}\n{note}name: {name}\ninput: 3x{input_size}x{input_size}\nlayers:\n"
            + "\n".join(writer.lines) + "\n")


# --------------------------------------------------------------------------- AlexNet, VGG


def alexnet() -> list[Layer]:
    features = [
        conv("0", 64, 11, stride=4, padding=2), act("relu", "1"), maxpool("2", 3, 2),
        conv("3", 192, 5, padding=2), act("relu", "4"), maxpool("5", 3, 2),
        conv("6", 384, 3, padding=1), act("relu", "7"),
        conv("8", 256, 3, padding=1), act("relu", "9"),
        conv("10", 256, 3, padding=1), act("relu", "11"), maxpool("12", 3, 2),
    ]
    classifier = [
        dropout("0", 0.5), linear("1", 4096), act("relu", "2"),
        dropout("3", 0.5), linear("4", 4096), act("relu", "5"), linear("6", 1000),
    ]
    return [sequential("features", features), adaptive_avgpool("avgpool", [6, 6]),
            _layer("flatten", "flatten"), sequential("classifier", classifier)]


# torchvision's vgg.py cfgs: a number is a 3x3 conv's filters, "M" a 2x2 max pool.
VGG_CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def vgg(config: str, batch_norm: bool) -> list[Layer]:
    features: list[Layer] = []
    for item in VGG_CONFIGS[config]:
        index = str(len(features))
        if isinstance(item, str):  # "M"
            features.append(maxpool(index, 2, 2))
            continue
        features.append(conv(index, item, 3, padding=1))
        if batch_norm:
            features.append(batchnorm(str(len(features))))
        features.append(act("relu", str(len(features))))
    classifier = [
        linear("0", 4096), act("relu", "1"), dropout("2", 0.5),
        linear("3", 4096), act("relu", "4"), dropout("5", 0.5), linear("6", 1000),
    ]
    return [sequential("features", features), adaptive_avgpool("avgpool", [7, 7]),
            _layer("flatten", "flatten"), sequential("classifier", classifier)]


# --------------------------------------------------------------------------- ResNet family


def resnet(blocks: list[int], bottleneck: bool, groups: int = 1,
           width_per_group: int = 64) -> list[Layer]:
    """torchvision's ResNet: ResNet, ResNeXt and Wide ResNet differ in groups and width."""
    expansion = 4 if bottleneck else 1
    layers = [conv("conv1", 64, 7, stride=2, padding=3, bias=False), batchnorm("bn1"),
              act("relu", "relu"), maxpool("maxpool", 3, 2, padding=1)]
    inplanes = 64
    for stage, (planes, depth) in enumerate(zip([64, 128, 256, 512], blocks, strict=True), 1):
        stride = 1 if stage == 1 else 2
        stage_layers: list[Layer] = []
        for index in range(depth):
            step = stride if index == 0 else 1
            if bottleneck:
                width = int(planes * (width_per_group / 64.0)) * groups
                main = body(f"bottleneck{planes}", [
                    conv("conv1", width, 1, bias=False), batchnorm("bn1"), act("relu", "relu1"),
                    conv("conv2", width, 3, stride=step, padding=1, groups=groups, bias=False),
                    batchnorm("bn2"), act("relu", "relu2"),
                    conv("conv3", planes * expansion, 1, bias=False), batchnorm("bn3"),
                ])
            else:
                main = body(f"basic{planes}", [
                    conv("conv1", planes, 3, stride=step, padding=1, bias=False),
                    batchnorm("bn1"), act("relu", "relu1"),
                    conv("conv2", planes, 3, padding=1, bias=False), batchnorm("bn2"),
                ])
            shortcut = None
            if index == 0 and (step != 1 or inplanes != planes * expansion):
                shortcut = [sequential("downsample", [
                    conv("0", planes * expansion, 1, stride=step, bias=False),
                    batchnorm("1")])]
            stage_layers.append(residual(str(index), main, shortcut,
                                         after=[act("relu", "relu")]))
            inplanes = planes * expansion
        layers.append(sequential(f"layer{stage}", stage_layers))
    return [*layers, adaptive_avgpool("avgpool", 1), _layer("flatten", "flatten"),
            linear("fc", 1000)]


# --------------------------------------------------------------------------- DenseNet


def densenet(growth_rate: int, block_config: list[int], num_init_features: int,
             bn_size: int = 4) -> list[Layer]:
    """torchvision's DenseNet-BC: each dense layer concatenates its output to its input."""
    features: list[Layer] = [
        conv("conv0", num_init_features, 7, stride=2, padding=3, bias=False),
        batchnorm("norm0"), act("relu", "relu0"), maxpool("pool0", 3, 2, padding=1),
    ]
    # Every dense layer has the same body: only its input width (not written) grows.
    dense = body("denselayer", [
        batchnorm("norm1"), act("relu", "relu1"),
        conv("conv1", bn_size * growth_rate, 1, bias=False),
        batchnorm("norm2"), act("relu", "relu2"),
        conv("conv2", growth_rate, 3, padding=1, bias=False),
    ])
    channels = num_init_features
    for stage, depth in enumerate(block_config, 1):
        features.append(sequential(f"denseblock{stage}", [
            parallel(f"denselayer{index}", [[], dense]) for index in range(1, depth + 1)]))
        channels += depth * growth_rate
        if stage != len(block_config):
            channels //= 2
            features.append(sequential(f"transition{stage}", [
                batchnorm("norm"), act("relu", "relu"), conv("conv", channels, 1, bias=False),
                avgpool("pool", 2, 2)]))
    features.append(batchnorm("norm5"))
    return [sequential("features", features), act("relu", "relu"),
            adaptive_avgpool("avgpool", 1), _layer("flatten", "flatten"),
            linear("classifier", 1000)]


# --------------------------------------------------------------------------- SqueezeNet


def _fire(name: str, squeeze: int, expand: int) -> Layer:
    return sequential(name, body(f"fire{squeeze}_{expand}", [
        conv("squeeze", squeeze, 1), act("relu", "squeeze_activation"),
        parallel("expand", [
            [conv("expand1x1", expand, 1), act("relu", "expand1x1_activation")],
            [conv("expand3x3", expand, 3, padding=1), act("relu", "expand3x3_activation")],
        ]),
    ]))


def squeezenet(version: str) -> list[Layer]:
    """torchvision's SqueezeNet; a Fire module's two expand branches form a `parallel`."""
    if version == "1_0":
        plan: list[Any] = [("conv", 96, 7), "M", (16, 64), (16, 64), (32, 128), "M",
                           (32, 128), (48, 192), (48, 192), (64, 256), "M", (64, 256)]
    else:
        plan = [("conv", 64, 3), "M", (16, 64), (16, 64), "M", (32, 128), (32, 128), "M",
                (48, 192), (48, 192), (64, 256), (64, 256)]
    features: list[Layer] = []
    for item in plan:
        index = str(len(features))
        if item == "M":
            features.append(maxpool(index, 3, 2, ceil_mode=True))
        elif item[0] == "conv":
            features.append(conv(index, item[1], item[2], stride=2))
            features.append(act("relu", str(len(features))))
        else:
            features.append(_fire(index, *item))
    classifier = [dropout("0", 0.5), conv("1", 1000, 1), act("relu", "2"),
                  adaptive_avgpool("3", 1)]
    return [sequential("features", features), sequential("classifier", classifier),
            _layer("flatten", "flatten")]


# --------------------------------------------------------------------------- GoogLeNet


def _basic_conv(name: str, filters: int, kernel: int, stride: int = 1,
                padding: int = 0) -> Layer:
    """torchvision's BasicConv2d: a bias-free conv, batch norm (eps 0.001) and a ReLU."""
    return sequential(name, [conv("conv", filters, kernel, stride=stride, padding=padding,
                                  bias=False),
                             batchnorm("bn", eps=0.001), act("relu", "relu")])


def _inception(name: str, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
               pool_proj: int) -> Layer:
    # torchvision's "5x5" branch uses a 3x3 kernel (kept for its pretrained weights).
    return parallel(name, [
        [_basic_conv("branch1", ch1x1, 1)],
        [sequential("branch2", [_basic_conv("0", ch3x3red, 1),
                                _basic_conv("1", ch3x3, 3, padding=1)])],
        [sequential("branch3", [_basic_conv("0", ch5x5red, 1),
                                _basic_conv("1", ch5x5, 3, padding=1)])],
        [sequential("branch4", [maxpool("0", 3, 1, padding=1, ceil_mode=True),
                                _basic_conv("1", pool_proj, 1)])],
    ])


def googlenet() -> list[Layer]:
    """torchvision's GoogLeNet without the auxiliary classifiers (as its pretrained weights)."""
    return [
        _basic_conv("conv1", 64, 7, stride=2, padding=3),
        maxpool("maxpool1", 3, 2, ceil_mode=True),
        _basic_conv("conv2", 64, 1),
        _basic_conv("conv3", 192, 3, padding=1),
        maxpool("maxpool2", 3, 2, ceil_mode=True),
        _inception("inception3a", 64, 96, 128, 16, 32, 32),
        _inception("inception3b", 128, 128, 192, 32, 96, 64),
        maxpool("maxpool3", 3, 2, ceil_mode=True),
        _inception("inception4a", 192, 96, 208, 16, 48, 64),
        _inception("inception4b", 160, 112, 224, 24, 64, 64),
        _inception("inception4c", 128, 128, 256, 24, 64, 64),
        _inception("inception4d", 112, 144, 288, 32, 64, 64),
        _inception("inception4e", 256, 160, 320, 32, 128, 128),
        maxpool("maxpool4", 2, 2, ceil_mode=True),
        _inception("inception5a", 256, 160, 320, 32, 128, 128),
        _inception("inception5b", 384, 192, 384, 48, 128, 128),
        adaptive_avgpool("avgpool", 1), _layer("flatten", "flatten"),
        dropout("dropout", 0.2), linear("fc", 1000),
    ]


# --------------------------------------------------------------------------- MobileNetV2


def _make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision's _make_divisible: round to a multiple, never more than 10% down."""
    min_value = min_value or divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return new_value + divisor if new_value < 0.9 * value else new_value


def _conv_bn_act(name: str, filters: int, kernel: int, stride: int = 1, groups: int = 1,
                 activation: str | None = "relu6") -> Layer:
    """torchvision's Conv2dNormActivation: a bias-free conv, batch norm, an activation."""
    layers = [conv("0", filters, kernel, stride=stride, padding=(kernel - 1) // 2,
                   groups=groups, bias=False), batchnorm("1")]
    if activation:
        layers.append(act(activation, "2"))
    return sequential(name, layers)


def mobilenet_v2() -> list[Layer]:
    # t (expansion), c (output channels), n (blocks), s (first block's stride)
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    features = [_conv_bn_act("0", 32, 3, stride=2)]
    channels = 32
    for t, c, n, s in settings:
        for index in range(n):
            stride = s if index == 0 else 1
            hidden = channels * t
            layers = [_conv_bn_act("0", hidden, 1)] if t != 1 else []
            layers.append(_conv_bn_act(str(len(layers)), hidden, 3, stride=stride,
                                       groups=hidden))
            layers += [conv(str(len(layers)), c, 1, bias=False),
                       batchnorm(str(len(layers) + 1))]
            block = body(f"ir{c}", [sequential("conv", layers)])
            name = str(len(features))
            if stride == 1 and channels == c:
                features.append(residual(name, block))
            else:
                features.append(sequential(name, block))
            channels = c
    features.append(_conv_bn_act(str(len(features)), 1280, 1))
    return [sequential("features", features), _layer("global_avgpool", "avgpool"),
            sequential("classifier", [dropout("0", 0.2), linear("1", 1000)])]


# --------------------------------------------------------------------------- MNASNet


def _round_to_multiple_of(value: float, divisor: int, round_up_bias: float = 0.9) -> int:
    """torchvision's mnasnet rounding: to a multiple of ``divisor``, at most 10% down."""
    new_value = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new_value if new_value >= round_up_bias * value else new_value + divisor


def mnasnet(alpha: float) -> list[Layer]:
    """torchvision's MNASNet (version 2 of its module: the stem scales with alpha)."""
    depths = [_round_to_multiple_of(d * alpha, 8) for d in [32, 16, 24, 40, 80, 96, 192, 320]]
    layers: list[Layer] = [
        conv("0", depths[0], 3, stride=2, padding=1, bias=False), batchnorm("1"),
        act("relu", "2"),
        conv("3", depths[0], 3, padding=1, groups=depths[0], bias=False), batchnorm("4"),
        act("relu", "5"),
        conv("6", depths[1], 1, bias=False), batchnorm("7"),
    ]
    # out channels, kernel, first stride, expansion, repeats
    stacks = [(depths[2], 3, 2, 3, 3), (depths[3], 5, 2, 3, 3), (depths[4], 5, 2, 6, 3),
              (depths[5], 3, 1, 6, 2), (depths[6], 5, 2, 6, 4), (depths[7], 3, 1, 6, 1)]
    channels = depths[1]
    for out, kernel, stride, expansion, repeats in stacks:
        blocks: list[Layer] = []
        for index in range(repeats):
            step = stride if index == 0 else 1
            mid = channels * expansion
            block = body(f"block{out}", [sequential("layers", [
                conv("0", mid, 1, bias=False), batchnorm("1"), act("relu", "2"),
                conv("3", mid, kernel, stride=step, padding=kernel // 2, groups=mid,
                     bias=False),
                batchnorm("4"), act("relu", "5"),
                conv("6", out, 1, bias=False), batchnorm("7"),
            ])])
            if channels == out and step == 1:
                blocks.append(residual(str(index), block))
            else:
                blocks.append(sequential(str(index), block))
            channels = out
        layers.append(sequential(str(len(layers)), blocks))
    layers += [conv(str(len(layers)), 1280, 1, bias=False), batchnorm(str(len(layers) + 1)),
               act("relu", str(len(layers) + 2))]
    return [sequential("layers", layers), _layer("global_avgpool", "mean"),
            sequential("classifier", [dropout("0", 0.2), linear("1", 1000)])]


# --------------------------------------------------------------------------- RegNetX


def regnet_stages(depth: int, w_0: int, w_a: float, w_m: float,
                  group_width: int) -> list[tuple[int, int, int]]:
    """Return (width, blocks, group width) per stage: torchvision's BlockParams.from_init_params.

    torchvision computes the widths in float32; these are float64, which gives the same
    integers for every RegNet in torchvision (the published parameter counts check it).
    """
    quant = 8
    widths_cont = [i * w_a + w_0 for i in range(depth)]
    capacity = [round(math.log(w / w_0) / math.log(w_m)) for w in widths_cont]
    block_widths = [int(round(w_0 * w_m**c / quant) * quant) for c in capacity]
    stages: list[list[int]] = []
    for width in block_widths:
        if stages and stages[-1][0] == width:
            stages[-1][1] += 1
        else:
            stages.append([width, 1])
    result = []
    for width, blocks in stages:
        # _adjust_widths_groups_compatibilty, with a bottleneck multiplier of 1.0
        group = min(group_width, width)
        result.append((_make_divisible(width, group), blocks, group))
    return result


def regnet_x(depth: int, w_0: int, w_a: float, w_m: float, group_width: int) -> list[Layer]:
    """torchvision's RegNetX: ResBottleneckBlocks without squeeze-and-excitation."""
    layers: list[Layer] = [_conv_bn_act("stem", 32, 3, stride=2, activation="relu")]
    channels = 32
    trunk: list[Layer] = []
    for stage, (width, blocks, group) in enumerate(
            regnet_stages(depth, w_0, w_a, w_m, group_width), 1):
        stage_layers: list[Layer] = []
        for index in range(blocks):
            stride = 2 if index == 0 else 1
            name = f"block{stage}-{index}"
            f = body(f"block{stage}", [sequential("f", [
                _conv_bn_act("a", width, 1, activation="relu"),
                _conv_bn_act("b", width, 3, stride=stride, groups=width // group,
                             activation="relu"),
                _conv_bn_act("c", width, 1, activation=None),
            ])])
            shortcut = None
            if channels != width or stride != 1:
                shortcut = [_conv_bn_act("proj", width, 1, stride=stride, activation=None)]
            stage_layers.append(residual(name, f, shortcut,
                                         after=[act("relu", "activation")]))
            channels = width
        trunk.append(sequential(f"block{stage}", stage_layers))
    return [*layers, sequential("trunk_output", trunk), adaptive_avgpool("avgpool", 1),
            _layer("flatten", "flatten"), linear("fc", 1000)]


# --------------------------------------------------------------------------- the entries

_ALEXNET = """\
AlexNet as torchvision builds it (torchvision.models.alexnet): the one-GPU variant of
Krizhevsky, Sutskever & Hinton 2012 ("One weird trick...", Krizhevsky 2014): 64/192 filters
in the first two convs, no local response normalisation, an adaptive average pool to 6x6.

Layer names are torchvision's module names (features.0 ... classifier.6)."""

_VGG = """\
VGG-{depth}{bn} (Simonyan & Zisserman 2015, "Very deep convolutional networks for large-scale
image recognition", configuration {config}) as torchvision builds it
(torchvision.models.{builder}): 3x3 convs with bias{bn_text}, 2x2 max pools, an adaptive
average pool to 7x7 and three fully connected layers.

Layer names are torchvision's module names (features.0 ..., classifier.0 ... .6)."""

_RESNET = """\
{title} as torchvision builds it (torchvision.models.{builder}){v15}.
{paper}

Names follow torchvision (conv1, layer1.0.conv1, layer2.0.downsample.0, fc, ...).
torchvision's block uses one ReLU module inside its body and once more after the addition;
here the ones inside are relu1{relu2}, and the one after the addition is the block's `after`
layer, relu (layer1.0.relu). A body that repeats is written once with an anchor
(&{anchor}64, ...) and reused with an alias."""

_RESNET_PAPER = ('He, Zhang, Ren & Sun 2016, "Deep residual learning for image recognition".'
                 '\n{block} blocks {blocks}.')
_RESNEXT_PAPER = ('Xie, Girshick, Dollar, Tu & He 2017, "Aggregated residual transformations '
                  'for deep\nneural networks": bottleneck blocks {blocks} whose 3x3 conv has '
                  '{groups} groups of width {width}.')
_WIDE_PAPER = ('Zagoruyko & Komodakis 2016, "Wide residual networks": ResNet-{depth}\'s '
               'bottleneck blocks\n{blocks} with the inner 3x3 conv twice as wide.')

_DENSENET = """\
DenseNet-{depth} (Huang, Liu, van der Maaten & Weinberger 2017, "Densely connected
convolutional networks") as torchvision builds it (torchvision.models.{builder}):
DenseNet-BC with growth rate {growth}, {init} initial features, dense blocks of {blocks}
layers, and transitions that halve the channels and the size.

A dense layer concatenates its output to its input: a `parallel` whose first branch is the
identity ([]). Every dense layer has the same body (&denselayer), since its input width is
not written. Names follow torchvision (features.denseblock1.denselayer1.norm1, ...)."""

_SQUEEZENET = """\
SqueezeNet {version} (Iandola, Han, Moskewicz, Ashraf, Dally & Keutzer 2016, "SqueezeNet:
AlexNet-level accuracy with 50x fewer parameters and <0.5MB model size") as torchvision builds
it (torchvision.models.{builder}).

Names follow torchvision (features.3.squeeze, classifier.1, ...), but for one level: a Fire
module's two expand branches are a `parallel` named `expand` (features.3.expand.expand1x1 is
torchvision's features.3.expand1x1)."""

_GOOGLENET = """\
GoogLeNet (Szegedy et al. 2015, "Going deeper with convolutions") as torchvision builds it
(torchvision.models.googlenet): BasicConv2d = bias-free conv + batch norm (eps 0.001) + ReLU;
torchvision's "5x5" branch uses a 3x3 kernel. Without the two auxiliary classifiers:
torchvision's pretrained GoogLeNet drops them, and its published parameters exclude them.

Names follow torchvision (conv1.conv, inception3a.branch2.1.conv, fc, ...)."""

_MOBILENET_V2 = """\
MobileNetV2 (Sandler, Howard, Zhu, Zhmoginov & Chen 2018, "MobileNetV2: inverted residuals
and linear bottlenecks") as torchvision builds it (torchvision.models.mobilenet_v2, width
1.0): a 3x3 stride-2 stem, 17 inverted residual blocks, a 1x1 conv to 1280 channels, global
average pool, dropout 0.2 and a linear layer. A block adds its input back only when its stride
is 1 and its channels do not change: those blocks are `residual`, the others `sequential`.

Names follow torchvision (features.0.0, features.2.conv.1.0, features.18.0, classifier.1)."""

_MNASNET = """\
MNASNet {alpha} (Tan, Chen, Pang, Vasudevan, Sandler, Howard & Le 2019, "MnasNet:
platform-aware neural architecture search for mobile") as torchvision builds it
(torchvision.models.{builder}): depths {depths}, inverted residual stacks with 3x3 and 5x5
depthwise convs, a 1x1 conv to 1280 channels, a spatial mean, dropout 0.2 and a linear layer.

Names follow torchvision (layers.8.0.layers.3, classifier.1, ...)."""

_REGNET = """\
RegNetX-{flops} (Radosavovic, Kosaraju, Girshick, He & Dollar 2020, "Designing network design
spaces") as torchvision builds it (torchvision.models.{builder}): depth {depth}, w_0 {w_0},
w_a {w_a}, w_m {w_m}, group width {group}, which give stages of {stages}.

No squeeze-and-excitation (that is RegNetY). Names follow torchvision
(stem.0, trunk_output.block1.block1-0.f.b.0, fc); the ReLU after each addition is the
block's `after` layer (trunk_output.block1.block1-0.activation)."""


@dataclass(frozen=True)
class Entry:
    """One zoo entry: its torchvision builder name, header comment, input size and layers."""

    name: str
    header: str
    layers: list[Layer]
    input_size: int = 224


def _resnet_entry(builder: str, title: str, blocks: list[int], bottleneck: bool,
                  groups: int = 1, width_per_group: int = 64) -> Entry:
    counts = "[" + ", ".join(map(str, blocks)) + "]"
    if groups > 1:
        paper = _RESNEXT_PAPER.format(blocks=counts, groups=groups, width=width_per_group)
    elif width_per_group != 64:
        paper = _WIDE_PAPER.format(depth=sum(blocks) * 3 + 2, blocks=counts)
    else:
        paper = _RESNET_PAPER.format(block="Bottleneck" if bottleneck else "Basic",
                                     blocks=counts)
    v15 = (",\nwith the stride-2 on the 3x3 conv of the first Bottleneck of layer2-4 "
           '("ResNet v1.5")') if bottleneck else ""
    header = _RESNET.format(title=title, builder=builder, v15=v15, paper=paper,
                            anchor="bottleneck" if bottleneck else "basic",
                            relu2=" and relu2" if bottleneck else "")
    return Entry(builder, header, resnet(blocks, bottleneck, groups, width_per_group))


REGNET_X = {  # torchvision's regnet_x_* builders: depth, w_0, w_a, w_m, group width
    "400mf": (22, 24, 24.48, 2.54, 16),
    "800mf": (16, 56, 35.73, 2.28, 16),
    "1_6gf": (18, 80, 34.01, 2.25, 24),
    "3_2gf": (25, 88, 26.31, 2.25, 48),
    "8gf": (23, 80, 49.56, 2.88, 120),
    "16gf": (22, 216, 55.59, 2.1, 128),
    "32gf": (23, 320, 69.86, 2.0, 168),
}


def entries() -> list[Entry]:
    """Return every zoo entry, in torchvision's order of families."""
    found = [Entry("alexnet", _ALEXNET, alexnet())]
    for depth, config in [(11, "A"), (13, "B"), (16, "D"), (19, "E")]:
        for bn in (False, True):
            builder = f"vgg{depth}{'_bn' if bn else ''}"
            header = _VGG.format(depth=depth, bn=" with batch norm" if bn else "",
                                 config=config, builder=builder,
                                 bn_text=", each followed by batch norm" if bn else "")
            found.append(Entry(builder, header, vgg(config, bn)))
    for depth, blocks in [(18, [2, 2, 2, 2]), (34, [3, 4, 6, 3]), (50, [3, 4, 6, 3]),
                          (101, [3, 4, 23, 3]), (152, [3, 8, 36, 3])]:
        found.append(_resnet_entry(f"resnet{depth}", f"ResNet-{depth}", blocks, depth >= 50))
    for builder, title, blocks, groups, width in [
        ("resnext50_32x4d", "ResNeXt-50 32x4d", [3, 4, 6, 3], 32, 4),
        ("resnext101_32x8d", "ResNeXt-101 32x8d", [3, 4, 23, 3], 32, 8),
        ("resnext101_64x4d", "ResNeXt-101 64x4d", [3, 4, 23, 3], 64, 4),
        ("wide_resnet50_2", "Wide ResNet-50-2", [3, 4, 6, 3], 1, 128),
        ("wide_resnet101_2", "Wide ResNet-101-2", [3, 4, 23, 3], 1, 128),
    ]:
        found.append(_resnet_entry(builder, title, blocks, True, groups, width))
    for depth, growth, blocks, init in [(121, 32, [6, 12, 24, 16], 64),
                                        (161, 48, [6, 12, 36, 24], 96),
                                        (169, 32, [6, 12, 32, 32], 64),
                                        (201, 32, [6, 12, 48, 32], 64)]:
        builder = f"densenet{depth}"
        header = _DENSENET.format(depth=depth, builder=builder, growth=growth, init=init,
                                  blocks=", ".join(map(str, blocks)))
        found.append(Entry(builder, header, densenet(growth, blocks, init)))
    for version in ("1_0", "1_1"):
        builder = f"squeezenet{version}"
        header = _SQUEEZENET.format(version=version.replace("_", "."), builder=builder)
        found.append(Entry(builder, header, squeezenet(version)))
    found.append(Entry("googlenet", _GOOGLENET, googlenet()))
    found.append(Entry("mobilenet_v2", _MOBILENET_V2, mobilenet_v2()))
    for alpha in (0.5, 0.75, 1.0, 1.3):
        builder = f"mnasnet{str(alpha).replace('.', '_')}"
        depths = [_round_to_multiple_of(d * alpha, 8) for d in [32, 16, 24, 40, 80, 96, 192, 320]]
        header = _MNASNET.format(alpha=alpha, builder=builder,
                                 depths=", ".join(map(str, depths)))
        found.append(Entry(builder, header, mnasnet(alpha)))
    for flops, (depth, w_0, w_a, w_m, group) in REGNET_X.items():
        builder = f"regnet_x_{flops}"
        stages = regnet_stages(depth, w_0, w_a, w_m, group)
        text = ", ".join(f"{n}x{w}" for w, n, _ in stages) + " (blocks x width)"
        header = _REGNET.format(flops=flops.replace("_", ".").upper(), builder=builder,
                                depth=depth, w_0=w_0, w_a=w_a, w_m=w_m, group=group,
                                stages=text)
        found.append(Entry(builder, header, regnet_x(depth, w_0, w_a, w_m, group)))
    found += shufflenet_entries()
    found += modern_entries()
    return found


# --------------------------------------------------------------------------- ShuffleNetV2


def _depthwise(name: str, channels: int, stride: int) -> Layer:
    """torchvision's InvertedResidual.depthwise_conv: 3x3, padding 1, one group a channel."""
    return _layer("conv", name, filters=channels, kernel=3, stride=stride if stride != 1 else None,
                  padding=1, groups="depthwise", bias=False)


def _shufflenet_branch2(half: int, stride: int) -> Layer:
    """torchvision's branch2: 1x1 conv, BN, ReLU, depthwise 3x3, BN, 1x1 conv, BN, ReLU."""
    return sequential("branch2", [
        conv("0", half, 1, bias=False), batchnorm("1"), act("relu", "2"),
        _depthwise("3", half, stride), batchnorm("4"),
        conv("5", half, 1, bias=False), batchnorm("6"), act("relu", "7"),
    ])


def shufflenet_v2(stages_repeats: list[int], stages_out_channels: list[int]) -> list[Layer]:
    """torchvision's ShuffleNetV2: a stem, three stages of InvertedResiduals, conv5, fc.

    A stride-2 block runs branch1 and branch2 on the whole input; a stride-1 block splits
    the channels in two (``chunk(2)``: two slices), keeps the first half and runs branch2
    on the second. Each block's concatenation is shuffled in 2 groups.
    """
    stem = stages_out_channels[0]
    layers: list[Layer] = [
        sequential("conv1", [conv("0", stem, 3, stride=2, padding=1, bias=False),
                             batchnorm("1"), act("relu", "2")]),
        maxpool("maxpool", 3, 2, padding=1),
    ]
    channels = stem
    for stage, repeats, out in zip((2, 3, 4), stages_repeats, stages_out_channels[1:4],
                                   strict=True):
        half = out // 2
        blocks: list[Layer] = []
        for index in range(repeats):
            branches: list[Body | list[Layer]]
            if index == 0:
                branches = [
                    [sequential("branch1", [
                        _depthwise("0", channels, 2), batchnorm("1"),
                        conv("2", half, 1, bias=False), batchnorm("3"), act("relu", "4"),
                    ])],
                    [_shufflenet_branch2(half, 2)],
                ]
            else:
                branches = [
                    body(f"x1_{out}", [_layer("slice", "x1", channels=[0, half])]),
                    body(f"x2_{out}", [_layer("slice", "x2", channels=[half, out]),
                                       _shufflenet_branch2(half, 1)]),
                ]
            blocks.append(parallel(str(index), branches,
                                   after=[_layer("channel_shuffle", "shuffle", groups=2)]))
            channels = out
        layers.append(sequential(f"stage{stage}", blocks))
    last = stages_out_channels[4]
    layers += [
        sequential("conv5", [conv("0", last, 1, bias=False), batchnorm("1"), act("relu", "2")]),
        _layer("global_avgpool", "mean"), linear("fc", 1000),
    ]
    return layers


_SHUFFLENET = """\
ShuffleNetV2 {width} (Ma, Zhang, Zheng & Sun 2018, "ShuffleNet V2: practical guidelines for
efficient CNN architecture design") as torchvision builds it (torchvision.models.{builder}):
a 3x3 stride-2 stem and a max pool, stages of {repeats} blocks of widths {widths}, a 1x1 conv
to {last} channels, a spatial mean and a linear layer.

A stride-1 block splits its channels in half (torchvision's chunk): a `parallel` whose first
branch keeps the first half (`slice` x1) and whose second takes the other half (`slice` x2)
through branch2; a stride-2 block runs branch1 and branch2 on the whole input. The branches
are concatenated, then shuffled in 2 groups (`channel_shuffle`). The 3x3 convs of the
branches are depthwise (`groups: depthwise`).

Names follow torchvision (conv1.0, stage2.0.branch1.0, stage3.1.branch2.3, conv5.0, fc); the
channel shuffle, which torchvision does in the block's forward, runs on the concatenation
inside the block (`after:`), named "shuffle" (stage2.0.shuffle, ...). A body that repeats
is written once with an anchor (&x2_116, ...) and reused with an alias."""

SHUFFLENET_V2 = {  # torchvision's shufflenet_v2_* builders: stages_out_channels
    "x0_5": [24, 48, 96, 192, 1024],
    "x1_0": [24, 116, 232, 464, 1024],
    "x1_5": [24, 176, 352, 704, 1024],
    "x2_0": [24, 244, 488, 976, 2048],
}
SHUFFLENET_V2_REPEATS = [4, 8, 4]
"""Blocks per stage, the same for every width."""


def shufflenet_entries() -> list[Entry]:
    """Return the ShuffleNetV2 entries, by width."""
    found = []
    for width, widths in SHUFFLENET_V2.items():
        builder = f"shufflenet_v2_{width}"
        header = _SHUFFLENET.format(
            width=width.replace("_", ".").lstrip("x") + "x", builder=builder,
            repeats=", ".join(map(str, SHUFFLENET_V2_REPEATS)),
            widths=", ".join(map(str, widths[1:4])), last=widths[4])
        found.append(Entry(builder, header, shufflenet_v2(SHUFFLENET_V2_REPEATS, widths)))
    return found


# --------------------------------------------------------------------------- modern CNNs
# MobileNetV3, EfficientNet (V1 and V2), RegNetY, ConvNeXt and Inception v3: the families that
# need squeeze-and-excitation (`parallel` with `merge: mul`), `after`, `aux`, `hardsigmoid`,
# `layernorm`, `layer_scale`, `stochastic_depth` and `groups: depthwise`.


def _cna(name: str, filters: int, kernel: int, stride: int = 1, groups: int | str = 1,
         activation: str | None = "relu", eps: float | None = None) -> Layer:
    """torchvision's Conv2dNormActivation with batch norm of ``eps`` (None: 1e-5)."""
    layers = [conv("0", filters, kernel, stride=stride, padding=(kernel - 1) // 2,
                   groups=groups, bias=False), batchnorm("1", eps=eps)]
    if activation:
        layers.append(act(activation, "2"))
    return sequential(name, layers)


def _squeeze_excitation(name: str, channels: int, squeeze: int, activation: str = "relu",
                        gate: str = "sigmoid") -> Layer:
    """torchvision.ops.SqueezeExcitation: the input times a per-channel gate computed from
    its spatial mean; a `parallel` whose first branch is the identity, merged by `mul`."""
    scale = body(f"se{channels}_{squeeze}", [
        adaptive_avgpool("avgpool", 1), conv("fc1", squeeze, 1), act(activation, "activation"),
        conv("fc2", channels, 1), act(gate, "scale_activation")])
    return parallel(name, [[], scale], merge="mul")


# torchvision's mobilenetv3.py bneck_conf rows: input, kernel, expanded, output, SE,
# activation (RE = relu, HS = hardswish), stride; then the last conv's and the classifier's
# widths. Width multiplier 1.0, no dilation: every width is already a multiple of 8.
MOBILENET_V3: dict[str, tuple[list[tuple[int, int, int, int, bool, str, int]], int, int]] = {
    "large": ([
        (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
        (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
        (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
        (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
        (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
        (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
        (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1),
        (160, 5, 960, 160, True, "HS", 1),
    ], 960, 1280),
    "small": ([
        (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2),
        (24, 3, 88, 24, False, "RE", 1), (24, 5, 96, 40, True, "HS", 2),
        (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
        (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1),
        (48, 5, 288, 96, True, "HS", 2), (96, 5, 576, 96, True, "HS", 1),
        (96, 5, 576, 96, True, "HS", 1),
    ], 576, 1024),
}


def mobilenet_v3(size: str) -> list[Layer]:
    """torchvision's MobileNetV3: batch norm eps 0.001, SE gated by hardsigmoid."""
    settings, last_conv, last_channel = MOBILENET_V3[size]
    eps = 0.001
    features = [_cna("0", settings[0][0], 3, stride=2, activation="hardswish", eps=eps)]
    for in_ch, kernel, expanded, out, use_se, activation_name, stride in settings:
        activation = "hardswish" if activation_name == "HS" else "relu"
        layers: list[Layer] = []
        if expanded != in_ch:
            layers.append(_cna("0", expanded, 1, activation=activation, eps=eps))
        layers.append(_cna(str(len(layers)), expanded, kernel, stride=stride,
                           groups="depthwise", activation=activation, eps=eps))
        if use_se:
            layers.append(_squeeze_excitation(str(len(layers)), expanded,
                                              _make_divisible(expanded // 4, 8),
                                              gate="hardsigmoid"))
        layers.append(_cna(str(len(layers)), out, 1, activation=None, eps=eps))
        label = (f"bneck{expanded}_{out}_k{kernel}_s{stride}_{activation_name.lower()}"
                 f"{'_se' if use_se else ''}")
        block = body(label, [sequential("block", layers)])
        name = str(len(features))
        if stride == 1 and in_ch == out:
            features.append(residual(name, block))
        else:
            features.append(sequential(name, block))
    features.append(_cna(str(len(features)), last_conv, 1, activation="hardswish", eps=eps))
    classifier = [linear("0", last_channel), act("hardswish", "1"), dropout("2", 0.2),
                  linear("3", 1000)]
    return [sequential("features", features), _layer("global_avgpool", "avgpool"),
            sequential("classifier", classifier)]


@dataclass(frozen=True)
class MBConvStage:
    """One row of torchvision's EfficientNet settings (MBConvConfig or FusedMBConvConfig)."""

    fused: bool
    expand_ratio: int
    kernel: int
    stride: int
    input_channels: int
    out_channels: int
    num_layers: int


def _efficientnet_v1_stages(width_mult: float, depth_mult: float) -> list[MBConvStage]:
    """torchvision's EfficientNet-B settings, widths and depths scaled as MBConvConfig does."""
    base = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
            (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
            (6, 3, 1, 192, 320, 1)]
    return [MBConvStage(False, ratio, kernel, stride, _make_divisible(in_ch * width_mult, 8),
                        _make_divisible(out * width_mult, 8),
                        math.ceil(layers * depth_mult))
            for ratio, kernel, stride, in_ch, out, layers in base]


# torchvision's efficientnet_v2_* settings: fused?, expansion, kernel, stride, input, output,
# blocks (not scaled).
EFFICIENTNET_V2: dict[str, list[tuple[bool, int, int, int, int, int, int]]] = {
    "s": [(True, 1, 3, 1, 24, 24, 2), (True, 4, 3, 2, 24, 48, 4), (True, 4, 3, 2, 48, 64, 4),
          (False, 4, 3, 2, 64, 128, 6), (False, 6, 3, 1, 128, 160, 9),
          (False, 6, 3, 2, 160, 256, 15)],
    "m": [(True, 1, 3, 1, 24, 24, 3), (True, 4, 3, 2, 24, 48, 5), (True, 4, 3, 2, 48, 80, 5),
          (False, 4, 3, 2, 80, 160, 7), (False, 6, 3, 1, 160, 176, 14),
          (False, 6, 3, 2, 176, 304, 18), (False, 6, 3, 1, 304, 512, 5)],
    "l": [(True, 1, 3, 1, 32, 32, 4), (True, 4, 3, 2, 32, 64, 7), (True, 4, 3, 2, 64, 96, 7),
          (False, 4, 3, 2, 96, 192, 10), (False, 6, 3, 1, 192, 224, 19),
          (False, 6, 3, 2, 224, 384, 25), (False, 6, 3, 1, 384, 640, 7)],
}


def _mbconv_layers(stage: MBConvStage, in_ch: int, stride: int,
                   eps: float | None) -> list[Layer]:
    """An MBConv's or FusedMBConv's ``block``: torchvision's layer list for one block."""
    expanded = _make_divisible(in_ch * stage.expand_ratio, 8)
    out, kernel = stage.out_channels, stage.kernel
    if stage.fused:
        if expanded == in_ch:
            return [_cna("0", out, kernel, stride=stride, activation="silu", eps=eps)]
        return [_cna("0", expanded, kernel, stride=stride, activation="silu", eps=eps),
                _cna("1", out, 1, activation=None, eps=eps)]
    layers: list[Layer] = []
    if expanded != in_ch:
        layers.append(_cna("0", expanded, 1, activation="silu", eps=eps))
    layers.append(_cna(str(len(layers)), expanded, kernel, stride=stride, groups="depthwise",
                       activation="silu", eps=eps))
    layers.append(_squeeze_excitation(str(len(layers)), expanded, max(1, in_ch // 4),
                                      activation="silu"))
    layers.append(_cna(str(len(layers)), out, 1, activation=None, eps=eps))
    return layers


def efficientnet(stages: list[MBConvStage], dropout_p: float, last_channel: int | None,
                 eps: float | None) -> list[Layer]:
    """torchvision's EfficientNet (V1 and V2): stochastic depth 0.2 rising linearly with the
    block's index, applied where a block adds its input back."""
    features = [_cna("0", stages[0].input_channels, 3, stride=2, activation="silu", eps=eps)]
    total_blocks = sum(stage.num_layers for stage in stages)
    block_id = 0
    for stage in stages:
        blocks: list[Layer] = []
        for index in range(stage.num_layers):
            in_ch = stage.input_channels if index == 0 else stage.out_channels
            stride = stage.stride if index == 0 else 1
            kind = "fused" if stage.fused else "mbconv"
            label = f"{kind}{in_ch}_{stage.out_channels}_k{stage.kernel}_s{stride}"
            block = sequential("block", body(label, _mbconv_layers(stage, in_ch, stride, eps)))
            if stride == 1 and in_ch == stage.out_channels:
                # torchvision computes the probability in floats; rounding hides the noise
                # (0.037500000000000006) without changing a value it meant.
                p = round(0.2 * block_id / total_blocks, 10)
                blocks.append(residual(str(index), [
                    block, _layer("stochastic_depth", "stochastic_depth", p=p)]))
            else:
                blocks.append(sequential(str(index), [block]))
            block_id += 1
        features.append(sequential(str(len(features)), blocks))
    last = last_channel or 4 * stages[-1].out_channels
    features.append(_cna(str(len(features)), last, 1, activation="silu", eps=eps))
    return [sequential("features", features), _layer("global_avgpool", "avgpool"),
            sequential("classifier", [dropout("0", dropout_p), linear("1", 1000)])]


def regnet_y(depth: int, w_0: int, w_a: float, w_m: float, group_width: int) -> list[Layer]:
    """torchvision's RegNetY: RegNetX's blocks with squeeze-and-excitation after the grouped
    conv, squeezing to a quarter of the block's input width."""
    layers: list[Layer] = [_cna("stem", 32, 3, stride=2)]
    channels = 32
    trunk: list[Layer] = []
    for stage, (width, blocks, group) in enumerate(
            regnet_stages(depth, w_0, w_a, w_m, group_width), 1):
        stage_layers: list[Layer] = []
        for index in range(blocks):
            stride = 2 if index == 0 else 1
            squeeze = round(0.25 * channels)
            f = body(f"y{width}_se{squeeze}_s{stride}", [sequential("f", [
                _cna("a", width, 1),
                _cna("b", width, 3, stride=stride, groups=width // group),
                _squeeze_excitation("se", width, squeeze),
                _cna("c", width, 1, activation=None),
            ])])
            shortcut = None
            if channels != width or stride != 1:
                shortcut = [_cna("proj", width, 1, stride=stride, activation=None)]
            stage_layers.append(residual(f"block{stage}-{index}", f, shortcut,
                                         after=[act("relu", "activation")]))
            channels = width
        trunk.append(sequential(f"block{stage}", stage_layers))
    return [*layers, sequential("trunk_output", trunk), adaptive_avgpool("avgpool", 1),
            _layer("flatten", "flatten"), linear("fc", 1000)]


def _layernorm(name: str) -> Layer:
    """ConvNeXt's LayerNorm (over the channels at each position), eps 1e-6."""
    return _layer("layernorm", name, eps=1e-6)


def convnext(widths: list[int], depths: list[int], stochastic_depth_prob: float) -> list[Layer]:
    """torchvision's ConvNeXt: a CNBlock's channels-last LayerNorm and Linears are written
    channels first, as a layernorm and 1x1 convs (the same parameters and MACs)."""
    features: list[Layer] = [sequential("0", [conv("0", widths[0], 4, stride=4),
                                              _layernorm("1")])]
    total_blocks = sum(depths)
    block_id = 0
    for stage, (width, depth) in enumerate(zip(widths, depths, strict=True)):
        block = sequential("block", body(f"cnblock{width}", [
            conv("0", width, 7, padding=3, groups="depthwise"),
            _layernorm("2"),
            conv("3", 4 * width, 1),
            act("gelu", "4"),
            conv("5", width, 1),
        ]))
        blocks: list[Layer] = []
        for index in range(depth):
            p = round(stochastic_depth_prob * block_id / (total_blocks - 1.0), 10)
            blocks.append(residual(str(index), [
                block, _layer("layer_scale", "layer_scale"),
                _layer("stochastic_depth", "stochastic_depth", p=p)]))
            block_id += 1
        features.append(sequential(str(len(features)), blocks))
        if stage + 1 < len(widths):
            features.append(sequential(str(len(features)), [
                _layernorm("0"), conv("1", widths[stage + 1], 2, stride=2)]))
    classifier = [_layernorm("0"), _layer("flatten", "1"), linear("2", 1000)]
    return [sequential("features", features), adaptive_avgpool("avgpool", 1),
            sequential("classifier", classifier)]


def _v3_conv(name: str, filters: int, kernel: int | list[int], stride: int = 1,
             padding: int | list[int] = 0) -> Layer:
    """Inception v3's BasicConv2d: a bias-free conv, batch norm (eps 0.001) and a ReLU."""
    return sequential(name, [conv("conv", filters, kernel, stride=stride, padding=padding,
                                  bias=False),
                             batchnorm("bn", eps=0.001), act("relu", "relu")])


def _avg_pool_3x3() -> Layer:
    """The functional 3x3 average pool before a branch_pool conv (not a torchvision module)."""
    return _layer("avgpool", "avg_pool", kernel=3, stride=1, padding=1)


def _inception_a(name: str, pool_features: int) -> Layer:
    return parallel(name, [
        [_v3_conv("branch1x1", 64, 1)],
        [_v3_conv("branch5x5_1", 48, 1), _v3_conv("branch5x5_2", 64, 5, padding=2)],
        [_v3_conv("branch3x3dbl_1", 64, 1), _v3_conv("branch3x3dbl_2", 96, 3, padding=1),
         _v3_conv("branch3x3dbl_3", 96, 3, padding=1)],
        [_avg_pool_3x3(), _v3_conv("branch_pool", pool_features, 1)],
    ])


def _inception_b(name: str) -> Layer:
    return parallel(name, [
        [_v3_conv("branch3x3", 384, 3, stride=2)],
        [_v3_conv("branch3x3dbl_1", 64, 1), _v3_conv("branch3x3dbl_2", 96, 3, padding=1),
         _v3_conv("branch3x3dbl_3", 96, 3, stride=2)],
        [maxpool("max_pool", 3, 2)],
    ])


def _inception_c(name: str, c7: int) -> Layer:
    return parallel(name, [
        [_v3_conv("branch1x1", 192, 1)],
        [_v3_conv("branch7x7_1", c7, 1),
         _v3_conv("branch7x7_2", c7, [1, 7], padding=[0, 3]),
         _v3_conv("branch7x7_3", 192, [7, 1], padding=[3, 0])],
        [_v3_conv("branch7x7dbl_1", c7, 1),
         _v3_conv("branch7x7dbl_2", c7, [7, 1], padding=[3, 0]),
         _v3_conv("branch7x7dbl_3", c7, [1, 7], padding=[0, 3]),
         _v3_conv("branch7x7dbl_4", c7, [7, 1], padding=[3, 0]),
         _v3_conv("branch7x7dbl_5", 192, [1, 7], padding=[0, 3])],
        [_avg_pool_3x3(), _v3_conv("branch_pool", 192, 1)],
    ])


def _inception_d(name: str) -> Layer:
    return parallel(name, [
        [_v3_conv("branch3x3_1", 192, 1), _v3_conv("branch3x3_2", 320, 3, stride=2)],
        [_v3_conv("branch7x7x3_1", 192, 1),
         _v3_conv("branch7x7x3_2", 192, [1, 7], padding=[0, 3]),
         _v3_conv("branch7x7x3_3", 192, [7, 1], padding=[3, 0]),
         _v3_conv("branch7x7x3_4", 192, 3, stride=2)],
        [maxpool("max_pool", 3, 2)],
    ])


def _inception_e(name: str) -> Layer:
    # torchvision concatenates a 1x3 and a 3x1 conv of the same input: a `parallel` of its own.
    return parallel(name, [
        [_v3_conv("branch1x1", 320, 1)],
        [_v3_conv("branch3x3_1", 384, 1), parallel("branch3x3_2", [
            [_v3_conv("branch3x3_2a", 384, [1, 3], padding=[0, 1])],
            [_v3_conv("branch3x3_2b", 384, [3, 1], padding=[1, 0])]])],
        [_v3_conv("branch3x3dbl_1", 448, 1), _v3_conv("branch3x3dbl_2", 384, 3, padding=1),
         parallel("branch3x3dbl_3", [
             [_v3_conv("branch3x3dbl_3a", 384, [1, 3], padding=[0, 1])],
             [_v3_conv("branch3x3dbl_3b", 384, [3, 1], padding=[1, 0])]])],
        [_avg_pool_3x3(), _v3_conv("branch_pool", 192, 1)],
    ])


def inception_v3() -> list[Layer]:
    """torchvision's Inception3 with its auxiliary classifier after Mixed_6e."""
    head = aux("AuxLogits", [
        avgpool("avg_pool", 5, 3), _v3_conv("conv0", 128, 1), _v3_conv("conv1", 768, 5),
        adaptive_avgpool("adaptive_avg_pool", 1), _layer("flatten", "flatten"),
        linear("fc", 1000)])
    return [
        _v3_conv("Conv2d_1a_3x3", 32, 3, stride=2), _v3_conv("Conv2d_2a_3x3", 32, 3),
        _v3_conv("Conv2d_2b_3x3", 64, 3, padding=1), maxpool("maxpool1", 3, 2),
        _v3_conv("Conv2d_3b_1x1", 80, 1), _v3_conv("Conv2d_4a_3x3", 192, 3),
        maxpool("maxpool2", 3, 2),
        _inception_a("Mixed_5b", 32), _inception_a("Mixed_5c", 64),
        _inception_a("Mixed_5d", 64),
        _inception_b("Mixed_6a"),
        _inception_c("Mixed_6b", 128), _inception_c("Mixed_6c", 160),
        _inception_c("Mixed_6d", 160), _inception_c("Mixed_6e", 192),
        head,
        _inception_d("Mixed_7a"), _inception_e("Mixed_7b"), _inception_e("Mixed_7c"),
        adaptive_avgpool("avgpool", 1), dropout("dropout", 0.5), _layer("flatten", "flatten"),
        linear("fc", 1000),
    ]


_MOBILENET_V3 = """\
MobileNetV3-{title} (Howard et al. 2019, "Searching for MobileNetV3") as torchvision builds it
(torchvision.models.{builder}, width 1.0): inverted residual blocks with 3x3 and 5x5
depthwise convs, ReLU or hardswish, and in some blocks squeeze-and-excitation gated by
hardsigmoid; a 1x1 conv to {last_conv} channels, global average pool, a {last_channel}-unit
linear layer with hardswish, dropout 0.2 and the classifier. Batch norm eps 0.001.

Squeeze-and-excitation is a `parallel` whose first branch is the identity ([]) and whose
second computes the per-channel gate, merged by `mul`. A block adds its input back only when
its stride is 1 and its channels do not change: those blocks are `residual`. Names follow
torchvision (features.4.block.2.fc1, classifier.3)."""

_EFFICIENTNET = """\
EfficientNet-{title} (Tan & Le 2019, "EfficientNet: rethinking model scaling for
convolutional neural networks") as torchvision builds it (torchvision.models.{builder}):
width {width}, depth {depth} times B0's, MBConv blocks with depthwise convs, SiLU and
squeeze-and-excitation (to a quarter of the block's input width), a 1x1 conv to {last}
channels, global average pool, dropout {dropout} and a linear layer.{eps_text}

Squeeze-and-excitation is a `parallel` whose first branch is the identity ([]), merged by
`mul`. Blocks that add their input back are `residual`, with torchvision's stochastic depth
(0.2 times the block's index over the number of blocks; the identity when counting). Names
follow torchvision (features.2.0.block.2.fc1, classifier.1)."""

_EFFICIENTNET_V2 = """\
EfficientNetV2-{title} (Tan & Le 2021, "EfficientNetV2: smaller models and faster training")
as torchvision builds it (torchvision.models.{builder}): Fused-MBConv blocks (a full 3x3 conv
in place of expand and depthwise, no squeeze-and-excitation) in the first three stages,
MBConv blocks with squeeze-and-excitation after them; a 1x1 conv to 1280 channels, global
average pool, dropout {dropout} and a linear layer. Batch norm eps 0.001.

Squeeze-and-excitation is a `parallel` whose first branch is the identity ([]), merged by
`mul`. Blocks that add their input back are `residual`, with torchvision's stochastic depth
(0.2 times the block's index over the number of blocks; the identity when counting). Names
follow torchvision (features.4.0.block.2.fc1, classifier.1)."""

_REGNET_Y = """\
RegNetY-{flops} (Radosavovic, Kosaraju, Girshick, He & Dollar 2020, "Designing network design
spaces") as torchvision builds it (torchvision.models.{builder}): depth {depth}, w_0 {w_0},
w_a {w_a}, w_m {w_m}, group width {group}, which give stages of {stages}; each block has
squeeze-and-excitation after its grouped 3x3 conv, squeezing to a quarter of the block's
input width.

Squeeze-and-excitation is a `parallel` whose first branch is the identity ([]), merged by
`mul`. Names follow torchvision (stem.0, trunk_output.block1.block1-0.f.se.fc1, fc); the ReLU
after each addition is the block's `after` layer (trunk_output.block1.block1-0.activation)."""

_CONVNEXT = """\
ConvNeXt-{title} (Liu, Mao, Wu, Feichtenhofer, Darrell & Xie 2022, "A ConvNet for the
2020s") as torchvision builds it (torchvision.models.{builder}): a 4x4 stride-4 stem, stages
of {depths} blocks of widths {widths} with 2x2 stride-2 downsampling between them, LayerNorm
(eps 1e-6) over the channels, global average pool and a linear layer.

A block is a 7x7 depthwise conv, LayerNorm, a 4x wide MLP with GELU, layer scale (init 1e-6)
and stochastic depth ({sd} times the block's index over the number of blocks less one; the
identity when counting), plus its input. torchvision runs the block's LayerNorm and two
Linears channels last; here they are a layernorm and 1x1 convs (the same parameters and
MACs), named as torchvision's modules (features.1.0.block.3 is its first Linear); the
Permutes, block.1 and block.6, have no rows. features.1.0.layer_scale is torchvision's
parameter of the block itself."""

_INCEPTION_V3 = """\
Inception v3 (Szegedy, Vanhoucke, Ioffe, Shlens & Wojna 2016, "Rethinking the Inception
architecture for computer vision") as torchvision builds it (torchvision.models.inception_v3,
aux_logits=True): BasicConv2d = bias-free conv + batch norm (eps 0.001) + ReLU; Inception
blocks A (Mixed_5b-d), B (6a), C (6b-e, with 1x7 and 7x1 convs), D (7a) and E (7b, 7c).

The auxiliary classifier after Mixed_6e is an `aux` head (AuxLogits): its parameters count,
as in torchvision's published 27,161,264, and its MACs do not, as it runs in training only.
Names follow torchvision (Mixed_5b.branch5x5_1.conv, AuxLogits.fc, fc), but for one level:
InceptionE's two split branches are a `parallel` each (Mixed_7b.branch3x3_2.branch3x3_2a is
torchvision's Mixed_7b.branch3x3_2a); the functional pools are avg_pool and max_pool."""

EFFICIENTNET_B = {  # torchvision's efficientnet_b*: width, depth, dropout, batch norm eps
    0: (1.0, 1.0, 0.2, None), 1: (1.0, 1.1, 0.2, None), 2: (1.1, 1.2, 0.3, None),
    3: (1.2, 1.4, 0.3, None), 4: (1.4, 1.8, 0.4, None), 5: (1.6, 2.2, 0.4, 0.001),
    6: (1.8, 2.6, 0.5, 0.001), 7: (2.0, 3.1, 0.5, 0.001),
}
EFFICIENTNET_V2_DROPOUT = {"s": 0.2, "m": 0.3, "l": 0.4}

REGNET_Y = {  # torchvision's regnet_y_* builders: depth, w_0, w_a, w_m, group width
    "400mf": (16, 48, 27.89, 2.09, 8),
    "800mf": (14, 56, 38.84, 2.4, 16),
    "1_6gf": (27, 48, 20.71, 2.65, 24),
    "3_2gf": (21, 80, 42.63, 2.66, 24),
    "8gf": (17, 192, 76.82, 2.19, 56),
    "16gf": (18, 200, 106.23, 2.48, 112),
    "32gf": (20, 232, 115.89, 2.53, 232),
    "128gf": (27, 456, 160.83, 2.52, 264),
}

CONVNEXT = {  # torchvision's convnext_*: widths, depths, stochastic depth probability
    "tiny": ([96, 192, 384, 768], [3, 3, 9, 3], 0.1),
    "small": ([96, 192, 384, 768], [3, 3, 27, 3], 0.4),
    "base": ([128, 256, 512, 1024], [3, 3, 27, 3], 0.5),
    "large": ([192, 384, 768, 1536], [3, 3, 27, 3], 0.5),
}

# The default input of each entry where it is not 224: the crop size of its builder's first
# weights in torchvision's table (tests/data/torchvision_classification.tsv); RegNetY-128GF's
# first weights are the SWAG end-to-end ones, at 384.
CROP_SIZES = {
    "efficientnet_b0": 224, "efficientnet_b1": 240, "efficientnet_b2": 288,
    "efficientnet_b3": 300, "efficientnet_b4": 380, "efficientnet_b5": 456,
    "efficientnet_b6": 528, "efficientnet_b7": 600,
    "efficientnet_v2_s": 384, "efficientnet_v2_m": 480, "efficientnet_v2_l": 480,
    "inception_v3": 299, "regnet_y_128gf": 384,
}


def modern_entries() -> list[Entry]:
    """Return the MobileNetV3, EfficientNet, RegNetY, ConvNeXt and Inception v3 entries."""
    found = []
    for size in ("large", "small"):
        builder = f"mobilenet_v3_{size}"
        _, last_conv, last_channel = MOBILENET_V3[size]
        header = _MOBILENET_V3.format(title=size.title(), builder=builder,
                                      last_conv=last_conv, last_channel=last_channel)
        found.append(Entry(builder, header, mobilenet_v3(size)))
    for index, (width, depth, dropout_p, eps) in EFFICIENTNET_B.items():
        builder = f"efficientnet_b{index}"
        stages = _efficientnet_v1_stages(width, depth)
        eps_text = " Batch norm eps 0.001." if eps else ""
        header = _EFFICIENTNET.format(title=f"B{index}", builder=builder, width=width,
                                      depth=depth, last=4 * stages[-1].out_channels,
                                      dropout=dropout_p, eps_text=eps_text)
        found.append(Entry(builder, header, efficientnet(stages, dropout_p, None, eps),
                           CROP_SIZES[builder]))
    for size, rows in EFFICIENTNET_V2.items():
        builder = f"efficientnet_v2_{size}"
        stages = [MBConvStage(*row) for row in rows]
        dropout_p = EFFICIENTNET_V2_DROPOUT[size]
        header = _EFFICIENTNET_V2.format(title=size.upper(), builder=builder,
                                         dropout=dropout_p)
        found.append(Entry(builder, header, efficientnet(stages, dropout_p, 1280, 0.001),
                           CROP_SIZES[builder]))
    for flops, (depth, w_0, w_a, w_m, group) in REGNET_Y.items():
        builder = f"regnet_y_{flops}"
        stages_text = ", ".join(f"{n}x{w}" for w, n, _ in
                                regnet_stages(depth, w_0, w_a, w_m, group))
        header = _REGNET_Y.format(flops=flops.replace("_", ".").upper(), builder=builder,
                                  depth=depth, w_0=w_0, w_a=w_a, w_m=w_m, group=group,
                                  stages=stages_text + " (blocks x width)")
        found.append(Entry(builder, header, regnet_y(depth, w_0, w_a, w_m, group),
                           CROP_SIZES.get(builder, 224)))
    for size, (widths, depths, sd) in CONVNEXT.items():
        builder = f"convnext_{size}"
        header = _CONVNEXT.format(title=size.title(), builder=builder, sd=sd,
                                  depths=", ".join(map(str, depths)),
                                  widths=", ".join(map(str, widths)))
        found.append(Entry(builder, header, convnext(widths, depths, sd)))
    found.append(Entry("inception_v3", _INCEPTION_V3, inception_v3(), CROP_SIZES["inception_v3"]))
    return found


def write(directory: Path) -> list[Path]:
    """Write every entry's network file into ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in entries():
        path = directory / f"{entry.name}.yaml"
        path.write_text(to_yaml(entry.header, entry.name, entry.input_size, entry.layers),
                        encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for written in write(target):
        print(written)
