"""A network as a PyTorch source file, built as a string: no torch import here.

``to_pytorch(network)`` returns a module that defines ``build()`` (the network as nested
``nn.Sequential``s and, where the file has them, small ``Residual``/``Parallel``
containers), ``INPUT_SHAPE``, and the numbers convcalc computed for it; run as a script
it builds the network, feeds it zeros and prints both. The conventions:

* **Names.** Every module is registered under its convcalc name, so module paths, and so
  the keys of ``state_dict()``, are convcalc's row names (``layer1.0.conv1.weight`` is row
  ``layer1.0.conv1``). A residual's or a parallel's bodies are all children of one
  module, as their convcalc names are unique across the bodies. A name that torch keeps
  for itself (``forward``, ``float``, ``training``, …) gets a trailing ``_``; the file's
  header lists every such rename.
* **Each layer** is the module its type's ``to_pytorch`` writes (in its module of
  ``convcalc.layers``): the ``nn`` class by the input's rank and, where PyTorch's own
  padding cannot express convcalc's, a pad module just before it, named ``<layer>_pad``.
* **after: [layers]** of a residual or a parallel are children of its module too, run on
  the merged output (``layer1.0.relu`` is a child of ``layer1.0``).
* **graph** containers are ``Graph`` modules: every node that is a layer or a container
  is a child under its name; ``forward`` keeps each node's output in a dict under the
  node's name (``None`` is the graph's input) and hands each node the values it names,
  a merge node joining them; it returns the output node's value. The wiring reaches the
  source as data: each step is ``(name, module or merge name, names read)``, every name a
  ``constant``.
* **aux** heads are ``Aux`` modules: their layers run on the tensor and their output is
  collected; the tensor goes on unchanged. A network with aux heads is built as a
  ``WithAux`` (an ``nn.Sequential`` whose ``forward`` returns ``(main output, *aux
  outputs)``, the heads' in the order they ran, as torchvision's Inception v3 does in
  training); without them, ``forward`` returns the output alone.
* **repeat: N** is an ``nn.Sequential`` of N copies named ``0`` … ``N−1``; consecutive
  copies whose source is the same are written once, in a loop (each copy is still built
  anew, with its own weights).
* Nothing is in place (``inplace=True`` would overwrite a residual's input before the
  shortcut reads it).

**What the file holds is data, never spliced text.** Every value from the network file (the
network's name, layer names, every option) reaches the source only as ``constant(value)``
or, in a comment line, through ``comment`` (both in ``convcalc.layers.torch_source``, with
the rest of the pieces the source is built from), and never on the first two lines (where
``coding: utf-7`` would change how Python decodes the file). The rest of the source is the
exporter's own text, held as ``Code``.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import get_args

from convcalc.analysis import analyze
from convcalc.errors import LayerError
from convcalc.layers import Container, Parallel, Residual, Sequential
from convcalc.layers.containers import Aux, Graph
from convcalc.layers.merges import Merge, MergeName, merge_definition
from convcalc.layers.torch_source import Code, TorchHelper, comment, constant
from convcalc.plan import GraphTurn, Group, Leaf, PlanNode, Turn
from convcalc.plan import Merge as MergeStep
from convcalc.results import LayerRow, Report
from convcalc.spec import Network

__all__ = ["TORCH_RESERVED_NAMES", "to_pytorch"]

_TORCH_ATTRIBUTES = """
    T_destination _apply _backward_hooks _backward_pre_hooks _buffers _call_impl
    _compiled_call_impl _forward_hooks _forward_hooks_always_called _forward_hooks_with_kwargs
    _forward_pre_hooks _forward_pre_hooks_with_kwargs _get_backward_hooks
    _get_backward_pre_hooks _get_item_by_idx _get_name _is_full_backward_hook
    _load_from_state_dict _load_state_dict_post_hooks _load_state_dict_pre_hooks
    _maybe_warn_non_full_backward_hook _modules _named_members _non_persistent_buffers_set
    _parameters _register_load_state_dict_pre_hook _register_state_dict_hook
    _replicate_for_data_parallel _save_to_state_dict _slow_forward _state_dict_hooks
    _state_dict_pre_hooks _version _wrapped_call_impl add_module append apply bfloat16 buffers
    call_super_init children clear compile cpu cuda double dump_patches eval extend extra_repr
    float forward get_buffer get_extra_state get_parameter get_submodule half insert ipu items
    keys load_state_dict modules mtia named_buffers named_children named_modules
    named_parameters parameters pop register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
    set_submodule share_memory state_dict to to_empty train training type update values xpu
    zero_grad
    _layer_names _shortcut_names _branch_names _merge _after_names _outputs _merged
    _steps _output _join
"""
TORCH_RESERVED_NAMES = frozenset(_TORCH_ATTRIBUTES.split())
"""Names ``add_module`` refuses on ``nn.Sequential`` and the containers the file defines
(attributes of ``nn.Module``, ``nn.Sequential``, ``nn.ModuleDict`` in torch 2.x and of the
generated classes); dunder names are refused by rule. A test keeps this list complete."""


# ----------------------------------------------------------------------- layout


@dataclass
class _Block:
    """Source over several lines: ``head``, then ``parts`` one level in, then ``tail``.

    ``head`` and ``tail`` are the exporter's own text.
    """

    head: str
    parts: list[_Entry | _Block | Code]
    tail: str


@dataclass
class _Entry:
    """One child module of a container: ``("name", module),  # comment``.

    Attributes:
        name: the module's name in its parent; settled once the parent's names are known.
        module: its constructor call.
        comment: the output shape where the module changes it, for the reader.
        full_name: convcalc's full name of the layer ("" for a pad module).
        pads: for a pad module, the entry of the layer it pads.
        turns: for a loop over repeat copies, ``(first, stop)``.
        reads: for a step of a graph, the entries whose values it reads (None: the
            graph's input), written by their settled names.
        merge: a graph's merge step: its name keys a value, not a module, so torch's
            reserved names are not renamed (other names still avoid it).
    """

    name: str
    module: Code | _Block
    comment: str = ""
    full_name: str = ""
    pads: _Entry | None = None
    turns: tuple[int, int] | None = None
    reads: tuple[_Entry | None, ...] | None = None
    merge: bool = False


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(int(d)) for d in shape)


def _lines(part: _Entry | _Block | Code, indent: int) -> list[str]:
    """Return the source lines of one part, indented by ``indent`` spaces."""
    margin = " " * indent
    if isinstance(part, Code):
        return [margin + part.text]
    if isinstance(part, _Block):
        head, *rest = _module_lines(part, indent)
        return [margin + head, *rest]
    module = _module_lines(part.module, indent)
    if part.turns:
        first, stop = part.turns
        module[0] = f"*((str(turn), {module[0]}"
        module[-1] += f") for turn in range({constant(first)}, {constant(stop)})),"
    elif part.reads is not None:
        reads = tuple(None if entry is None else entry.name for entry in part.reads)
        module[0] = f"({constant(part.name)}, {module[0]}"
        module[-1] += f", {constant(reads)}),"
    else:
        module[0] = f"({constant(part.name)}, {module[0]}"
        module[-1] += "),"
    if part.comment:
        module[-1] += f"  # {comment(part.comment)}"
    return [margin + module[0], *module[1:]]


def _module_lines(module: Code | _Block, indent: int) -> list[str]:
    """Return a module's lines; the first one unindented (it follows ``("name", ``)."""
    if isinstance(module, Code):
        return [module.text]
    if not module.parts:
        return [module.head + module.tail]
    inner = [line for part in module.parts for line in _lines(part, indent + 4)]
    return [module.head, *inner, " " * indent + module.tail]


# ----------------------------------------------------------------------- the walk


def _reserved(name: str) -> bool:
    """Return whether torch may refuse ``name``: its own attributes, and Python's dunders.

    A dunder is ``__x__`` with ``x`` not ending in ``_`` (no special name does), so the
    rename, a trailing ``_``, always leaves the rule and the loop in ``settle`` ends.
    """
    return name in TORCH_RESERVED_NAMES or re.fullmatch(r"__.*[^_]__", name) is not None


def _change(row: LayerRow) -> str:
    """Return the output shape as a comment where it differs from the input's, else ""."""
    return "" if row.output_shape == row.input_shape else _shape(row.output_shape)


def _local(full_name: str) -> str:
    return full_name.rsplit(".", 1)[-1]


@dataclass
class _Writer:
    """One pass over the analysis's plan tree, each layer and container with its row."""

    helpers: dict[str, TorchHelper] = field(default_factory=dict)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    padded: list[str] = field(default_factory=list)

    def helper(self, helper: TorchHelper) -> None:
        """Have the file define ``helper``; one name is one class."""
        if self.helpers.setdefault(helper.name, helper) != helper:
            raise AssertionError(f"two helper classes called {helper.name!r}")

    def nodes(self, nodes: Sequence[PlanNode]) -> list[_Entry]:
        entries: list[_Entry] = []
        for node in nodes:
            if isinstance(node, Group):
                entries.append(self.container(node))
            else:
                entries += self.leaf(node)
        return entries

    def leaf(self, node: Leaf) -> list[_Entry]:
        row = node.row
        try:
            leaf = node.layer.to_pytorch(row.input_shape)
        except LayerError as error:  # a type export refuses (unknown): say which row
            error.location, error.layer = row.location, row.name
            raise
        if leaf.helper:
            self.helper(leaf.helper)
        entry = _Entry(_local(row.name), leaf.module, _change(row), row.name)
        if leaf.pad is None:
            return [entry]
        self.padded.append(row.name)
        return [_Entry("", leaf.pad, pads=entry), entry]

    def container(self, group: Group) -> _Entry:
        layer = group.layer
        if layer.repeat == 1:
            module = self.bodies(layer, group.turns[0])
        else:
            turns: list[_Entry] = []
            for turn, block in enumerate(group.turns):
                body = self.bodies(layer, block)
                source = _module_lines(body, 0)
                if turns and _module_lines(turns[-1].module, 0) == source:
                    first = turns[-1].turns[0] if turns[-1].turns else turn - 1
                    turns[-1] = _Entry(turns[-1].name, body, turns=(first, turn + 1))
                else:
                    turns.append(_Entry(str(turn), body))
            for entry in turns:  # a loop of one turn reads better written out
                if entry.turns and entry.turns[1] - entry.turns[0] == 1:
                    entry.name, entry.turns = str(entry.turns[0]), None
            module = _Block("nn.Sequential(OrderedDict([", list(turns), "]))")
        row = group.row
        return _Entry(_local(row.name), module, _change(row), row.name)

    def graph(self, turn: GraphTurn) -> _Block:
        """Return a graph's turn as a ``Graph`` module: its steps as data, then its output."""
        self.helper(_graph())
        entries: list[_Entry] = []
        bound: dict[str, _Entry | None] = {"input": None}
        for step in turn.steps:
            reads = tuple(bound[name] for name in step.reads)
            if isinstance(step.node, MergeStep):
                entry = _Entry(step.name, Code(constant(step.node.kind)),
                               _change(step.node.row), step.node.row.name, reads=reads,
                               merge=True)
                entries.append(entry)
            else:
                made = self.nodes([step.node])
                for part in made:  # a pad module reads the step's input, the layer the pad
                    part.reads = reads
                    reads = (part,)
                entries += made
                entry = made[-1]
            bound[step.name] = entry
        self.settle(entries)
        steps = _Block("[", list(entries), "],")
        output = bound[turn.output]
        assert output is not None  # the model refuses a graph whose output is its input
        return _Block("Graph(", [steps, Code(constant(output.name) + ",")], ")")

    def bodies(self, layer: Container, turn: Turn | GraphTurn) -> _Block:
        if isinstance(turn, GraphTurn):
            return self.graph(turn)
        assert not isinstance(layer, Graph)  # a graph's turns are GraphTurns
        bodies = [self.nodes(body) for body in turn.bodies]
        after = self.nodes(turn.after)
        merge = None if turn.merge is None else merge_definition(turn.merge.kind)
        self.settle([entry for body in bodies for entry in body] + after)
        after_part: list[_Entry | _Block | Code] = (
            [_Block("after=[", list(after), "],")] if after else [])
        if isinstance(layer, Sequential):
            return _Block("nn.Sequential(OrderedDict([", list(bodies[0]), "]))")
        if isinstance(layer, Aux):
            self.helper(_aux())
            return _Block("Aux([", list(bodies[0]), "])")
        if isinstance(layer, Residual):
            assert merge is not None  # a residual's bodies are always merged
            self.helper(_residual(merge))
            parts: list[_Entry | _Block | Code] = [_Block("layers=[", list(bodies[0]), "],")]
            if bodies[1]:
                parts.append(_Block("shortcut=[", list(bodies[1]), "],"))
            return _Block("Residual(", parts + after_part, ")")
        if isinstance(layer, Parallel):
            self.helper(_parallel())
            branches = [_Block("[", list(body), "],") for body in bodies]
            merge_name = Code(constant(layer.merge) + ",")
            return _Block("Parallel(", [merge_name, *branches, *after_part], ")")
        raise AssertionError(f"no export for container {type(layer).__name__}")

    def settle(self, entries: list[_Entry]) -> None:
        """Give the children of one module names torch accepts, unique among them."""
        taken = {entry.name for entry in entries if entry.pads is None}
        for entry in entries:
            if entry.pads is None and not entry.merge and _reserved(entry.name):
                name = entry.name
                while _reserved(name) or name in taken:
                    name += "_"
                taken.add(name)
                self.renamed.append((entry.full_name, name))
                entry.name = name
        for entry in entries:
            if entry.pads is not None:
                name = f"{entry.pads.name}_pad"
                while _reserved(name) or name in taken:
                    name += "_"
                taken.add(name)
                entry.name = name


# ----------------------------------------------------------------------- the file

def _residual(merge: Merge) -> TorchHelper:
    """Return the ``Residual`` class: its two bodies' outputs joined as ``merge`` writes it."""
    summary = merge.torch_expression(["layers(x)", "shortcut(x)"])
    merged = merge.torch_expression(["_run(self, self._layer_names, x)",
                                     "_run(self, self._shortcut_names, x)"])
    return TorchHelper("Residual", f'''
class Residual(nn.Module):
    """``after({summary})``; an empty shortcut or after is the identity.

    The modules of both bodies and of after are children of this one, under their own
    names.
    """

    def __init__(
        self,
        layers: list[tuple[str, nn.Module]],
        shortcut: list[tuple[str, nn.Module]] | None = None,
        after: list[tuple[str, nn.Module]] | None = None,
    ) -> None:
        super().__init__()
        shortcut = shortcut or []
        after = after or []
        for name, module in [*layers, *shortcut, *after]:
            self.add_module(name, module)
        self._layer_names = [name for name, _ in layers]
        self._shortcut_names = [name for name, _ in shortcut]
        self._after_names = [name for name, _ in after]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        merged = {merged}
        return _run(self, self._after_names, merged)
''')


def _parallel() -> TorchHelper:
    """Return the ``Parallel`` class, which merges its branches by any registered merge.

    Each merge writes its own lines of ``forward``, chosen by name in ``MergeName``'s
    order; the last needs no test, as a ``Parallel`` is only ever given a merge its file
    named and the loader accepts only those names. A name without a definition raises.
    """
    merges = [merge_definition(name) for name in get_args(MergeName)]
    forward: list[str] = []
    for merge in merges[:-1]:
        if not re.fullmatch(r"\w+", merge.name):
            raise AssertionError(f"not a merge's name: {merge.name!r}")
        forward += [f'if self._merge == "{merge.name}":',
                    *("    " + line for line in merge.torch_statements("outputs"))]
    forward += merges[-1].torch_statements("outputs")
    summary = " or ".join(merge.torch_summary for merge in merges)
    merged = "\n".join(" " * 8 + line for line in forward)
    return TorchHelper("Parallel", f'''
class Parallel(nn.Module):
    """Branches over the same input, merged by {summary}, then the after layers; [] is x.

    The modules of every branch and of after are children of this one, under their own
    names.
    """

    def __init__(
        self,
        merge: str,
        *branches: list[tuple[str, nn.Module]],
        after: list[tuple[str, nn.Module]] | None = None,
    ) -> None:
        super().__init__()
        after = after or []
        for name, module in [entry for branch in [*branches, after] for entry in branch]:
            self.add_module(name, module)
        self._merge = merge
        self._branch_names = [[name for name, _ in branch] for branch in branches]
        self._after_names = [name for name, _ in after]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _run(self, self._after_names, self._merged(x))

    def _merged(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [_run(self, names, x) for names in self._branch_names]
{merged}
''')


def _graph() -> TorchHelper:
    """Return the ``Graph`` class: named steps, each a child module or a merge.

    The merges' lines are chosen by name in ``MergeName``'s order, as in ``Parallel``.
    """
    merges = [merge_definition(name) for name in get_args(MergeName)]
    join: list[str] = []
    for merge in merges[:-1]:
        if not re.fullmatch(r"\w+", merge.name):
            raise AssertionError(f"not a merge's name: {merge.name!r}")
        join += [f'if merge == "{merge.name}":',
                 *("    " + line for line in merge.torch_statements("outputs"))]
    join += merges[-1].torch_statements("outputs")
    joined = "\n".join(" " * 8 + line for line in join)
    return TorchHelper("Graph", f'''
class Graph(nn.Module):
    """Nodes wired by name. Each step is ``(name, module, reads)``: a child module run on
    the value ``reads[0]`` names, or a merge's name ("add", "concat", "mul") joining every
    value it reads. ``forward`` keeps each step's output under its name (None is the
    graph's input) and returns the value called ``output``.
    """

    def __init__(
        self,
        steps: list[tuple[str, nn.Module | str, tuple[str | None, ...]]],
        output: str,
    ) -> None:
        super().__init__()
        self._steps: list[tuple[str, str | None, tuple[str | None, ...]]] = []
        for name, module, reads in steps:
            if isinstance(module, str):
                self._steps.append((name, module, reads))
            else:
                self.add_module(name, module)
                self._steps.append((name, None, reads))
        self._output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str | None, torch.Tensor] = {{None: x}}
        for name, merge, reads in self._steps:
            inputs = [values[read] for read in reads]
            if merge is None:
                values[name] = self.get_submodule(name)(inputs[0])
            else:
                values[name] = self._join(merge, inputs)
        return values[self._output]

    @staticmethod
    def _join(merge: str, outputs: list[torch.Tensor]) -> torch.Tensor:
{joined}
''')


def _aux() -> TorchHelper:
    """Return the ``Aux`` head and ``WithAux``, the network that returns the heads' outputs."""
    return TorchHelper("Aux", '''
class Aux(nn.Module):
    """An auxiliary head: its layers run on x and their output leaves the network (the
    enclosing WithAux returns it); x goes on unchanged.
    """

    def __init__(self, layers: list[tuple[str, nn.Module]]) -> None:
        super().__init__()
        for name, module in layers:
            self.add_module(name, module)
        self._layer_names = [name for name, _ in layers]
        self._outputs: list[torch.Tensor] | None = None  # set by WithAux while it runs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output = _run(self, self._layer_names, x)
        if self._outputs is not None:
            self._outputs.append(output)
        return x


class WithAux(nn.Sequential):
    """The network with auxiliary heads: ``forward`` returns ``(main output, *aux head
    outputs)``, the heads' in the order they ran.
    """

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:  # type: ignore[override]
        heads = [module for module in self.modules() if isinstance(module, Aux)]
        outputs: list[torch.Tensor] = []
        for head in heads:
            head._outputs = outputs
        try:
            main = super().forward(x)
        finally:
            for head in heads:
                head._outputs = None
        return (main, *outputs)
''')


_CONTAINER_HELPERS = ("Residual", "Parallel", "Graph", "Aux")
"""The containers' helper classes, written first and in this order; they call ``_run``."""

_RUN = '''
def _run(parent: nn.Module, names: list[str], x: torch.Tensor) -> torch.Tensor:
    """Return ``x`` through the children of ``parent`` called ``names``, in order."""
    for name in names:
        x = parent.get_submodule(name)(x)
    return x
'''

_MAIN = '''
if __name__ == "__main__":
    model = build().eval()
    with torch.no_grad():
        output = model(torch.zeros(1, *INPUT_SHAPE))
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters   {parameters:,} (convcalc: {PARAMETERS:,})")
    print(f"output shape {tuple(output.shape[1:])} (convcalc: {OUTPUT_SHAPE})")
'''

_MAIN_AUX = '''
if __name__ == "__main__":
    model = build().eval()
    with torch.no_grad():
        output, *heads = model(torch.zeros(1, *INPUT_SHAPE))
    parameters = sum(p.numel() for p in model.parameters())
    print(f"parameters   {parameters:,} (convcalc: {PARAMETERS:,}, aux heads included)")
    print(f"output shape {tuple(output.shape[1:])} (convcalc: {OUTPUT_SHAPE})")
    shapes = [tuple(head.shape[1:]) for head in heads]
    print(f"aux outputs  {shapes} (convcalc: {AUX_OUTPUT_SHAPES})")
'''


def _header(report: Report, source: str | None, version: str, writer: _Writer) -> list[str]:
    """Return the header comment: fixed text on the first two lines, then the file's values.

    Values from the file (the network's name, its path, layer names) go through
    ``comment``, and only from the third line on: Python reads a ``coding:`` declaration
    on the first two.
    """
    totals = report.totals
    lines = [f"# A network as a PyTorch module, generated by convcalc {comment(version)}.", "#"]
    if report.name is not None:
        lines.append(f"# network   {comment(report.name)}")
    if source:
        lines.append(f"# file      {comment(source)}")
    if len(lines) > 2:
        lines.append("#")
    lines += [
        f"# convcalc's numbers for one {_shape(report.input_shape)} input, which build() "
        "reproduces:",
        f"#   parameters      {totals.params:,}",
    ]
    if totals.non_trainable_params:
        lines.append(f"#   non-trainable   {totals.non_trainable_params:,} "
                     "(running statistics: buffers, not parameters)")
    lines += [
        f"#   output shape    {_shape(report.output_shape)}",
        f"#   MACs            {totals.macs:,}",
        f"#   FLOPs           {totals.flops:,} (convcalc's convention)",
        "#",
        "# Module names are convcalc's layer names, so parameter names read as its rows do:",
        "# a.b.weight belongs to row a.b.",
    ]
    notes = []
    if writer.padded:
        notes.append("Padding that PyTorch's own layers cannot express is a <layer>_pad module "
                     f"just before the layer: {', '.join(writer.padded)}.")
    notes += [f"Renamed, as torch reserves the name: {full_name} is {name} here."
              for full_name, name in writer.renamed]
    for note in notes:
        lines += ["# " + line for line in textwrap.wrap(comment(note), 86,
                                                         break_long_words=False,
                                                         break_on_hyphens=False)]
    return lines


def to_pytorch(network: Network, source: str | None = None) -> str:
    """Return Python source defining ``build()`` -> the network as a ``torch.nn.Module``.

    ``source`` (the file the network came from) is named in the header. Raises LayerError
    when the layers do not fit together, as ``analyze`` does.
    """
    from convcalc import __version__

    report = analyze(network)
    assert report.plan is not None  # analyze always leaves one
    writer = _Writer()
    entries = writer.nodes(report.plan.nodes)
    writer.settle(entries)
    has_aux = "Aux" in writer.helpers
    network_class = "WithAux" if has_aux else "nn.Sequential"
    body = _module_lines(_Block(f"{network_class}(OrderedDict([", list(entries), "]))"), 4)
    helpers = [writer.helpers[name] for name in _CONTAINER_HELPERS if name in writer.helpers]
    helpers += sorted((helper for name, helper in writer.helpers.items()
                       if name not in _CONTAINER_HELPERS), key=lambda helper: helper.name)
    needs_run = any(name in writer.helpers for name in _CONTAINER_HELPERS)
    imports = ["from collections import OrderedDict", "", "import torch",
               *sorted({line for helper in helpers for line in helper.imports}),
               "from torch import nn"]
    lines = [
        *_header(report, source, __version__, writer),
        "",
        '"""A network from convcalc as a PyTorch module: ``build()`` returns it."""',
        "",
        "from __future__ import annotations",
        "",
        *imports,
        "",
        f"NAME = {constant(report.name)}",
        '"""The network\'s name in its convcalc file; None when it has none."""',
        f"INPUT_SHAPE = {constant(tuple(report.input_shape))}",
        '"""The input shape, channels first, batch not included."""',
        f"OUTPUT_SHAPE = {constant(tuple(report.output_shape))}",
        f"PARAMETERS = {constant(report.totals.params)}",
        "",
    ]
    if has_aux:
        heads = [tuple(row.output_shape) for row in report.layers
                 if row.container and row.type == "aux"]
        lines[-1:] = [f"AUX_OUTPUT_SHAPES = {constant(tuple(heads))}",
                      '"""Each aux head\'s output shape, in the order the heads run."""', ""]
    if needs_run:
        lines += ["", *_RUN.strip("\n").split("\n"), ""]
    for helper in helpers:
        lines += ["", *helper.source.strip("\n").split("\n"), ""]
    lines += [
        "",
        "def build() -> nn.Sequential:",
        '    """Return the network, with PyTorch\'s default initialisation."""',
        "    return " + body[0],
        *body[1:],
        "",
        *(_MAIN_AUX if has_aux else _MAIN).split("\n")[:-1],
    ]
    return "\n".join(lines) + "\n"
