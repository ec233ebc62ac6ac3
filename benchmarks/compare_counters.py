"""Compare convcalc's counts with torchinfo's, ptflops', fvcore's and thop's on examples/.

This script documents how the comparison table in docs/conventions.md was made. It is not
run by CI or the tests, and none of these tools is a dependency of convcalc: run it in a
throwaway virtualenv that has convcalc and the four tools::

    python3 -m venv /tmp/cmpvenv
    /tmp/cmpvenv/bin/pip install . torch==2.13.0 torchinfo ptflops fvcore thop
    /tmp/cmpvenv/bin/python benchmarks/compare_counters.py [--breakdown] [--layers]

Each tool runs on the plain-torch twin of every examples/*.yaml (tests/torch_models.py),
in eval mode, on one sample of the example's input size. Prints markdown: the versions,
the totals table (each tool's MAC-like total and its difference to convcalc's MACs) and
the parameter counts. ``--breakdown`` adds, per network, each tool's count split by torch
module type (fvcore: by operator) next to convcalc's MACs for the same layers, and checks
that the rules written in docs/conventions.md, applied to convcalc's own per-layer rows,
predict every tool's total exactly. ``--layers`` adds each tool's count of single layers
that the examples do not use (activations, upsampling, merges, a transposed convolution).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from torch import nn

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

import torch_models  # noqa: E402  (lives in tests/, found through the path above)

from convcalc import LayerRow, Report, analyze, load_network  # noqa: E402

TOOLS = ("torchinfo", "ptflops", "ptflops-aten", "fvcore", "thop")

# convcalc layer types whose weight MACs the tools' conv/linear counts correspond to.
WEIGHTED = {"conv": "Conv", "conv_transpose": "ConvTranspose", "linear": "Linear"}

# Layers a twin computes with a torch function rather than a module: module hooks
# (ptflops' module part, thop, torchinfo) never see them. MobileNetV2's forward calls
# nn.functional.adaptive_avg_pool2d, as torchvision's does.
FUNCTIONAL_IN_TWIN = {"mobilenet_v2": {"avgpool"}}


@dataclass
class Measured:
    """One tool's result on one network.

    Attributes:
        total: the tool's MAC-like total (its headline number).
        params: the tool's parameter total.
        parts: the total split by torch module type or operator (what the tool offers).
        notes: operators the tool reports it skipped, and the like.
    """

    total: int
    params: int
    parts: Counter[str] = field(default_factory=Counter)
    notes: str = ""


# --------------------------------------------------------------------------- tools


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the tools' prints, warnings and log lines."""
    logging.disable(logging.WARNING)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


def run_torchinfo(model: nn.Module, shape: tuple[int, ...]) -> Measured:
    """Return torchinfo's "Mult-Adds" total, split by the leaf layers' class."""
    from torchinfo import summary

    stats = summary(model, input_size=(1, *shape), verbose=0, mode="eval")
    parts: Counter[str] = Counter()
    for layer in stats.summary_list:
        if layer.is_leaf_layer:
            parts[layer.class_name] += layer.macs
    return Measured(stats.total_mult_adds, stats.total_params, parts)


class _ModuleStack:
    """The classes of the modules whose forward is running, innermost last."""

    def __init__(self) -> None:
        self.classes: list[str] = []

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        from torch.nn.modules import module

        def enter(mod: nn.Module, _inputs: Any) -> None:
            self.classes.append(type(mod).__name__)

        def leave(_mod: nn.Module, _inputs: Any, _output: Any) -> None:
            self.classes.pop()

        handles = [module.register_module_forward_pre_hook(enter),
                   module.register_module_forward_hook(leave)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


def run_ptflops(model: nn.Module, shape: tuple[int, ...]) -> Measured:
    """Return ptflops' MACs with its default (pytorch) backend, split by module type.

    Module hooks are wrapped (through ptflops' ``custom_modules_hooks``) to book each
    module's count under its class; the functional patches (``count_functional``, on by
    default) are wrapped to book each call under the function and the module calling it.
    """
    from ptflops import get_model_complexity_info
    from ptflops.pytorch_ops import FUNCTIONAL_MAPPING, MODULES_MAPPING

    parts: Counter[str] = Counter()
    stack = _ModuleStack()

    def module_hook(original: Callable[..., None]) -> Callable[..., None]:
        def hook(mod: nn.Module, inputs: Any, output: Any) -> None:
            before = mod.__flops__
            original(mod, inputs, output)
            parts[type(mod).__name__] += int(mod.__flops__ - before)
        return hook

    def functional_hook(function: Any, original: Callable[..., int]) -> Callable[..., int]:
        def hook(*args: Any, **kwargs: Any) -> int:
            flops = int(original(*args, **kwargs))
            caller = stack.classes[-1] if stack.classes else "?"
            parts[f"F.{function.__name__} called in {caller}.forward"] += flops
            return flops
        return hook

    saved = dict(FUNCTIONAL_MAPPING)
    FUNCTIONAL_MAPPING.update({f: functional_hook(f, h) for f, h in saved.items()})
    try:
        with stack.tracking(), quiet():
            total, params = get_model_complexity_info(
                model, shape, as_strings=False, print_per_layer_stat=False,
                backend="pytorch",
                custom_modules_hooks={t: module_hook(h) for t, h in MODULES_MAPPING.items()},
            )
    finally:
        FUNCTIONAL_MAPPING.clear()
        FUNCTIONAL_MAPPING.update(saved)
    return Measured(int(total), int(params), parts)


def run_ptflops_aten(model: nn.Module, shape: tuple[int, ...]) -> Measured:
    """Return ptflops' MACs with its aten backend (matrix products and convolutions)."""
    from ptflops import get_model_complexity_info

    with quiet():
        total, params = get_model_complexity_info(
            model, shape, as_strings=False, print_per_layer_stat=False, backend="aten")
    return Measured(int(total), int(params))


def run_fvcore(model: nn.Module, shape: tuple[int, ...]) -> Measured:
    """Return fvcore's "flops" total, split by operator, and the operators it skipped."""
    from fvcore.nn import FlopCountAnalysis, parameter_count

    analysis = FlopCountAnalysis(model, torch.zeros(1, *shape))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    with quiet():
        total = analysis.total()
        parts = Counter({op: int(n) for op, n in analysis.by_operator().items()})
        skipped = analysis.unsupported_ops()
    notes = ", ".join(f"{op.removeprefix('aten::')} ×{n}" for op, n in sorted(skipped.items()))
    return Measured(int(total), parameter_count(model)[""], parts, notes)


def run_thop(model: nn.Module, shape: tuple[int, ...]) -> Measured:
    """Return thop's MACs, split by the hooked modules' class."""
    from thop import profile

    with quiet():
        total, params, layers = profile(model, inputs=(torch.zeros(1, *shape),),
                                        verbose=False, ret_layer_info=True)
    parts: Counter[str] = Counter()

    def walk(prefix: str, info: dict[str, Any]) -> None:
        for name, (ops, _, children) in info.items():
            full = f"{prefix}{name}"
            if children:
                walk(full + ".", children)
            elif ops:
                parts[type(model.get_submodule(full)).__name__] += int(ops)

    walk("", layers)
    return Measured(int(total), int(params), parts)


RUNNERS: dict[str, Callable[[nn.Module, tuple[int, ...]], Measured]] = {
    "torchinfo": run_torchinfo,
    "ptflops": run_ptflops,
    "ptflops-aten": run_ptflops_aten,
    "fvcore": run_fvcore,
    "thop": run_thop,
}


def measure(name: str) -> dict[str, Measured]:
    """Return every tool's result on the twin of examples/<name>.yaml (a fresh model each)."""
    shape = torch_models.INPUT_SHAPES[name]
    results = {}
    for tool, runner in RUNNERS.items():
        model = torch_models.BUILDERS[name]().eval()
        with torch.no_grad():
            results[tool] = runner(model, shape)
    return results


# --------------------------------------------------------------------------- the rules


def _leaves(report: Report) -> list[LayerRow]:
    return [row for row in report.layers if not row.container]


@dataclass(frozen=True)
class Row:
    """What the rules need to know of one convcalc row (batch 1).

    Attributes:
        type: convcalc's layer type.
        macs: convcalc's MACs.
        weights: weight parameters (params without biases).
        biases: bias parameters.
        params: all learnable parameters.
        inputs: input elements.
        outputs: output elements.
        in_positions: spatial positions of the input, per dim.
        out_positions: spatial positions of the output, per dim (1 each after global pooling).
        functional: the torch twin computes this layer with a function, not a module.
    """

    type: str
    macs: int
    weights: int
    biases: int
    params: int
    inputs: int
    outputs: int
    in_positions: tuple[int, ...]
    out_positions: tuple[int, ...]
    functional: bool

    @classmethod
    def of(cls, row: LayerRow, functional: bool) -> Row:
        in_positions = row.input_shape[1:]
        out_positions = row.output_shape[1:] or (1,) * len(in_positions)
        return cls(row.type, row.macs, row.params - row.bias_params, row.bias_params,
                   row.params, math.prod(row.input_shape), math.prod(row.output_shape),
                   in_positions, out_positions, functional)

    @property
    def bias_adds(self) -> int:
        """Return one add per output element when the layer has a bias, else 0."""
        return self.outputs if self.biases else 0


def _torchinfo(row: Row) -> int:
    # Every parameter once per output position (conv) or per sample (other layers).
    return {
        "conv": row.macs + row.bias_adds,
        "conv_transpose": row.weights * math.prod(row.out_positions) + row.bias_adds,
        "linear": row.macs + row.biases,
        "batchnorm": row.params,
    }.get(row.type, 0)


def _ptflops(row: Row) -> int:
    if row.type.endswith("pool"):  # input elements; twice: the module hook and F.*pool*
        return row.inputs * (1 if row.functional else 2)
    return {
        "conv": row.macs + row.bias_adds,
        "conv_transpose": row.macs + row.bias_adds,
        "linear": row.macs + row.biases,
        "batchnorm": 2 * row.inputs,
        "relu": 2 * row.outputs,  # the module hook, and F.relu inside nn.ReLU.forward
        "relu6": row.outputs,
        "leaky_relu": row.outputs,
        "gelu": row.outputs,
    }.get(row.type, 0)


def _ptflops_aten(row: Row) -> int:
    return {
        "conv": row.macs + row.bias_adds,
        "conv_transpose": row.macs + row.bias_adds,
        "linear": row.macs + row.biases,
    }.get(row.type, 0)


def _fvcore(row: Row) -> int:
    return {
        "conv": row.macs,
        "conv_transpose": row.macs,
        "linear": row.macs,
        "batchnorm": 2 * row.inputs,
        "adaptive_avgpool": row.inputs,
        "global_avgpool": row.inputs,
    }.get(row.type, 0)


def _thop(row: Row) -> int:
    if row.type in ("adaptive_avgpool", "global_avgpool"):
        if row.functional:
            return 0
        window = math.prod(i / o for i, o in zip(row.in_positions, row.out_positions,
                                                 strict=True))
        return int((window + 1) * row.outputs)  # adds and one divide per output
    return {
        "conv": row.macs,
        "conv_transpose": row.weights * math.prod(row.out_positions),
        "linear": row.macs,
        "batchnorm": 4 * row.inputs,
        "avgpool": row.outputs,
    }.get(row.type, 0)


RULES: dict[str, Callable[[Row], int]] = {
    "torchinfo": _torchinfo,
    "ptflops": _ptflops,
    "ptflops-aten": _ptflops_aten,
    "fvcore": _fvcore,
    "thop": _thop,
}
"""Each tool's count of one layer, as docs/conventions.md describes it."""


def predict(tool: str, report: Report, functional: set[str]) -> int:
    """Return ``tool``'s total as the rules derive it from convcalc's rows.

    ``functional`` names the rows the torch twin computes with a function, not a module.
    """
    return sum(RULES[tool](Row.of(row, row.name in functional)) for row in _leaves(report))


def convcalc_parts(report: Report) -> Counter[str]:
    """Return convcalc's MACs by torch module type (conv → Conv2d and so on)."""
    parts: Counter[str] = Counter()
    for row in _leaves(report):
        if row.type in WEIGHTED:
            rank = len(row.input_shape) - 1
            suffix = f"{rank}d" if row.type != "linear" else ""
            parts[WEIGHTED[row.type] + suffix] += row.macs
    return parts


# --------------------------------------------------------------------------- single layers


class _Call(nn.Module):
    """A module whose forward is one torch function (what a twin writes inline)."""

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x)


PROBE_INPUT = (4, 5, 5)

PROBES: list[tuple[str, Callable[[], nn.Module], str]] = [
    ("`x + y` (residual add)", lambda: _Call(lambda x: x + x),
     "{type: parallel, merge: add, branches: [[], []]}"),
    ("`torch.add(x, y)`", lambda: _Call(lambda x: torch.add(x, x)),
     "{type: parallel, merge: add, branches: [[], []]}"),
    ("`torch.cat` (concat)", lambda: _Call(lambda x: torch.cat([x, x], 1)),
     "{type: parallel, merge: concat, branches: [[], []]}"),
    ("LeakyReLU", nn.LeakyReLU, "leaky_relu"),
    ("GELU", nn.GELU, "gelu"),
    ("SiLU", nn.SiLU, "silu"),
    ("Sigmoid", nn.Sigmoid, "sigmoid"),
    ("Tanh", nn.Tanh, "tanh"),
    ("Hardswish", nn.Hardswish, "hardswish"),
    ("Softmax over channels", lambda: nn.Softmax(dim=1), "softmax"),
    ("Upsample ×2, nearest", lambda: nn.Upsample(scale_factor=2), "{type: upsample, scale: 2}"),
    ("Upsample ×2, bilinear", lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
     "{type: upsample, scale: 2, mode: linear}"),
    ("ZeroPad2d(1)", lambda: nn.ZeroPad2d(1), "{type: pad, padding: 1}"),
    ("ConvTranspose2d 4→3, k3 s2 p1 op1", lambda: nn.ConvTranspose2d(4, 3, 3, 2, 1, 1),
     "{type: conv_transpose, filters: 3, kernel: 3, stride: 2, padding: 1, output_padding: 1}"),
]
"""Single layers outside the examples: label, the torch module, the same layer in YAML."""


def probes_table() -> str:
    """Return the markdown table of each tool's count of single layers on a 4×5×5 input."""
    from convcalc import parse_network

    shape = "x".join(map(str, PROBE_INPUT))
    lines = [f"| layer (input {shape.replace('x', '×')}) | convcalc MACs | convcalc FLOPs | "
             + " | ".join(TOOLS) + " |", "|" + "---|" * (3 + len(TOOLS))]
    for label, build, layer in PROBES:
        ours = analyze(parse_network(f"input: {shape}\nlayers:\n  - {layer}\n").network)
        counts = []
        for runner in RUNNERS.values():
            with torch.no_grad():
                counts.append(f"{runner(build().eval(), PROBE_INPUT).total:,}")
        lines.append(f"| {label} | {ours.totals.macs:,} | {ours.totals.flops:,} | "
                     + " | ".join(counts) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- output


def percent(value: int, reference: int) -> str:
    """Return the relative difference of ``value`` to ``reference`` as ``+1.23 %``."""
    return f"{(value - reference) / reference * 100:+.2f} %"


def versions() -> str:
    """Return the versions of Python, torch, convcalc and the four tools."""
    names = ("torch", "convcalc", "torchinfo", "ptflops", "fvcore", "thop")
    listed = ", ".join(f"{name} {version(name)}" for name in names)
    return f"Python {sys.version.split()[0]}, {listed}"


def totals_table(results: dict[str, tuple[Report, dict[str, Measured]]]) -> str:
    """Return the markdown table of totals: convcalc, then each tool and its difference."""
    header = ("| network | convcalc MACs | convcalc FLOPs | torchinfo Mult-Adds "
              "| ptflops MACs | ptflops MACs (aten) | fvcore flops | thop MACs "
              "| tools' spread |")
    lines = [header, "|" + "---|" * 9]
    for name, (report, measured) in results.items():
        macs = report.totals.macs
        cells = [f"{measured[t].total:,} ({percent(measured[t].total, macs)})" for t in TOOLS]
        counts = [measured[t].total for t in TOOLS]
        spread = f"{(max(counts) / min(counts) - 1) * 100:.2f} %"
        lines.append(f"| {name} | {macs:,} | {report.totals.flops:,} | " + " | ".join(cells)
                     + f" | {spread} |")
    return "\n".join(lines)


def params_table(results: dict[str, tuple[Report, dict[str, Measured]]]) -> str:
    """Return the markdown table of parameter totals."""
    lines = ["| network | convcalc params | " + " | ".join(TOOLS) + " |", "|" + "---|" * 7]
    for name, (report, measured) in results.items():
        params = report.totals.params
        cells = ["same" if measured[t].params == params else f"{measured[t].params:,}"
                 for t in TOOLS]
        lines.append(f"| {name} | {params:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def breakdown(name: str, report: Report, measured: dict[str, Measured]) -> str:
    """Return one network's per-type split of each tool and the check of the rules."""
    ours = convcalc_parts(report)
    functional = FUNCTIONAL_IN_TWIN.get(name, set())
    lines = [f"### {name}", ""]
    for tool in TOOLS:
        result = measured[tool]
        predicted = predict(tool, report, functional)
        verdict = "exactly" if predicted == result.total else f"NOT ({predicted:,})"
        lines.append(f"- **{tool}** {result.total:,}; the rules predict it {verdict}"
                     + (f"; skipped operators: {result.notes}" if result.notes else ""))
        for part, count in sorted(result.parts.items(), key=lambda item: -item[1]):
            mine = ours.get(part) or ours.get(part.removesuffix("2d")) or 0
            if part in ("conv", "linear"):  # fvcore's operator names
                mine = sum(v for k, v in ours.items() if k.lower().startswith(part))
            extra = f" (convcalc MACs {mine:,}, {count - mine:+,})" if mine else ""
            lines.append(f"  - {part}: {count:,}{extra}")
    return "\n".join(lines)


def main() -> None:
    """Measure every example and print the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--breakdown", action="store_true",
                        help="split each tool's total by module type and check the rules")
    parser.add_argument("--layers", action="store_true",
                        help="also count single layers the examples do not use")
    parser.add_argument("networks", nargs="*", default=list(torch_models.BUILDERS),
                        help="example stems (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    results = {}
    for name in args.networks:
        report = analyze(load_network(REPO_ROOT / "examples" / f"{name}.yaml").network)
        results[name] = (report, measure(name))
    print(f"Measured with {versions()}.\n")
    print(totals_table(results))
    print()
    print(params_table(results))
    if args.layers:
        print()
        print(probes_table())
    if args.breakdown:
        for name, (report, measured) in results.items():
            print()
            print(breakdown(name, report, measured))


if __name__ == "__main__":
    main()
