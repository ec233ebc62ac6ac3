"""PyTorch as the oracle: random layer stacks agree with torch row by row.

Hypothesis draws valid networks of every layer type in 1-D, 2-D and 3-D (and flat
inputs), tracking the shape as it goes by asking torch, so every example is one both
sides accept. Each network is analysed by convcalc from the same plain data a YAML file
holds, and built in plain torch by ``torch_layers`` (which shares no code with convcalc);
forward hooks then give every layer's input and output shape, its parameters, its
running statistics and its weight MACs, and those must equal convcalc's rows that are
not containers, in order, and their totals.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc import LayerError, analyze
from convcalc.loader import network_from_data, parse_network

pytest.importorskip("torch")

import torch
import torch_layers as tl

# torch notes that an even 'same' kernel costs a padded copy; shapes are all we read here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Run this module's tiny tensors on one torch thread."""
    with tl.one_thread():
        yield

SIZES = {0: (1, 1), 1: (1, 24), 2: (1, 10), 3: (1, 6)}
"""Spatial sizes drawn per input rank: small, so a run stays well under a minute."""
MAX_ELEMENTS = 3000
"""The largest tensor (one sample) a generated layer may output; bigger draws are dropped."""
MAX_DEPTH = 2
"""How deep containers nest in generated networks."""

SPATIAL_KINDS = (
    ["conv"] * 6 + ["conv_transpose"] * 3 + ["maxpool"] * 4 + ["avgpool"] * 3
    + ["adaptive_avgpool", "adaptive_maxpool", "global_avgpool", "global_maxpool"]
    + ["flatten", "batchnorm", "dropout", "activation", "activation"]
    + ["pad"] * 2 + ["upsample"] * 3
    + ["layer_scale", "stochastic_depth"]
)
FLAT_KINDS = ["linear"] * 4 + ["batchnorm", "dropout", "activation", "activation"] + [
    "layer_scale", "stochastic_depth"]
# the normalisation layers besides batchnorm (instancenorm needs a spatial input)
SPATIAL_KINDS += ["norm", "norm"]
FLAT_KINDS += ["norm"]
CONTAINER_KINDS = ["sequential", "residual", "parallel"]
SPATIAL_KINDS += ["slice"] * 2 + ["channel_shuffle"] * 2
FLAT_KINDS += ["slice"]
ACTIVATION_TYPES = [*tl.ACTIVATIONS, "leaky_relu", "elu", "prelu", "prelu"]

Shape = tuple[int, ...]
ORACLE = settings(
    max_examples=300, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ------------------------------------------------------------------ drawing valid layers


class Draw:
    """Draws layers that fit the shape they are drawn for."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw

    def int(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def bool(self) -> bool:
        return self.draw(st.booleans())

    def choice(self, options: list[Any] | tuple[Any, ...]) -> Any:
        return self.draw(st.sampled_from(options))

    def dims(self, values: list[int]) -> int | list[int]:
        """Return per-dim values as one int when they agree (half the time), else a list."""
        if len(set(values)) == 1 and self.bool():
            return values[0]
        return list(values)

    def fitting_kernel(self, low_kernel: int, high_extent: int) -> tuple[int, int]:
        """Return (kernel ≤ 5, dilation ≤ 3): kernel ≥ low, dilated extent ≤ high."""
        dilation = self.int(1, 3)
        high = min(5, (high_extent - 1) // dilation + 1)
        if max(1, low_kernel) > high:
            dilation, high = 1, min(5, high_extent)
        return self.int(max(1, low_kernel), high), dilation

    def groups(self, channels: int) -> tuple[int, int]:
        """Return (filters, groups): plain, grouped or depthwise."""
        form = self.choice(["plain", "grouped", "depthwise"])
        if form == "depthwise":
            return channels * self.int(1, 2), channels
        filters = self.int(1, 8)
        if form == "plain":
            return filters, 1
        common = math.gcd(channels, filters)
        return filters, self.choice([g for g in range(1, common + 1) if common % g == 0])

    # ---- one method per layer kind: each returns the layer as plain data

    def conv(self, shape: Shape) -> dict[str, Any]:
        sizes = shape[1:]
        rank = len(sizes)
        form = self.choice(["none", "int", "per_dim", "per_side", "same", "valid"])
        if form == "int":
            pads = [(p, p) for p in [self.int(0, 2)] * rank]
        elif form == "per_dim":
            pads = [(p, p) for p in (self.int(0, 2) for _ in sizes)]
        elif form == "per_side":
            pads = [(self.int(0, 2), self.int(0, 2)) for _ in sizes]
        else:
            pads = [(0, 0)] * rank
        kernel, dilation = [], []
        for size, (before, after) in zip(sizes, pads, strict=True):
            high = 64 if form == "same" else size + before + after
            k, d = self.fitting_kernel(1, high)
            kernel.append(k)
            dilation.append(d)
        filters, groups = self.groups(shape[0])
        spec: dict[str, Any] = {"type": "conv", "filters": filters,
                                "kernel": self.dims(kernel)}
        if self.bool():
            spec["stride"] = self.dims([self.int(1, 3) for _ in sizes])
        if form == "int":
            spec["padding"] = pads[0][0]
        elif form == "per_dim":
            spec["padding"] = [b for b, _ in pads]
        elif form == "per_side":
            spec["padding"] = [list(p) for p in pads]
        elif form in ("same", "valid"):
            spec["padding"] = form
        if any(d > 1 for d in dilation) or self.bool():
            spec["dilation"] = self.dims(dilation)
        if groups > 1 or self.bool():
            spec["groups"] = groups
        if self.bool():
            spec["bias"] = self.bool()
        return spec

    def conv_transpose(self, shape: Shape) -> dict[str, Any]:
        kernel, stride, dilation, padding, extra = [], [], [], [], []
        for size in shape[1:]:
            s, d, k = self.int(1, 3), self.int(1, 2), self.int(1, 4)
            op = self.int(0, max(s, d) - 1)
            p = self.int(0, min(2, ((size - 1) * s + d * (k - 1) + op) // 2))
            for values, value in zip((kernel, stride, dilation, padding, extra),
                                     (k, s, d, p, op), strict=True):
                values.append(value)
        filters, groups = self.groups(shape[0])
        return {"type": "conv_transpose", "filters": filters, "kernel": self.dims(kernel),
                "stride": self.dims(stride), "dilation": self.dims(dilation),
                "padding": self.dims(padding), "output_padding": self.dims(extra),
                "groups": groups, "bias": self.bool()}

    def feasible_sides(self, size: int) -> tuple[int, int]:
        """Return pool padding (before, after) that some kernel ≤ 5 both fits and covers."""
        before, after = self.int(0, 2), self.int(0, 2)
        while 2 * max(before, after) > min(5, size + before + after):
            before, after = (before - 1, after) if before > after else (before, after - 1)
        return before, after

    def pool(self, shape: Shape, kind: str) -> dict[str, Any]:
        sizes = shape[1:]
        rank = len(sizes)
        form = self.choice(["none", "int", "per_dim", "per_side", "same"])
        if form == "int" and kind == "avgpool" and rank == 3:
            form = "per_dim"
        if form == "int":
            pads = [(p, p) for p in [self.int(0, 2)] * rank]
        elif form == "per_dim":
            pads = [(p, p) for p in (self.int(0, 2) for _ in sizes)]
        elif form == "per_side":
            pads = [self.feasible_sides(size) for size in sizes]
        else:
            pads = [(0, 0)] * rank
        kernel, dilation = [], []
        for size, (before, after) in zip(sizes, pads, strict=True):
            # PyTorch: padding at most half the kernel (undilated); the kernel must fit.
            low, high = 2 * max(before, after), 64 if form == "same" else size + before + after
            if kind == "avgpool":
                if rank == 3 and form == "per_dim":
                    # torch's avg_pool3d also wants its kernel within the unpadded input
                    high = min(high, size)
                    before, after = min(before, high // 2), min(after, high // 2)
                    pads[len(kernel)] = (before, after)
                    low = 2 * max(before, after)
                kernel.append(self.int(max(1, low), min(5, high)))
                dilation.append(1)
            else:
                k, d = self.fitting_kernel(low, high)
                kernel.append(k)
                dilation.append(d)
        spec: dict[str, Any] = {"type": kind, "kernel": self.dims(kernel)}
        if self.bool():
            spec["stride"] = self.dims([self.int(1, 3) for _ in sizes])
        if form == "int":
            spec["padding"] = pads[0][0]
        elif form == "per_dim":
            spec["padding"] = [b for b, _ in pads]
        elif form == "per_side":
            spec["padding"] = [list(p) for p in pads]
        elif form == "same":
            spec["padding"] = "same"
        if any(d > 1 for d in dilation):
            spec["dilation"] = self.dims(dilation)
        # ceil_mode only where torch pads symmetrically itself: its rule for dropping a
        # last window counts the left padding, which an explicit pad would hide.
        if form in ("none", "int", "per_dim") and self.bool():
            spec["ceil_mode"] = True
        if kind == "avgpool" and self.bool():
            spec["count_include_pad"] = False
        return spec

    def other(self, shape: Shape, kind: str) -> Any:
        sizes = shape[1:]
        if kind in ("adaptive_avgpool", "adaptive_maxpool"):
            return {"type": kind, "output": self.dims([self.int(1, w + 1) for w in sizes])}
        if kind == "linear":
            return {"type": "linear", "units": self.int(1, 12), "bias": self.bool()}
        if kind == "dropout":
            return {"type": "dropout", "p": self.choice([0.0, 0.1, 0.5])}
        if kind == "activation":
            name = self.choice(ACTIVATION_TYPES)
            if name == "leaky_relu" and self.bool():
                return {"type": name, "negative_slope": 0.2}
            if name == "elu" and self.bool():
                return {"type": name, "alpha": 0.5}
            if name == "prelu" and self.bool():
                return {"type": name, "per_channel": True, "init": self.choice([0.25, -0.1])}
            return name if self.bool() else {"type": name}
        if kind == "layer_scale":
            return self.choice(["layer_scale", {"type": "layer_scale", "init": 0.5}])
        if kind == "stochastic_depth":
            return {"type": "stochastic_depth", "p": self.choice([0.0, 0.2, 1.0]),
                    "mode": self.choice(["row", "batch"])}
        if kind == "pad":
            form = self.choice(["int", "per_dim", "per_side"])
            if form == "int":
                return {"type": "pad", "padding": self.int(0, 2)}
            if form == "per_dim":
                return {"type": "pad", "padding": [self.int(0, 2) for _ in sizes]}
            return {"type": "pad", "padding": [[self.int(0, 2), self.int(0, 2)] for _ in sizes]}
        if kind == "upsample":
            spec: dict[str, Any] = {"type": "upsample"}
            if self.bool():
                spec["scale"] = self.dims([self.int(1, 2) for _ in sizes])
            else:
                spec["size"] = self.dims([self.int(1, 2 * w) for w in sizes])
            if self.bool():
                spec["mode"] = self.choice(["nearest", "linear"])
            return spec
        return kind  # flatten, batchnorm, global pools: no options

    def norm(self, shape: Shape) -> Any:
        # torch refuses groups of one element (groupnorm at batch 1, instancenorm over one
        # position), as convcalc warns or refuses: they are not drawn
        positions = math.prod(shape[1:])
        kinds = [kind for kind in tl.NORMS if kind == "layernorm" or positions > 1
                 or (kind == "groupnorm" and shape[0] > 1)]
        kind = self.choice(kinds)
        spec: dict[str, Any] = {"type": kind}
        if kind == "groupnorm":
            spec["groups"] = self.choice([g for g in range(1, shape[0] + 1) if shape[0] % g == 0
                                          and shape[0] // g * positions > 1])
        if self.bool():
            spec["eps"] = self.choice([1e-6, 1e-3])
        options = {"layernorm": ("affine", "bias"), "groupnorm": ("affine",),
                   "instancenorm": ("affine", "track_running_stats")}[kind]
        for option in options:
            if self.bool():
                spec[option] = self.bool()
        return spec if spec.keys() != {"type"} or self.bool() else kind

    def layer(self, shape: Shape) -> Any:
        kind = self.choice(SPATIAL_KINDS if len(shape) > 1 else FLAT_KINDS)
        if kind == "norm":
            return self.norm(shape)
        if kind == "conv":
            return written_depthwise(self, self.conv(shape), shape[0])
        if kind == "conv_transpose":
            return written_depthwise(self, self.conv_transpose(shape), shape[0])
        if kind in tl.CHANNEL_LAYERS:
            return channel_layer(self, shape, kind)
        if kind in ("maxpool", "avgpool"):
            return self.pool(shape, kind)
        return self.other(shape, kind)

    # ---- stacks and containers

    def stack(self, shape: Shape, depth: int, low: int, high: int) -> tuple[list[Any], Shape]:
        """Return a list of layers valid for ``shape`` and the shape it gives."""
        layers: list[Any] = []
        for _ in range(self.int(low, high)):
            if depth < MAX_DEPTH and self.int(0, 4) == 0:
                spec, out = self.container(shape, depth)
            else:
                spec = self.layer(shape)
                out = tl.output_shape(tl.layer_module(spec, shape), shape)
            if math.prod(out) <= MAX_ELEMENTS:
                layers.append(spec)
                shape = out
        return layers, shape

    def fixer(self, shape: Shape, target: Shape, channels: bool, need: Factors
              ) -> list[Any] | None:
        """Return layers taking ``shape`` to ``target``'s spatial size (and channels).

        Their stride factors must be ``need``, so that the branch lines up at the merge:
        a resize when ``in/out`` happens to be ``need``, else a conv striding by each
        whole factor (its kernel and padding chosen to land on the target size) and a
        transposed conv for each ``1/s``. None when ``need`` is neither.
        """
        sizes, targets = shape[1:], target[1:]
        if len(shape) == 1 or need is None:
            if channels and shape[0] != target[0]:
                return [{"type": "linear", "units": target[0]}]
            return []
        resize = tuple(Fraction(w, t) for w, t in zip(sizes, targets, strict=True))
        options = ["resize"] if need == resize and sizes != targets else []
        if all(n.numerator == 1 or n.denominator == 1 for n in need):
            options.append("strided")
        if not options:
            return None
        filters = target[0] if channels else self.int(1, 6)
        if self.choice(options) == "resize":
            pool = self.choice(["adaptive_avgpool", "adaptive_maxpool"])
            layers: list[Any] = [
                {"type": pool, "output": list(targets)} if self.bool() else
                {"type": "upsample", "size": list(targets),
                 "mode": self.choice(["nearest", "linear"])}
            ]
            if channels and shape[0] != target[0]:
                layers.append({"type": "conv", "filters": target[0], "kernel": 1})
            return layers
        # conv: out = (W + 2P − K)/S + 1 = t along the dims it strides, W elsewhere
        kernel, stride, padding, middle = [], [], [], []
        for w, t, n in zip(sizes, targets, need, strict=True):
            s, goal = (int(n), t) if n.denominator == 1 else (1, w)
            p = max(0, -(-((goal - 1) * s + 1 - w) // 2))
            kernel.append(w + 2 * p - (goal - 1) * s)
            stride.append(s)
            padding.append(p)
            middle.append(goal)
        layers = [{"type": "conv", "filters": filters, "kernel": kernel, "stride": stride,
                   "padding": padding}]
        if any(n.denominator > 1 for n in need):
            # transposed conv: out = (W − 1)·S − 2P + K = t along the dims it upsamples
            kernel, stride, padding = [], [], []
            for w, t, n in zip(middle, targets, need, strict=True):
                s = n.denominator
                p = max(0, -(-((w - 1) * s + 1 - t) // 2)) if s > 1 else 0
                kernel.append(t - (w - 1) * s + 2 * p if s > 1 else 1)
                stride.append(s)
                padding.append(p)
            layers.append({"type": "conv_transpose", "filters": filters, "kernel": kernel,
                           "stride": stride, "padding": padding})
        return layers

    def branch_to(self, shape: Shape, target: Shape, depth: int, channels: bool,
                  need: Factors) -> list[Any] | None:
        """Return a body from ``shape`` ending at ``target`` with stride factors ``need``."""
        body, out = self.stack(shape, depth + 1, 0, 2) if self.bool() else ([], shape)
        factors, _, lined_up = stride_factors(body, shape)
        if len(out) != len(target) or not lined_up or factors is None:
            body, out, factors = [], shape, None
        fix = self.fixer(out, target, channels, _over(need, factors))
        if fix is None and body:  # the drawn body cannot line up: fix the input itself
            body, fix = [], self.fixer(shape, target, channels, need)
        return None if fix is None else body + fix

    def container(self, shape: Shape, depth: int) -> tuple[dict[str, Any], Shape]:
        kind = self.choice(CONTAINER_KINDS)
        spec: dict[str, Any]
        if kind == "sequential":
            layers, _ = self.stack(shape, depth + 1, 1, 3)
            spec = {"type": "sequential", "layers": layers}
        else:
            first, out = self.stack(shape, depth + 1, 1, 3 if kind == "residual" else 2)
            need, _, lined_up = stride_factors(first, shape)
            if (len(out) != len(shape) and len(shape) > 1) or not lined_up:
                first, out = [], shape  # the body flattened: keep the identity instead
                need = stride_factors(first, shape)[0]
            if kind == "residual":
                spec = {"type": "residual", "layers": first}
                # an identity shortcut lines up only with a body that keeps the stride
                if out != shape or need != stride_factors([], shape)[0] or self.bool():
                    spec["shortcut"] = self.branch_to(shape, out, depth, True, need)
            else:
                merge = self.choice(["concat", "add"])
                others = [self.branch_to(shape, out, depth, merge == "add", need)
                          for _ in range(self.int(1, 2))]
                spec = {"type": "parallel", "merge": merge, "branches": [first, *others]}
            if spec.get("shortcut", []) is None or None in spec.get("branches", []):
                spec = {"type": "sequential", "layers": first}  # no branch could line up
        _, out = tl.build([spec], shape)
        # repeat only when a second turn on the first turn's output fits and lines up too
        repeat = self.int(1, 3)
        if repeat > 1:
            try:
                _, again, lined_up = stride_factors([{**spec, "repeat": repeat}], shape)
            except (RuntimeError, ValueError):
                again, lined_up = None, False
            if lined_up and again is not None and math.prod(again) <= MAX_ELEMENTS:
                spec["repeat"], out = repeat, again
        return spec, out


Factors = tuple[Fraction, ...] | None
"""Input positions per output position along each spatial dim; None once global."""


def stride_factors(layers: list[Any], shape: Shape) -> tuple[Factors, Shape, bool]:
    """Return a layer list's stride factors, its output shape, and whether its merges line up.

    Branches may only merge when their stride factors agree (convcalc refuses the rest,
    as the format says); this is the generator's own account of that, measured on torch's
    shapes: conv and pool ``S``, transposed conv ``1/S``, resizing ``in/out``.
    """
    factors: Factors = tuple(Fraction(1) for _ in shape[1:]) if len(shape) > 1 else None
    lined_up = True
    for spec in layers:
        kind = spec if isinstance(spec, str) else spec["type"]
        if kind == "aux":  # the main path goes on with the head's input
            continue
        if kind in ("sequential", "residual", "parallel"):
            for _ in range(spec.get("repeat", 1)):
                if kind == "sequential":
                    bodies = [spec["layers"]]
                elif kind == "residual":
                    bodies = [spec["layers"], spec.get("shortcut") or []]
                else:
                    bodies = spec["branches"]
                results = [stride_factors(body, shape) for body in bodies]
                if spec.get("merge") == "mul":  # broadcast branches need not line up
                    widest = max(math.prod(out) for _, out, _ in results)
                    results = [r for r in results if math.prod(r[1]) == widest]
                lined_up &= all(ok for _, _, ok in results)
                tracked = {f for f, _, _ in results if f is not None}
                lined_up &= len(tracked) <= 1 or any(f is None for f, _, _ in results)
                step = None if any(f is None for f, _, _ in results) else results[0][0]
                _, shape = tl.build([{**spec, "repeat": 1}], shape)
                factors = _times(factors, step)
            continue
        out = tl.output_shape(tl.layer_module(spec, shape), shape)
        if len(out) == 1 or kind in ("flatten", "linear"):
            step: Factors = None
        elif kind in ("conv", "maxpool", "avgpool"):
            stride = spec.get("stride") or (spec["kernel"] if kind != "conv" else 1)
            step = tuple(Fraction(s) for s in tl._dims(stride, len(out) - 1))
        elif kind == "conv_transpose":
            step = tuple(Fraction(1, s) for s in tl._dims(spec.get("stride", 1), len(out) - 1))
        else:  # resizing (in/out), padding and elementwise layers (1)
            step = tuple(Fraction(w, t) if kind in ("upsample", "adaptive_avgpool",
                                                    "adaptive_maxpool") else Fraction(1)
                         for w, t in zip(shape[1:], out[1:], strict=True))
        factors = _times(factors, step)
        shape = out
    return factors, shape, lined_up


def _over(need: Factors, factors: Factors) -> Factors:
    if need is None or factors is None:
        return need
    return tuple(n / f for n, f in zip(need, factors, strict=True))


def _times(factors: Factors, step: Factors) -> Factors:
    if factors is None or step is None:
        return None
    return tuple(a * b for a, b in zip(factors, step, strict=True))


@st.composite
def networks(draw: Any) -> tuple[dict[str, Any], Shape]:
    """Return a valid network as plain data, and its input shape."""
    gen = Draw(draw)
    rank = gen.choice([2, 1, 3, 2, 1, 3, 2, 0])
    low, high = SIZES[rank]
    shape = (gen.int(1, 6), *(gen.int(low, high) for _ in range(rank)))
    layers, _ = gen.stack(shape, 0, 1, 6)
    if not layers:
        layers = ["identity"]
    return {"input": list(shape), "layers": layers}, shape


# ------------------------------------------------------------------ running torch


def torch_rows(model: Any, shape: Shape) -> list[tuple[Any, ...]]:
    """Return (type, input shape, output shape, params, statistics, MACs) per hooked module."""
    records: list[tuple[Any, ...]] = []
    pending = [0]

    def count_macs(module: Any, inputs: Any, output: Any) -> None:
        pending[0] += tl.weight_macs(module, inputs, output)

    def block_input(module: Any, inputs: Any) -> None:
        module.merge.block_input = inputs[0]

    def record(module: Any, inputs: Any, output: Any) -> None:
        # convcalc's merge row takes the block's input as its input, not the branches'
        first = module.block_input if isinstance(module, tl.Merge) else inputs[0]
        statistics = sum(b.numel() for name, b in module.named_buffers()
                         if name.endswith(("running_mean", "running_var")))
        records.append((module.kind, tuple(first.shape[1:]), tuple(output.shape[1:]),
                        sum(p.numel() for p in module.parameters()), statistics, pending[0]))
        pending[0] = 0

    for module in model.modules():
        if isinstance(module, (tl.Row, tl.Merge)):
            module.register_forward_hook(record)
        elif isinstance(module, tl.Branches):
            module.register_forward_pre_hook(block_input)
        elif isinstance(module, (torch.nn.modules.conv._ConvNd, torch.nn.Linear)):
            module.register_forward_hook(count_macs)
    model.eval()
    with torch.no_grad():
        model(torch.randn((1, *shape)))
    return records


def convcalc_rows(data: dict[str, Any]) -> tuple[list[tuple[Any, ...]], Any]:
    """Return convcalc's non-container rows in the same form, and the report."""
    report = analyze(network_from_data(data, "<generated>").network)
    rows = [(r.type, r.input_shape, r.output_shape, r.params, r.non_trainable_params, r.macs)
            for r in report.layers if not r.container]
    return rows, report


# ------------------------------------------------------------------ the properties


def test_the_random_stacks_draw_every_activation() -> None:
    """Every activation with no options is drawn by the random stacks (this file's
    forward oracle and the training oracle's): a new one fails here until torch_layers.py
    gives its torch module."""
    from convcalc.layers.elementwise import Activation

    missing = sorted(set(Activation.reference_ops) - set(tl.ACTIVATIONS))
    assert not missing, f"tests/torch_layers.py ACTIVATIONS has no module for {missing}"


@ORACLE
@given(networks())
def test_random_stacks_match_torch_row_by_row(case: tuple[dict[str, Any], Shape]) -> None:
    """Every layer's shapes, params, running statistics and MACs equal torch's, in order."""
    data, shape = case
    model, torch_out = tl.build(data["layers"], shape)
    expected = torch_rows(model, shape)
    got, report = convcalc_rows(data)
    names = [r.name for r in report.layers if not r.container]
    assert len(got) == len(expected), (names, got, expected)
    for name, got_row, expected_row in zip(names, got, expected, strict=True):
        assert got_row == expected_row, f"row {name}: convcalc {got_row} != torch {expected_row}"
    assert report.output_shape == torch_out
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    # the same network written as YAML text reads back to the same report
    assert analyze(parse_network(yaml.safe_dump(data), "<yaml>").network) == report
    assert report.totals.macs == sum(row[5] for row in expected)
    assert report.totals.non_trainable_params == sum(row[4] for row in expected)


def _batch_rows(data: dict[str, Any], batch: int) -> list[int]:
    report = analyze(network_from_data(data, "<generated>").network, batch=batch)
    return [report.totals.macs, report.totals.params]


@settings(ORACLE, max_examples=30)
@given(networks(), st.integers(2, 5))
def test_macs_scale_with_batch_params_do_not(case: tuple[dict[str, Any], Shape],
                                             batch: int) -> None:
    """MACs are for the whole batch and parameters are not, as torch's hooks count them."""
    data, shape = case
    model, _ = tl.build(data["layers"], shape)
    macs = [0]

    def count(module: Any, inputs: Any, output: Any) -> None:
        macs[0] += tl.weight_macs(module, inputs, output) * output.shape[0]

    for module in model.modules():
        if isinstance(module, (torch.nn.modules.conv._ConvNd, torch.nn.Linear)):
            module.register_forward_hook(count)
    model.eval()
    with torch.no_grad():
        model(torch.randn((batch, *shape)))
    assert _batch_rows(data, batch) == [macs[0], sum(p.numel() for p in model.parameters())]


# ------------------------------------------------------------------ invalid geometry


@st.composite
def invalid_layers(draw: Any) -> tuple[dict[str, Any], Shape]:
    """Return a one-layer network that does not fit: an oversized kernel or bad groups."""
    gen = Draw(draw)
    rank = gen.int(1, 3)
    channels = gen.int(1, 6)
    sizes = [gen.int(1, 6) for _ in range(rank)]
    fault = gen.choice(["kernel", "groups"])
    if fault == "kernel":
        kind = gen.choice(["conv", "maxpool", "avgpool"])
        bad = gen.int(0, rank - 1)
        kernel, padding = [], []
        for index, size in enumerate(sizes):
            p = gen.int(0, 1)
            # the bad dim's kernel overhangs the padded input; pools keep p ≤ kernel/2
            k = size + 2 * p + gen.int(1, 3) if index == bad else gen.int(max(1, 2 * p),
                                                                         size + 2 * p)
            kernel.append(k)
            padding.append(p)
        spec: dict[str, Any] = {"type": kind, "kernel": kernel, "padding": padding}
        if kind == "conv":
            spec["filters"] = gen.int(1, 4)
    else:
        kind = gen.choice(["conv", "conv_transpose"])
        groups = gen.int(2, 4)
        if gen.bool():
            channels = groups * gen.int(1, 2) + gen.int(1, groups - 1)  # groups ∤ channels
            filters = groups * gen.int(1, 2)
        else:
            channels = groups * gen.int(1, 2)
            filters = groups * gen.int(1, 2) + gen.int(1, groups - 1)  # groups ∤ filters
        spec = {"type": kind, "filters": filters, "kernel": 1, "groups": groups}
    shape = (channels, *sizes)
    return {"input": list(shape), "layers": [spec]}, shape


@settings(max_examples=100, deadline=None, derandomize=True)
@given(invalid_layers())
def test_invalid_geometry_is_refused_by_both(case: tuple[dict[str, Any], Shape]) -> None:
    """A kernel past its padded input, or groups not dividing channels: both refuse."""
    data, shape = case
    with pytest.raises((RuntimeError, ValueError)):
        tl.build(data["layers"], shape)
    with pytest.raises(LayerError):
        analyze(network_from_data(data, "<generated>").network)


# ------------------------------------------------------------------ exhaustive 1-D grids


def _torch_length(module: Any, length: int) -> int | None:
    try:
        return tl.output_shape(module, (1, length))[1]
    except RuntimeError:
        return None


def _convcalc_length(spec: dict[str, Any], length: int) -> int | None:
    try:
        report = analyze(network_from_data({"input": [1, length], "layers": [spec]}, "<grid>")
                         .network)
    except LayerError:
        return None
    return report.output_shape[1]


def test_pool_grid_matches_torch_including_ceil_mode() -> None:
    """Every small 1-D max and average pool, floor and ceil mode, has torch's output length."""
    mismatches = []
    for kind in ("maxpool", "avgpool"):
        for length in range(1, 10):
            for kernel in range(1, 5):
                for dilation in (1, 2) if kind == "maxpool" else (1,):
                    extent = dilation * (kernel - 1) + 1
                    for stride in range(1, 4):
                        for padding in range(extent // 2 + 1):
                            for ceil_mode in (False, True):
                                if length + 2 * padding < extent:
                                    continue  # the kernel overhangs: see the test below
                                spec: dict[str, Any] = {
                                    "type": kind, "kernel": kernel, "stride": stride,
                                    "padding": padding, "ceil_mode": ceil_mode}
                                if dilation > 1:
                                    spec["dilation"] = dilation
                                expected = _torch_length(tl.layer_module(spec, (1, length)),
                                                         length)
                                got = _convcalc_length(spec, length)
                                if got != expected:
                                    mismatches.append((spec, length, expected, got))
    assert mismatches == []


def test_ceil_mode_dropped_last_window() -> None:
    """A ceil-mode last window that would start in the right padding is dropped, as in torch."""
    # L=5, K=2, S=2, P=1: ceil((5 + 2 − 2)/2) + 1 = 4 windows, but the 4th starts at 6 ≥ 5 + 1.
    spec = {"type": "maxpool", "kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True}
    assert _torch_length(tl.layer_module(spec, (1, 5)), 5) == 3
    assert _convcalc_length(spec, 5) == 3


def test_conv_and_transposed_grids_match_torch() -> None:
    """Every small 1-D conv and transposed conv has torch's output length, or both refuse."""
    mismatches = []
    for length in range(1, 8):
        for kernel in range(1, 5):
            for stride in range(1, 4):
                for dilation in range(1, 3):
                    for padding in range(3):
                        spec: dict[str, Any] = {"type": "conv", "filters": 1, "kernel": kernel,
                                                "stride": stride, "dilation": dilation,
                                                "padding": padding}
                        for form in (padding, "same", "valid"):
                            spec = {**spec, "padding": form}
                            expected = _torch_length(tl.layer_module(spec, (1, length)), length)
                            got = _convcalc_length(spec, length)
                            if got != expected:
                                mismatches.append((spec, length, expected, got))
                        for extra in range(max(stride, dilation)):
                            spec = {"type": "conv_transpose", "filters": 1, "kernel": kernel,
                                    "stride": stride, "dilation": dilation, "padding": padding,
                                    "output_padding": extra}
                            expected = _torch_length(tl.layer_module(spec, (1, length)), length)
                            got = _convcalc_length(spec, length)
                            if got != expected:
                                mismatches.append((spec, length, expected, got))
    assert mismatches == []


def test_ceil_mode_kernel_past_the_padded_input_gives_one_window() -> None:
    """A ceil-mode pool whose kernel overhangs the input by less than a stride has one window."""
    # L=1, K=2, S=2: torch computes ceil((1 − 2)/2) + 1 = 1 (the window reads the one input).
    for kind in ("maxpool", "avgpool"):
        spec = {"type": kind, "kernel": 2, "stride": 2, "ceil_mode": True}
        assert _torch_length(tl.layer_module(spec, (1, 1)), 1) == 1
        assert _convcalc_length(spec, 1) == 1


# ------------------------------------------------------ mul broadcasting, after and aux

EXTRA_CONTAINER_KINDS = ["se", "se", "aux", "after", "after"]
"""Container forms drawn on top of ``Draw.container``'s: a squeeze-and-excitation
``parallel`` with ``merge: mul`` (a branch pooled to size 1 along some spatial dims), an
``aux`` head, and ``after`` layers on a residual's or a parallel's merged output."""


class ContainerDraw(Draw):
    """Draws the containers of ``Draw`` and the ``mul``, ``aux`` and ``after`` forms."""

    def container(self, shape: Shape, depth: int) -> tuple[dict[str, Any], Shape]:
        kind = self.choice([*CONTAINER_KINDS, *EXTRA_CONTAINER_KINDS])
        if kind == "se" and len(shape) > 1:
            return self.squeeze_excite(shape)
        if kind == "aux":
            head, _ = self.stack(shape, MAX_DEPTH, 1, 3)  # no container (nor aux) inside
            return {"type": "aux", "layers": head or ["identity"]}, shape
        spec, out = super().container(shape, depth)
        if (kind == "after" or self.bool()) and spec["type"] in ("residual", "parallel"):
            after = [self.other(out, self.choice(["activation", "batchnorm", "dropout"]))
                     for _ in range(self.int(1, 2))]
            spec = {**spec, "after": after}
        return spec, out

    def squeeze_excite(self, shape: Shape) -> tuple[dict[str, Any], Shape]:
        """Return x times a scale pooled to 1 along some (or all) spatial dims: the SE
        gate's conv → act → conv → sigmoid on it, its channels C or 1."""
        sizes = shape[1:]
        pooled = [1 if self.int(0, 3) else size for size in sizes]
        channels = self.choice([shape[0], 1]) if shape[0] > 1 else 1
        gate: list[Any] = [{"type": self.choice(["adaptive_avgpool", "adaptive_maxpool"]),
                            "output": pooled}]
        if self.bool():
            gate += [{"type": "conv", "filters": self.int(1, 4), "kernel": 1},
                     self.choice(ACTIVATION_TYPES[:2])]
        gate += [{"type": "conv", "filters": channels, "kernel": 1}, "sigmoid"]
        branches = [[], gate] if self.bool() else [gate, []]
        return {"type": "parallel", "merge": "mul", "branches": branches}, shape


@st.composite
def container_networks(draw: Any) -> tuple[dict[str, Any], Shape]:
    """Return a valid network with mul, aux and after among its containers, and its input."""
    gen = ContainerDraw(draw)
    rank = gen.choice([2, 1, 3, 2])
    low, high = SIZES[rank]
    shape = (gen.int(1, 6), *(gen.int(low, high) for _ in range(rank)))
    layers, _ = gen.stack(shape, 0, 2, 6)
    if not layers:
        layers = ["identity"]
    return {"input": list(shape), "layers": layers}, shape


def _aux_flags(model: Any) -> list[bool]:
    """Return a list that the next forward fills, per row module run, with whether it runs
    inside an aux head (registered before ``torch_rows``'s hooks, so in the same order)."""
    inside = {id(m) for head in model.modules() if isinstance(head, tl.AuxHead)
              for m in head.modules()}
    flags: list[bool] = []
    for module in model.modules():
        if isinstance(module, (tl.Row, tl.Merge)):
            module.register_forward_hook(
                lambda m, _i, _o: flags.append(id(m) in inside))
    return flags


@settings(ORACLE, max_examples=200)
@given(container_networks())
def test_mul_aux_and_after_match_torch_row_by_row(case: tuple[dict[str, Any], Shape]
                                                  ) -> None:
    """With mul broadcasting, aux heads and after layers, every row equals torch's, the
    aux rows are torch's rows inside the heads, and the totals count them as documented."""
    data, shape = case
    model, torch_out = tl.build(data["layers"], shape)
    flags = _aux_flags(model)
    expected = torch_rows(model, shape)
    got, report = convcalc_rows(data)
    leaves = [r for r in report.layers if not r.container]
    assert len(got) == len(expected), ([r.name for r in leaves], got, expected)
    for row, got_row, expected_row in zip(leaves, got, expected, strict=True):
        assert got_row == expected_row, f"row {row.name}: {got_row} != torch {expected_row}"
    assert [r.aux for r in leaves] == flags
    assert report.output_shape == torch_out
    assert report.totals.params == sum(p.numel() for p in model.parameters())
    assert report.totals.macs == sum(e[5] for e, aux in zip(expected, flags, strict=True)
                                     if not aux)
    heads = [e for e, aux in zip(expected, flags, strict=True) if aux]
    assert (report.totals.aux is None) == (not any(isinstance(m, tl.AuxHead)
                                                   for m in model.modules()))
    if report.totals.aux is not None:
        assert report.totals.aux.macs == sum(e[5] for e in heads)
        assert report.totals.aux.params == sum(e[3] for e in heads)
    assert analyze(parse_network(yaml.safe_dump(data), "<yaml>").network) == report
# ------------------------------------------------------------------ channel layers, depthwise


def written_depthwise(gen: Draw, spec: dict[str, Any], channels: int) -> dict[str, Any]:
    """Return a conv drawn with one group per input channel written as ``depthwise`` half
    the time (the torch side resolves the word itself)."""
    if spec.get("groups") == channels and channels > 1 and gen.bool():
        return {**spec, "groups": "depthwise"}
    return spec


def channel_layer(gen: Draw, shape: Shape, kind: str) -> dict[str, Any]:
    """Return a ``slice`` (0 ≤ start < stop ≤ C) or a ``channel_shuffle`` whose groups
    divide the channels."""
    channels = shape[0]
    if kind == "slice":
        start = gen.int(0, channels - 1)
        return {"type": "slice", "channels": [start, gen.int(start + 1, channels)]}
    return {"type": "channel_shuffle",
            "groups": gen.choice([g for g in range(1, channels + 1) if channels % g == 0])}


@st.composite
def shuffle_blocks(draw: Any) -> tuple[dict[str, Any], Shape]:
    """Return ShuffleNetV2's stride-1 block on a random input: two slice branches (one
    through a depthwise conv) concatenated, then a channel shuffle of 2 groups."""
    gen = Draw(draw)
    half = gen.int(1, 4)
    rank = gen.int(1, 3)
    shape = (2 * half, *(gen.int(2, 5) for _ in range(rank)))
    block = {"type": "parallel", "branches": [
        [{"type": "slice", "channels": [0, half]}],
        [{"type": "slice", "channels": [half, 2 * half]},
         {"type": "conv", "filters": half, "kernel": 3, "padding": 1,
          "groups": "depthwise", "bias": gen.bool()}],
    ]}
    return {"input": list(shape), "layers": [block, {"type": "channel_shuffle",
                                                     "groups": 2}]}, shape


@settings(ORACLE, max_examples=40)
@given(shuffle_blocks())
def test_shuffle_blocks_match_torch_row_by_row(case: tuple[dict[str, Any], Shape]) -> None:
    """ShuffleNetV2's block in 1-D, 2-D and 3-D: every row equals torch's, in order."""
    data, shape = case
    model, torch_out = tl.build(data["layers"], shape)
    expected = torch_rows(model, shape)
    got, report = convcalc_rows(data)
    assert got == expected
    assert [row[0] for row in got] == ["slice", "slice", "conv", "concat", "channel_shuffle"]
    assert report.output_shape == torch_out


@st.composite
def invalid_channel_layers(draw: Any) -> tuple[dict[str, Any], Shape]:
    """Return a one-layer network that does not fit: a channel shuffle whose groups do not
    divide the channels, or a depthwise conv whose filters are not a multiple of them."""
    gen = Draw(draw)
    channels = gen.int(2, 6)
    shape = (channels, *(gen.int(1, 4) for _ in range(gen.int(1, 3))))
    if gen.bool():
        groups = gen.choice([g for g in range(2, 8) if channels % g])
        spec: dict[str, Any] = {"type": "channel_shuffle", "groups": groups}
    else:
        filters = gen.choice([f for f in range(1, 13) if f % channels])
        spec = {"type": gen.choice(["conv", "conv_transpose"]), "filters": filters,
                "kernel": 1, "groups": "depthwise"}
    return {"input": list(shape), "layers": [spec]}, shape


@settings(max_examples=60, deadline=None, derandomize=True)
@given(invalid_channel_layers())
def test_invalid_channel_layers_are_refused_by_both(case: tuple[dict[str, Any], Shape]) -> None:
    """Shuffle groups that do not divide C, and depthwise filters that C does not divide:
    torch and convcalc both refuse."""
    data, shape = case
    with pytest.raises((RuntimeError, ValueError)):
        tl.output_shape(tl.layer_module(data["layers"][0], shape), shape)
    with pytest.raises(LayerError):
        analyze(network_from_data(data, "<generated>").network)
