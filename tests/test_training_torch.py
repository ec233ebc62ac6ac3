"""PyTorch as the oracle of a training step: what autograd keeps, and the backward's MACs.

For every example (and its twin in ``torch_models``), one twin per zoo family
(``torch_zoo``) and random stacks (``torch_layers``):

1. one forward in training mode under ``torch.autograd.graph.saved_tensors_hooks``: the
   bytes of the distinct tensors saved (by storage, parameters and buffers left out, a
   tensor saved twice counted at the first) equal convcalc's ``saved_bytes``, per layer
   and in total;
2. the backward under ``torch.utils.flop_counter.FlopCounterMode``: its count (2 per MAC,
   convolutions and matrix products only) equals 2·convcalc's ``backward_macs`` in total,
   and per row, attributed to the layer whose weight the op serves.

FlopCounterMode's ``convolution_backward`` formula ignores ``groups`` in the
weight-gradient term (it counts ``C_in``, not ``C_in/groups``, input channels per filter),
which inflates a depthwise conv's count by its channel count: the test registers a
corrected formula through ``custom_mapping`` (docs/training.md says so).

convcalc counts the out-of-place form of every layer, as its export writes it, so the
twins' in-place activations (``nn.ReLU(inplace=True)``) are made out-of-place first: an
in-place ReLU6 keeps its output where an out-of-place one keeps its input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings

pytest.importorskip("torch")

import torch
import torch_layers as tl
import torch_models as tm
import torch_zoo
from test_torch_oracle import container_networks, networks, shuffle_blocks
from test_zoo_torch import INPUTS, RENAME
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, conv_backward_flop

from convcalc import Report, analyze, zoo
from convcalc.loader import load_network, network_from_data
from convcalc.training import Optimizer, TrainingSpec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BATCH = 2
"""Two samples: batchnorm refuses to train on one value per channel."""
TRAINING = TrainingSpec(optimizer=Optimizer.sgd)

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Run this module's tensors on one torch thread (two cores are shared in CI)."""
    with tl.one_thread():
        yield


# ------------------------------------------------------------------ what torch keeps


class Kept:
    """The distinct tensors a forward saved for backward, by the module that saved them:
    the innermost module running when a tensor was packed.

    Attributes:
        by_module: module -> {storage: (shape, dtype, storage bytes)}, every tensor it
            saved (one also saved by another module included).
        first: storage -> the module that saved it first.
    """

    def __init__(self, model: nn.Module) -> None:
        self.excluded = {t.untyped_storage().data_ptr()
                         for t in [*model.parameters(), *model.buffers()]}
        self.stack: list[nn.Module] = [model]
        self.by_module: dict[int, dict[int, tuple[tuple[int, ...], str, int]]] = {}
        self.first: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.hooks = []
        for module in model.modules():
            self.hooks.append(module.register_forward_pre_hook(self.enter))
            self.hooks.append(module.register_forward_hook(self.leave))

    def enter(self, module: nn.Module, _inputs: Any) -> None:
        self.stack.append(module)

    def leave(self, _module: nn.Module, _inputs: Any, _output: Any) -> None:
        self.stack.pop()

    def pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer not in self.excluded:
            module = id(self.stack[-1])
            self.first.setdefault(pointer, module)
            # A view keeps its whole storage alive; a tensor of its own is counted by its
            # elements (torch's 3-D transposed conv can allocate a larger storage than its
            # output in corner cases)
            nbytes = storage.nbytes() if tensor._base is not None else (
                tensor.numel() * tensor.element_size())
            self.sizes[pointer] = max(self.sizes.get(pointer, 0), nbytes)
            self.by_module.setdefault(module, {}).setdefault(
                pointer, (tuple(tensor.shape), str(tensor.dtype).removeprefix("torch."),
                          nbytes))
        return tensor

    def of(self, module: nn.Module) -> int:
        """Return the bytes saved first while ``module`` (and no module inside it) ran."""
        return sum(nbytes for pointer, (*_, nbytes) in self.by_module.get(id(module), {}).items()
                   if self.first[pointer] == id(module))

    def all_of(self, module: nn.Module) -> int:
        """Return the bytes of every tensor ``module`` saved, first or not."""
        return sum(nbytes for *_, nbytes in self.by_module.get(id(module), {}).values())

    @property
    def total(self) -> int:
        return sum(self.sizes.values())

    def remove(self) -> None:
        for handle in self.hooks:
            handle.remove()


def out_of_place(model: nn.Module) -> nn.Module:
    """Return ``model`` with every in-place activation made out-of-place."""
    for module in model.modules():
        if getattr(module, "inplace", False):
            module.inplace = False
    return model


def corrected_conv_backward(*args: Any, **kwargs: Any) -> int:
    """Return FlopCounterMode's convolution_backward count with the weight-gradient term
    divided by ``groups`` (torch's formula multiplies every input channel with every
    filter there, as if ``groups`` were 1). ``conv_backward_flop`` as imported is
    FlopCounterMode's registered form, which takes the output as ``out_val``."""
    (grad_out, x, weight, bias, stride, padding, dilation, transposed, output_padding,
     groups, output_mask) = args
    out_shape = kwargs["out_shape"]
    common = (grad_out, x, weight, bias, stride, padding, dilation, transposed,
              output_padding, groups)
    count = 0
    if output_mask[0]:
        count += conv_backward_flop(*common, [True, False, False], out_val=out_shape)
    if output_mask[1]:
        count += conv_backward_flop(*common, [False, True, False], out_val=out_shape) // groups
    return int(count)


CUSTOM = {torch.ops.aten.convolution_backward: corrected_conv_backward}


class PerRow(TorchDispatchMode):
    """Adds up FlopCounterMode's per-op count (its own formulas, with the correction) for
    each op of the backward, charged to the weighted layer whose backward node is running
    (set by a pre-hook on that layer's output's grad_fn)."""

    def __init__(self, registry: dict[Any, Any]) -> None:
        super().__init__()
        self.registry = registry
        self.current: Any = None
        self.counts: dict[Any, int] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        if packet in self.registry:
            flops = self.registry[packet](*args, **kwargs, out_val=out)
            self.counts[self.current] = self.counts.get(self.current, 0) + flops
        return out


@contextmanager
def charged_to(modules: dict[nn.Module, Any], per_row: PerRow) -> Iterator[None]:
    """Charge the backward of each weighted module to its key in ``modules``: a forward
    hook puts a pre-hook on the grad_fn of its output."""
    handles = []

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        key = modules[module]
        if isinstance(output, torch.Tensor) and output.grad_fn is not None:
            output.grad_fn.register_prehook(lambda _g: setattr(per_row, "current", key))

    for module in modules:
        handles.append(module.register_forward_hook(hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def run_training_step(model: nn.Module, shape: tuple[int, ...],
                      weighted: dict[nn.Module, Any]) -> tuple[Kept, PerRow, int]:
    """Return what one training-mode forward kept, the backward's count per weighted
    layer, and FlopCounterMode's total for it."""
    torch.manual_seed(0)
    model.train()
    kept = Kept(model)
    counter = FlopCounterMode(display=False, custom_mapping=CUSTOM)
    per_row = PerRow(counter.flop_registry)
    with (charged_to(weighted, per_row),
          torch.autograd.graph.saved_tensors_hooks(kept.pack, lambda t: t)):
        output = model(torch.randn(BATCH, *shape))
    kept.remove()
    outputs = list(output) if isinstance(output, tuple) else [output]
    for module in model.modules():  # the random stacks' aux heads keep their outputs
        if isinstance(module, tl.AuxHead):
            outputs += module.outputs
    loss = sum((out.sum() for out in outputs if out.requires_grad), torch.zeros(()))
    if loss.requires_grad:
        with counter, per_row:
            loss.backward()
    return kept, per_row, counter.get_total_flops()


def described(kept: Kept, module: nn.Module) -> str:
    return ", ".join(f"{'×'.join(map(str, shape))} {dtype} = {nbytes:,} B"
                     for shape, dtype, nbytes in kept.by_module.get(id(module), {}).values()
                     ) or "nothing"


def expected_text(row: Any) -> str:
    return ", ".join(f"{t.what} {'×'.join(map(str, t.shape))} {t.dtype} = {t.nbytes:,} B"
                     + ("" if t.counted_at == row.name else f" (at {t.counted_at})")
                     for t in row.training.saved) or "nothing"


# ------------------------------------------------------------------ twins, by name


def assert_twin_matches(model: nn.Module, shape: tuple[int, ...], report: Report,
                        rename: Callable[[str], str] = lambda name: name,
                        left_out: tuple[str, ...] = ()) -> None:
    """Assert every leaf module of the twin run once whose name is a convcalc row saves the
    tensors that row keeps (those kept first by an earlier row included: a twin may run a
    block's shortcut before its body), the whole forward saves the bytes convcalc keeps
    in total, and every weighted module's backward count is twice its row's backward MACs.

    ``left_out``: layer types the twin does not have (its rows are not counted).
    """
    rows = {rename(row.name): row for row in report.layers if not row.container}
    calls: dict[str, int] = {}

    def count(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: Any, _output: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
        return hook

    counting = [module.register_forward_hook(count(name))
                for name, module in model.named_modules()]
    weighted = {module: name for name, module in model.named_modules()
                if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear))}
    kept, per_row, total = run_training_step(out_of_place(model), shape, weighted)
    for handle in counting:
        handle.remove()
    matched = 0
    for name, module in model.named_modules():
        row = rows.get(name)
        if row is None or calls.get(name) != 1 or list(module.children()):
            continue
        matched += 1
        assert row.training is not None
        expected = sum(tensor.nbytes for tensor in row.training.saved)
        assert expected == kept.all_of(module), (
            f"layer {row.name}: convcalc keeps {expected_text(row)}; torch keeps "
            f"{described(kept, module)}")
    assert matched
    assert report.totals.training is not None
    dropped = sum(row.training.saved_bytes for row in rows.values() if row.type in left_out)
    assert report.totals.training.saved_bytes - dropped == kept.total
    for name in weighted.values():
        assert 2 * rows[name].training.backward_macs == per_row.counts.get(name, 0), name
    assert total == sum(per_row.counts.values())
    assert 2 * report.totals.training.backward_macs == total


def _input_of(stem: str) -> tuple[int, ...]:
    """Return a small input the example and its twin both take, else the twin's own."""
    return {"lenet5": (1, 32, 32), "unet_small": (1, 64, 64)}.get(stem, (3, 64, 64))


@pytest.mark.parametrize("stem", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_examples_keep_what_torch_keeps(stem: str) -> None:
    """Each example keeps, layer by layer and in total, the bytes its twin's autograd
    saves, and its backward MACs are FlopCounterMode's count over 2, per weighted layer."""
    shape = _input_of(stem)
    network = load_network(EXAMPLES / f"{stem}.yaml").network
    network = network.model_copy(update={"input": list(shape)})
    report = analyze(network, batch=BATCH, training=TRAINING)
    assert_twin_matches(tm.BUILDERS[stem](), shape, report)


@pytest.mark.parametrize("name", sorted(torch_zoo.BUILDERS))
def test_zoo_twins_keep_what_torch_keeps(name: str) -> None:
    """Each zoo family's twin saves the bytes its zoo network keeps, layer by layer and in
    total (its stochastic depth aside: the twins leave it out), and the backward MACs are
    FlopCounterMode's count over 2, per weighted layer."""
    if name not in zoo.names():
        pytest.skip(f"zoo:{name} waits for the layer types it needs")
    shape = INPUTS.get(name, (3, 64, 64))
    network = zoo.source(name).network.model_copy(update={"input": shape})
    report = analyze(network, batch=BATCH, training=TRAINING)
    assert_twin_matches(torch_zoo.BUILDERS[name](), shape, report,
                        RENAME.get(name, lambda full: full), left_out=("stochastic_depth",))


# ------------------------------------------------------------------ random stacks, in order


def _training_stochastic_depth(self: tl.StochasticDepth, x: torch.Tensor) -> torch.Tensor:
    """torchvision.ops.stochastic_depth while training: x times a kept-or-dropped noise of
    one value per sample (row) or per batch, scaled by 1/(1 − p)."""
    if not self.training or self.p == 0.0:
        return x
    survival = 1.0 - self.p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise


@pytest.fixture(autouse=True, scope="module")
def _stochastic_depth_trains() -> Iterator[None]:
    """Let the random stacks' stochastic depth run in training mode, as torchvision's."""
    original = tl.StochasticDepth.forward
    tl.StochasticDepth.forward = _training_stochastic_depth  # type: ignore[method-assign]
    yield
    tl.StochasticDepth.forward = original  # type: ignore[method-assign]


def _padded_pools(layers: list[Any], rank: int) -> bool:
    """Return whether a pool with explicit padding and ceil_mode, or a padded 3-D average
    pool, is among ``layers`` on a ``rank``-D input (torch_layers writes their padding as
    F.pad, whose copy and grid differ from PyTorch's own padding, which AvgPool3d refuses
    on inputs smaller than its kernel)."""
    for spec in layers:
        if not isinstance(spec, dict):
            continue
        padded = spec["type"] in ("maxpool", "avgpool") and spec.get("padding", 0) not in (
            0, "valid")
        if padded and (spec.get("ceil_mode") or (spec["type"] == "avgpool" and rank == 3)):
            return True
        bodies = [spec.get(key) or [] for key in ("layers", "shortcut", "after")]
        if any(_padded_pools(body, rank) for body in [*bodies, *spec.get("branches", [])]):
            return True
    return False


def as_pytorch_pads(model: nn.Module) -> nn.Module:
    """Return ``model`` with the padding PyTorch's own layers can hold moved into them:
    torch_layers pads by F.pad before any padded layer; a conv takes the symmetric part
    (the rest stays an F.pad, as PyTorch's padding="same" does it) and a pool takes
    symmetric padding of at most half its kernel."""
    for row in model.modules():
        if not isinstance(row, tl.Row) or not any(row.pads):
            continue
        flat = row.pads  # F.pad's order: last dim first, (before, after) each
        pairs = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)][::-1]
        layer = row.layer
        if isinstance(layer, nn.modules.conv._ConvNd) and layer.padding != "same":
            low = tuple(min(pair) for pair in pairs)
            layer.padding = tuple(p + q for p, q in zip(layer.padding, low, strict=True))
            rest = [(b - m, a - m) for (b, a), m in zip(pairs, low, strict=True)]
            row.pads = [side for before, after in reversed(rest) for side in (before, after)]
        elif isinstance(layer, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
            kernel = layer.kernel_size
            kernel = (kernel,) * len(pairs) if isinstance(kernel, int) else kernel
            if all(b == a and 2 * b <= k for (b, a), k in zip(pairs, kernel, strict=True)):
                layer.padding = tuple(b for b, _ in pairs)
                row.pads = []
    return model


def assert_rows_in_order(data: dict[str, Any], shape: tuple[int, ...]) -> None:
    """Assert every row (torch_layers' Row and Merge modules, in order) keeps convcalc's
    bytes and its weights' backward count is twice convcalc's backward MACs."""
    assume(not _padded_pools(data["layers"], len(shape) - 1))
    model, _ = tl.build(data["layers"], shape)
    model = as_pytorch_pads(model)
    report = analyze(network_from_data(data, "<generated>").network, batch=BATCH,
                     training=TRAINING)
    leaves = [row for row in report.layers if not row.container]
    order: list[nn.Module] = []
    for module in model.modules():
        if isinstance(module, (tl.Row, tl.Merge)):
            module.register_forward_hook(lambda m, _i, _o: order.append(m) or None)
    weighted = {layer: row for row in model.modules() if isinstance(row, tl.Row)
                for layer in row.modules()
                if isinstance(layer, (nn.modules.conv._ConvNd, nn.Linear))}
    try:
        kept, per_row, total = run_training_step(model, shape, weighted)
    except (RuntimeError, ValueError) as error:  # e.g. instancenorm over one position
        assume(False)
        raise AssertionError from error
    assert len(order) == len(leaves)
    for row, module in zip(leaves, order, strict=True):
        assert row.training is not None
        assert row.training.saved_bytes == kept.of(module) + sum(
            kept.of(inner) for inner in module.modules() if inner is not module), (
            f"layer {row.name}: convcalc keeps {expected_text(row)}; torch keeps "
            f"{described(kept, module)} and inside it "
            f"{[described(kept, m) for m in module.modules() if m is not module]}")
        macs = sum(count for key, count in per_row.counts.items() if key is module)
        assert 2 * row.training.backward_macs == macs, (
            f"layer {row.name}: convcalc {row.training.backward_macs:,} backward MACs, "
            f"FlopCounterMode {macs:,} FLOPs")
    assert report.totals.training is not None
    assert report.totals.training.saved_bytes == kept.total
    assert 2 * report.totals.training.backward_macs == total


TRAINING_ORACLE = settings(
    max_examples=300, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)


@TRAINING_ORACLE
@given(networks())
def test_random_stacks_keep_what_torch_keeps(case: tuple[dict[str, Any], tuple[int, ...]]
                                             ) -> None:
    """Every row of a random stack keeps the bytes torch saves for it, and its backward
    MACs are FlopCounterMode's count over 2."""
    assert_rows_in_order(*case)


@settings(TRAINING_ORACLE, max_examples=200)
@given(container_networks())
def test_random_containers_keep_what_torch_keeps(
        case: tuple[dict[str, Any], tuple[int, ...]]) -> None:
    """With mul merges (squeeze-and-excitation), aux heads and after layers too."""
    assert_rows_in_order(*case)


@settings(TRAINING_ORACLE, max_examples=20)
@given(shuffle_blocks())
def test_shuffle_blocks_keep_what_torch_keeps(case: tuple[dict[str, Any], tuple[int, ...]]
                                              ) -> None:
    """ShuffleNetV2's block: slices are views, the depthwise conv keeps its slice."""
    assert_rows_in_order(*case)


def test_depthwise_count_is_corrected() -> None:
    """FlopCounterMode's own formula counts a depthwise conv's weight gradient C times too
    many; the corrected one gives 2·N·C·∏out·∏K, convcalc's dW."""
    conv = nn.Conv2d(8, 8, 3, padding=1, groups=8)
    x = torch.randn(BATCH, 8, 6, 6)
    for mapping, factor in (({}, 8), (CUSTOM, 1)):
        counter = FlopCounterMode(display=False, custom_mapping=mapping)
        out = conv(x)
        with counter:
            out.sum().backward()
        assert counter.get_total_flops() == 2 * BATCH * 8 * 36 * 9 * factor
    assert math.prod((BATCH, 8, 6, 6, 9)) == analyze(
        network_from_data({"input": [8, 6, 6], "layers": [
            {"type": "conv", "filters": 8, "kernel": 3, "padding": 1, "groups": 8}]},
            "<t>").network, batch=BATCH, training=TRAINING).totals.training.backward_macs
