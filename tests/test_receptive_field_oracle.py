"""Receptive fields measured by autograd agree with convcalc's, row by row.

The oracle: build the network in float64 torch with every weight positive (max pools
become sums over the same window, since a max passes gradient to one input only), feed
a positive input, and take the gradient of one output unit with respect to the input.
Nothing cancels, so the gradient's support is exactly the set of input positions the
unit reads: its first and last index per dim give the field. Units a period apart give
the effective stride, and extrapolating the first index back to unit 0 gives the
effective padding (``padding = (u/q)·T − first(u)`` for a unit ``u`` that is a multiple
of the period ``q``, ``T`` the shift per period). Where upsampling makes the field
periodic, the size is the largest over one period of units, as convcalc reports it.

Padding positions count in convcalc's convention, so a unit is only measured when its
support keeps clear of the borders of the input and of every map in between (then no
window it depends on reaches into padding, and the support is unclipped).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convcalc import analyze
from convcalc.loader import network_from_data

pytest.importorskip("torch")

import torch
import torch.nn.functional as F
import torch_layers as tl
from torch import Tensor, nn

# torch notes that an even 'same' kernel costs a padded copy; that is no concern here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Run this module's tiny tensors on one torch thread."""
    with tl.one_thread():
        yield

Shape = tuple[int, ...]

SIZES = {1: 160, 2: 48, 3: 24}
"""The input's length along every spatial dim, per rank: room for an interior unit."""
MAX_PERIOD = 6
"""The longest period the generated networks may have (products of up-sampling factors)."""
RELATIVE_ZERO = 1e-9
"""Gradient entries below this fraction of a unit's largest are rounding, not support."""
ELEMENTWISE = ["batchnorm", "relu", "relu6", "leaky_relu", "gelu", "silu", "sigmoid", "tanh",
               "hardswish", "identity", "dropout"]
"""Elementwise layers whose derivative stays positive on positive inputs."""


# ------------------------------------------------------------------ torch measurement


class WindowSum(nn.Module):
    """A max pool's window as a sum: the same taps, with every one of them in the gradient."""

    def __init__(self, pool: nn.Module) -> None:
        super().__init__()
        self.rank = len(pool.kernel_size) if isinstance(pool.kernel_size, tuple) else 1
        self.kernel = tl._dims(pool.kernel_size, self.rank)
        self.stride = tl._dims(pool.stride, self.rank)
        self.padding = tl._dims(pool.padding, self.rank)
        self.dilation = tl._dims(pool.dilation, self.rank)

    def forward(self, x: Tensor) -> Tensor:
        channels = x.shape[1]
        weight = x.new_ones((channels, 1, *self.kernel)) / math.prod(self.kernel)
        conv = getattr(F, f"conv{self.rank}d")
        out: Tensor = conv(x, weight, None, self.stride, self.padding, self.dilation, channels)
        return out


def positive_twin(layers: list[Any], shape: Shape) -> nn.Module:
    """Return the network in float64 with positive weights and max pools as window sums."""
    model, _ = tl.build(layers, shape)
    for module in model.modules():
        if isinstance(module, tl.Row) and isinstance(module.layer, nn.modules.pooling._MaxPoolNd):
            module.layer = WindowSum(module.layer)
            module.pad_value = 0.0
    model = model.double().eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
            else:  # conv, transposed conv and batchnorm weights: positive, near unit gain
                parameter.fill_(1.0 / max(parameter[0].numel(), 1))
    return model


def support(gradient: Tensor, dim: int) -> tuple[int, int] | None:
    """Return the first and last index along ``dim`` where one sample's gradient is non-zero."""
    magnitude = gradient.abs()
    if magnitude.max() == 0:
        return None
    mask = magnitude > RELATIVE_ZERO * magnitude.max()
    others = [d for d in range(mask.dim()) if d != dim + 1]
    line = mask.amax(dim=others) if others else mask
    where = torch.nonzero(line).flatten()
    return int(where[0]), int(where[-1])


def measured_fields(layers: list[Any], shape: Shape, margin: int, units: int
                    ) -> list[list[tuple[int, list[int], list[int]]] | None]:
    """Return, per hooked row, per dim: (base unit, first and last input index of ``units``
    units from the base along that dim). None for flat rows; raises Unmeasurable when a
    unit's support comes within ``margin`` of a border.
    """
    model = positive_twin(layers, shape)
    outputs: list[Tensor] = []
    for module in model.modules():
        if isinstance(module, (tl.Row, tl.Merge)):
            module.register_forward_hook(lambda m, i, out: outputs.append(out))
    rank = len(shape) - 1
    x = (torch.rand((rank * units, *shape), dtype=torch.float64) + 0.5).requires_grad_()
    model(x)
    fields: list[list[tuple[int, list[int], list[int]]] | None] = []
    for index, out in enumerate(outputs):
        if out.dim() != rank + 2:
            fields.append(None)
            continue
        sizes = out.shape[2:]
        bases = [max(size // 2 - units // 2, 0) for size in sizes]
        coords = [[] for _ in range(rank)]  # type: list[list[int]]
        for dim in range(rank):
            for step in range(units):
                for other in range(rank):
                    coords[other].append(bases[other] + (step if other == dim else 0))
        if any(max(c) >= size for c, size in zip(coords, sizes, strict=True)):
            raise Unmeasurable(f"row {index} is too small: {tuple(sizes)}")
        # a unit is a position with all its channels (a concat's come from every branch)
        picked = out[(torch.arange(rank * units), slice(None), *map(torch.tensor, coords))]
        earlier = [x, *outputs[:index]]
        grads = torch.autograd.grad(picked.sum(), earlier, retain_graph=True,
                                    allow_unused=True)
        for tensor, grad in zip(earlier, grads, strict=True):
            if grad is None:
                continue
            for sample in range(rank * units):
                for dim in range(rank):
                    span = support(grad[sample], dim)
                    size = tensor.shape[dim + 2]
                    if span is not None and (span[0] < margin or span[1] > size - 1 - margin):
                        raise Unmeasurable(f"row {index} reaches a border: {span} of {size}")
        per_dim = []
        for dim in range(rank):
            firsts, lasts = [], []
            for step in range(units):
                span = support(grads[0][dim * units + step], dim)
                assert span is not None, f"row {index}: a unit reads no input"
                firsts.append(span[0])
                lasts.append(span[1])
            per_dim.append((bases[dim], firsts, lasts))
        fields.append(per_dim)
    return fields


def margin(layers: list[Any]) -> int:
    """Return how far a support must keep from every border: past the widest reach of any
    layer (its dilated window plus padding), so no window the unit depends on reaches
    beyond a border.
    """
    reach = 2  # a linear upsample reads two neighbours
    for spec in layers:
        if isinstance(spec, str):
            continue
        for key in ("layers", "shortcut"):
            reach = max(reach, margin(spec.get(key) or []))
        for branch in spec.get("branches", []):
            reach = max(reach, margin(branch))
        if "kernel" in spec:
            kernel, dilation = spec["kernel"], spec.get("dilation", 1)
            extent = max(_flat(dilation)) * (max(_flat(kernel)) - 1) + 1
            reach = max(reach, 2 * extent)  # 'same' pads up to the extent
        if isinstance(spec.get("padding"), (int, list)):
            reach = max(reach, max(_flat(spec["padding"])) + 1)
    return reach


def _flat(value: Any) -> list[int]:
    if isinstance(value, list):
        return [v for item in value for v in _flat(item)]
    return [value]


class Unmeasurable(Exception):
    """A unit's support touches a border, so its field cannot be read off the gradient."""


def summarize(base: int, firsts: list[int], lasts: list[int]) -> tuple[int, Fraction, int]:
    """Return (size, stride, padding) of units ``base, base + 1, …`` from their supports."""
    count = len(firsts)
    for period in range(1, count // 2 + 1):
        shift = firsts[period] - firsts[0]
        if all(firsts[t + period] - firsts[t] == shift and lasts[t + period] - lasts[t] == shift
               for t in range(count - period)):
            break
    else:
        raise AssertionError(f"no period within {count // 2} units: {firsts} {lasts}")
    size = max(last - first + 1 for first, last in zip(firsts[:period], lasts[:period],
                                                        strict=True))
    unit = -(-base // period) * period  # the first multiple of the period from the base
    first_of_unit_zero = firsts[unit - base] - unit // period * shift
    return size, Fraction(shift, period), -first_of_unit_zero


def check_against_convcalc(layers: list[Any], shape: Shape, units: int) -> int:
    """Assert every spatial row's field equals the measured one; return the rows compared.

    Raises Unmeasurable when some unit's support comes near a border.
    """
    measured = measured_fields(layers, shape, margin(layers), units)
    report = analyze(network_from_data({"input": list(shape), "layers": layers}, "<rf>")
                     .network)
    rows = [r for r in report.layers if not r.container]
    assert len(rows) == len(measured)
    compared = 0
    for row, per_dim in zip(rows, measured, strict=True):
        if per_dim is None:
            assert row.receptive_field is None, row.name
            continue
        field = row.receptive_field
        assert field is not None, row.name
        for dim, (base, firsts, lasts) in enumerate(per_dim):
            size, stride, padding = summarize(base, firsts, lasts)
            got = (field.size[dim], Fraction(field.stride[dim]).limit_denominator(1000),
                   field.padding[dim])
            assert got == (size, stride, padding), (
                f"row {row.name} dim {dim}: convcalc (size, stride, padding) {got}, "
                f"torch {(size, stride, padding)}; first {firsts}, last {lasts} from unit {base}"
            )
        compared += 1
    return compared


# ------------------------------------------------------------------ drawing networks


class Draw:
    """Draws layers for the field oracle, keeping their period and field small."""

    def __init__(self, draw: Any, rank: int) -> None:
        self.draw = draw
        self.rank = rank
        self.period = 1
        # 3-D maps grow as the cube of an upsampling: keep them at period 2
        self.max_period = MAX_PERIOD if rank < 3 else 2

    def int(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def choice(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def dims(self, low: int, high: int) -> int | list[int]:
        values = [self.int(low, high) for _ in range(self.rank)]
        return values[0] if len(set(values)) == 1 else values

    def window(self, kind: str, stride: int | list[int] | None = None) -> dict[str, Any]:
        """Return a conv or pool with its own kernel, dilation and padding form."""
        small = self.rank == 3  # 3-D inputs are short: small windows leave room for units
        kernel = self.dims(1, 3 if small else 4)
        spec: dict[str, Any] = {"type": kind, "kernel": kernel,
                                "stride": stride if stride is not None else self.dims(1, 2)}
        kernels = tl._dims(kernel, self.rank)
        if kind != "avgpool":
            spec["dilation"] = self.dims(1, 1 if small else 3 if kind == "conv" else 2)
        form = self.choice(["int", "per_side", "same", "valid"])
        if form in ("same", "valid"):
            spec["padding"] = form
        elif form == "int":  # pools: at most half the kernel, as PyTorch allows
            spec["padding"] = self.int(0, min(kernels) // 2 if kind != "conv" else 2)
        else:
            spec["padding"] = [[self.int(0, k // 2 if kind != "conv" else 2),
                                self.int(0, k // 2 if kind != "conv" else 2)] for k in kernels]
        if kind == "conv":
            spec["filters"] = self.int(1, 3)
        return spec

    def up(self) -> list[Any]:
        """Return an upsampling layer (or a transposed conv) within the period budget."""
        factor = self.choice([2, 3])
        if self.period * factor > self.max_period:
            return []
        self.period *= factor
        if self.choice(["upsample", "conv_transpose"]) == "upsample":
            return [{"type": "upsample", "scale": factor,
                     "mode": self.choice(["nearest", "linear"])}]
        # kernel ≥ stride: every output unit reads some input. Dilation stays 1: a dilated
        # strided transposed conv is the open case below (its units' spans go backwards).
        dilation = 1
        return [{"type": "conv_transpose", "filters": self.int(1, 3),
                 "kernel": self.int(factor, factor + 2), "stride": factor,
                 "dilation": dilation, "padding": self.int(0, 2)}]

    def layer(self) -> list[Any]:
        kind = self.choice(["conv", "conv", "maxpool", "avgpool", "pad", "up", "elementwise"])
        if kind == "up":
            return self.up()
        if kind == "pad":
            return [{"type": "pad", "padding": [[self.int(0, 2), self.int(0, 2)]
                                                for _ in range(self.rank)]}]
        if kind == "elementwise":
            return [self.choice(ELEMENTWISE)]
        return [self.window(kind)]

    def same_size(self, channels: int | None) -> list[Any]:
        """Return a stride-1 body that keeps the spatial size (and ``channels`` when given)."""
        layers: list[Any] = []
        for _ in range(self.int(1, 2)):
            kind = self.choice(["conv", "maxpool", "avgpool", "updown", "elementwise"])
            if kind == "updown" and self.period * 2 <= self.max_period:
                # up by s, then a same-padded stride-s conv back: stride 1, a periodic field
                factor = self.choice([f for f in (2, 3) if self.period * f <= self.max_period])
                self.period *= factor
                layers += [{"type": "upsample", "scale": factor,
                            "mode": self.choice(["nearest", "linear"])},
                           {"type": "conv", "filters": self.int(1, 3), "kernel": self.int(1, 4),
                            "stride": factor, "padding": "same"}]
            elif kind in ("conv", "maxpool", "avgpool"):
                spec = self.window(kind, stride=1)
                spec["padding"] = "same"
                if kind == "avgpool":  # PyTorch's limit: no more than half the kernel
                    spec["kernel"] = self.choice([1, 3])
                layers.append(spec)
            else:
                layers.append(self.choice(ELEMENTWISE))
        if channels is not None:
            layers.append({"type": "conv", "filters": channels, "kernel": 1})
        return layers

    def merge(self, channels: int) -> list[Any]:
        """Return a residual or parallel block whose branches line up."""
        down = self.int(1, 2)
        tail = ([{"type": "conv", "filters": channels, "kernel": self.int(down, 3),
                  "stride": down, "padding": "same"}] if down > 1 else [])
        if self.choice(["residual", "parallel"]) == "residual":
            body = self.same_size(channels) + tail
            shortcut = ([{"type": "conv", "filters": channels, "kernel": 1, "stride": down}]
                        if down > 1 else self.choice([[], self.same_size(channels)]))
            return [{"type": "residual", "layers": body, "shortcut": shortcut}]
        merge = self.choice(["add", "concat"])
        branches = []
        for _ in range(self.int(2, 3)):
            body = self.same_size(channels if merge == "add" else None)
            if tail:
                body.append({**tail[0], "kernel": self.int(down, 3)})
            branches.append(body)
        return [{"type": "parallel", "merge": merge, "branches": branches}]


@st.composite
def field_networks(draw: Any) -> tuple[list[Any], Shape, int]:
    """Return layers, an input shape, and how many neighbouring units show two periods."""
    rank = draw(st.sampled_from([1, 2, 1, 3]))
    gen = Draw(draw, rank)
    channels = gen.int(1, 3)
    shape = (channels, *(SIZES[rank],) * rank)
    layers: list[Any] = []
    for _ in range(gen.int(1, 5 if rank < 3 else 3)):
        layers += gen.merge(channels) if gen.int(0, 3) == 0 else gen.layer()
    return layers or ["identity"], shape, 2 * gen.max_period + 1


FIELD_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.filter_too_much])


@FIELD_SETTINGS
@given(field_networks())
def test_random_fields_match_autograd(case: tuple[list[Any], Shape, int]) -> None:
    """Size, stride and padding of every row equal the gradient's support, period by period."""
    layers, shape, units = case
    try:
        tl.build(layers, shape)
    except (RuntimeError, ValueError):
        assume(False)  # the drawn windows do not fit the shrinking maps
    try:
        compared = check_against_convcalc(layers, shape, units)
    except Unmeasurable:
        assume(False)  # no unit of some row keeps clear of the borders
    assert compared >= 1


# ------------------------------------------------------------------ chosen cases


@pytest.mark.parametrize(
    ("name", "layers"),
    [
        ("conv stack with dilation and stride",
         [{"type": "conv", "filters": 2, "kernel": 3, "stride": 2, "padding": 1},
          {"type": "conv", "filters": 2, "kernel": 3, "dilation": 2, "padding": 2},
          {"type": "maxpool", "kernel": 2}]),
        ("nearest upsample then conv",
         [{"type": "conv", "filters": 2, "kernel": 3, "padding": 1},
          {"type": "upsample", "scale": 2},
          {"type": "conv", "filters": 2, "kernel": 3, "padding": 1}]),
        ("linear upsample by 3 then a strided conv",
         [{"type": "upsample", "scale": 3, "mode": "linear"},
          {"type": "conv", "filters": 1, "kernel": 4, "stride": 2, "padding": 1}]),
        ("transposed conv, kernel 4 stride 2 padding 1 (the U-Net up step)",
         [{"type": "conv", "filters": 2, "kernel": 3, "stride": 2, "padding": 1},
          {"type": "conv_transpose", "filters": 2, "kernel": 4, "stride": 2, "padding": 1},
          {"type": "conv", "filters": 1, "kernel": 3, "padding": 1}]),
        ("transposed conv with dilation prime to the stride",
         [{"type": "conv_transpose", "filters": 1, "kernel": 3, "stride": 2, "dilation": 3,
           "padding": 2}]),
        ("upsample to a size that is not a multiple",
         [{"type": "upsample", "size": 240, "mode": "linear"},
          {"type": "conv", "filters": 1, "kernel": 3, "padding": 1}]),
        ("upsample down to a smaller size",
         [{"type": "upsample", "size": 120, "mode": "nearest"},
          {"type": "conv", "filters": 1, "kernel": 2}]),
        ("residual with a strided shortcut",
         [{"type": "residual",
           "layers": [{"type": "conv", "filters": 2, "kernel": 3, "stride": 2, "padding": 1},
                      {"type": "conv", "filters": 2, "kernel": 3, "padding": 1}],
           "shortcut": [{"type": "conv", "filters": 2, "kernel": 1, "stride": 2}]}]),
        ("parallel branches of different widths, concatenated",
         [{"type": "parallel", "merge": "concat",
           "branches": [[{"type": "conv", "filters": 1, "kernel": 5, "padding": 2}],
                        [{"type": "conv", "filters": 1, "kernel": 3, "dilation": 3,
                          "padding": [[1, 5]]}],
                        []]}]),
    ],
)
def test_chosen_fields_match_autograd(name: str, layers: list[Any]) -> None:
    """Hand-picked stacks through upsampling, transposed convs and merges match autograd."""
    compared = check_against_convcalc(layers, (1, SIZES[1]), units=2 * MAX_PERIOD + 1)
    report = analyze(network_from_data({"input": [1, SIZES[1]], "layers": layers}, name).network)
    assert compared == sum(not row.container for row in report.layers)


def test_window_after_a_dilated_strided_transposed_conv() -> None:
    """A window over units whose spans go backwards sees the union of all of them."""
    # ConvTranspose K=2 S=2 D=3: output 0 reads input 0 (tap 0), output 1 reads input −1
    # (tap 1: −1·2 + 3 = 1). A K=2 S=2 conv over outputs 0 and 1 so reads inputs −1..0:
    # size 2, padding 1. convcalc took input 0 from unit 0 and −1 from unit 1: size 0.
    layers = [{"type": "conv_transpose", "filters": 1, "kernel": 2, "stride": 2, "dilation": 3},
              {"type": "conv", "filters": 1, "kernel": 2, "stride": 2}]
    report = analyze(network_from_data({"input": [1, SIZES[1]], "layers": layers}, "t").network)
    field = report.layers[-1].receptive_field
    assert field is not None
    assert (field.size, field.stride, field.padding) == ((2,), (1,), (1,))
    assert check_against_convcalc(layers, (1, SIZES[1]), units=2 * MAX_PERIOD + 1) == 2


# ------------------------------------------------------ mul broadcasting and global context


def test_squeeze_excite_local_field_and_global_context_by_autograd() -> None:
    """Through an SE gate, autograd with the gate detached (held fixed) gives convcalc's
    local field of 5×5 at a central unit, and without detaching, every input position:
    the global context the row is marked with."""
    data = {"input": [1, 12, 12], "layers": [
        {"type": "conv", "filters": 2, "kernel": 3, "padding": 1},
        {"type": "parallel", "merge": "mul", "branches": [[], [
            {"type": "adaptive_avgpool", "output": 1},
            {"type": "conv", "filters": 2, "kernel": 1}, "sigmoid"]]},
        {"type": "conv", "name": "out", "filters": 1, "kernel": 3}]}
    report = analyze(network_from_data(data, "<se>").network)
    out = next(row for row in report.layers if row.name == "out")
    assert out.receptive_field is not None and out.global_context

    torch.manual_seed(0)
    conv1, gate_conv = nn.Conv2d(1, 2, 3, padding=1).double(), nn.Conv2d(2, 2, 1).double()
    conv2 = nn.Conv2d(2, 1, 3).double()
    for module in (conv1, gate_conv, conv2):
        module.weight.data.uniform_(0.1, 1.0)
        assert module.bias is not None
        module.bias.data.uniform_(0.1, 1.0)

    def support(hold_gate: bool) -> Tensor:
        x = torch.rand(1, 1, 12, 12, dtype=torch.float64) + 0.5
        x.requires_grad_(True)
        h = conv1(x)
        gate = torch.sigmoid(gate_conv(F.adaptive_avg_pool2d(h, 1)))
        y = conv2(h * (gate.detach() if hold_gate else gate))
        y[0, 0, 5, 5].backward()
        assert x.grad is not None
        return x.grad[0, 0] != 0

    local = support(hold_gate=True).nonzero()
    rows, cols = local[:, 0], local[:, 1]
    size = (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1)
    assert size == out.receptive_field.size == (5, 5)
    assert int(rows.min()) == 5 * 1 - out.receptive_field.padding[0]
    assert bool(support(hold_gate=False).all())
