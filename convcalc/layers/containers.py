"""Containers: ``sequential``, ``residual``, ``parallel``, ``aux`` and ``graph``, how
branches merge, and ``Layer``, the union of every layer type.

A container is a list of bodies run on the same input and, when there is more than one,
a merge, then its ``after`` layers on the merged output. ``sequential`` has one body;
``residual`` has ``layers`` and ``shortcut`` (the identity when absent) merged by
``add``; ``parallel`` has its ``branches`` merged by ``concat`` (over channels), ``add``
or ``mul`` (broadcasting). ``aux`` is an auxiliary head: its one body runs on the current
tensor and its output leaves the network, while the main path goes on with the tensor
unchanged. ``repeat: N`` runs the whole container N times in a row (not an ``aux``). The
analysis walks bodies; this module only says what they are and which merge joins them
(the merges' rules are in ``convcalc.layers.merges``).

``graph`` is the one container whose wiring is written by name rather than by nesting:
its ``nodes`` are layers (any layer, containers included) and merges, each with a
``name`` and the names it reads (``from``), so that a network whose skips are not
series-parallel (a U-Net written flat, what an ONNX graph gives) can still be written.
Its model checks the wiring (``Graph._wired``): every name read is an earlier node or
``input``, names are unique, a layer reads one tensor and a merge at least two, the
output is a node, and every node is read (a graph has one output, so a node nothing
reads is a mistake).

A container holds any layer, containers included, so the containers and the union of
every layer type are defined together, here, after every family module: the containers'
``list[Layer]`` fields name ``Layer`` before it exists, and pydantic resolves the name in
this module when a container's schema is first needed (building it at import would cost
every run the schema of every layer type, which ``convcalc layer`` never needs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias, Union, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    Strict,
    Tag,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from convcalc.layers.base import (
    REGISTRY,
    Cost,
    LayerFamily,
    LayerSpec,
    Name,
    Shape,
    TypeField,
)
from convcalc.layers.channels import ChannelLayer
from convcalc.layers.conv import ConvLayer
from convcalc.layers.dense import DenseLayer
from convcalc.layers.elementwise import ElementwiseLayer
from convcalc.layers.merges import MERGES, MergeName, merge_definition
from convcalc.layers.norm import NormLayer
from convcalc.layers.pool import PoolLayer
from convcalc.layers.resample import ResampleLayer
from convcalc.layers.unknown import UnknownLayer
from convcalc.textsafe import echo

__all__ = [
    "GRAPH_INPUT",
    "LAYER_CLASSES",
    "MAX_REPEAT",
    "Aux",
    "Container",
    "Graph",
    "GraphMerge",
    "GraphNode",
    "Layer",
    "Parallel",
    "Residual",
    "Sequential",
    "merge_shapes",
]

MAX_REPEAT = 1_000_000
Repeat = Annotated[int, Strict(), Field(ge=1, le=MAX_REPEAT)]

Body = tuple[tuple[str | int, ...], Sequence[LayerSpec]]
"""A body: its path inside the container (for messages) and its layers."""


class Container(LayerSpec):
    """Base of the containers: bodies over one input, then a merge when there are several."""

    family: ClassVar[LayerFamily] = LayerFamily.container
    container: ClassVar[bool] = True
    repeat: Repeat = Field(1, description="Run the container this many times in a row, each "
                                          "time with its own weights.")

    aux: ClassVar[bool] = False
    """True for ``aux``: its output leaves the network and the main path goes on with its
    input unchanged."""

    def bodies(self) -> list[Body]:
        """Return the bodies, each with its path inside this container."""
        raise NotImplementedError

    def after_layers(self) -> Sequence[LayerSpec]:
        """Return the layers run on the merged output, inside the container ([]: none)."""
        return []

    @property
    def merge_kind(self) -> MergeName | None:
        """Return how the bodies' outputs combine, or None for a single body."""
        return None


class Sequential(Container):
    """Layers run one after another."""

    type: TypeField[Literal["sequential"]]
    layers: list[Layer] = Field(description="The layers, in order.")

    def bodies(self) -> list[Body]:
        return [(("layers",), self.layers)]


class Residual(Container):
    """``layers(x) + shortcut(x)``; the shortcut is the identity when absent."""

    type: TypeField[Literal["residual"]]
    layers: list[Layer] = Field(description="The layers, in order.")
    shortcut: list[Layer] | None = Field(None, description=(
        "The shortcut's layers, added to the output of layers; absent or [] is the identity."))
    after: list[Layer] | None = Field(None, description=(
        "Layers run on the merged output inside the container (the ReLU after a residual "
        "add): rows of the block, named under it; absent or [] is none."))

    def bodies(self) -> list[Body]:
        return [(("layers",), self.layers), (("shortcut",), self.shortcut or [])]

    def after_layers(self) -> Sequence[LayerSpec]:
        return self.after or []

    @property
    def merge_kind(self) -> MergeName | None:
        return "add"


class Parallel(Container):
    """Branches over the same input (Inception), merged by ``concat``, ``add`` or ``mul``;
    [] is x."""

    type: TypeField[Literal["parallel"]]
    branches: list[list[Layer]] = Field(min_length=1, description=(
        "The branches, each a list of layers over the same input; [] is the identity."))
    merge: MergeName = Field("concat", description=(
        "How the branches combine: concat over channels, add (equal shapes), or mul "
        "(elementwise product with broadcasting: in every dimension each branch is the "
        "largest size or 1)."))
    after: list[Layer] | None = Field(None, description=(
        "Layers run on the merged output inside the container (the ReLU after a residual "
        "add): rows of the block, named under it; absent or [] is none."))

    def bodies(self) -> list[Body]:
        return [(("branches", i), branch) for i, branch in enumerate(self.branches)]

    def after_layers(self) -> Sequence[LayerSpec]:
        return self.after or []

    @property
    def merge_kind(self) -> MergeName | None:
        return self.merge


class Aux(Container):
    """An auxiliary head (Inception v3's ``AuxLogits``): ``layers`` run on the current
    tensor and their output leaves the network; the main path goes on with the tensor
    unchanged. Not inside another ``aux``; takes no ``repeat``."""

    aux: ClassVar[bool] = True
    type: TypeField[Literal["aux"]]
    layers: list[Layer] = Field(min_length=1, description=(
        "The head's layers, in order, on the current tensor; their output leaves the "
        "network."))

    @model_validator(mode="before")
    @classmethod
    def _no_repeat(cls, data: Any) -> Any:
        if isinstance(data, dict) and "repeat" in data:
            raise PydanticCustomError(
                "aux_repeat", "an aux head takes no repeat (it runs once, on the tensor "
                "where it stands); repeat the container around it instead")
        return data

    def bodies(self) -> list[Body]:
        return [(("layers",), self.layers)]


GRAPH_INPUT = "input"
"""The name a graph's node reads the graph's own input by."""

_MAX_LISTED = 12
"""The most names a wiring message lists (the rest are counted)."""


def _listed(names: Sequence[str]) -> str:
    """Return names for a message: each echoed, at most _MAX_LISTED of them."""
    shown = ", ".join(echo(name) for name in names[:_MAX_LISTED])
    rest = len(names) - _MAX_LISTED
    return f"{shown} and {rest:,} more" if rest > 0 else shown


def _wiring_error(message: str, node: int | None, field: str | None) -> PydanticCustomError:
    """Return a graph's wiring error; the loader points it at ``nodes[node].field``.

    The message goes in as a context value, not as the template, so that braces in a
    user's names are not read as placeholders.
    """
    return PydanticCustomError("graph_wiring", "{message}",
                               {"message": message, "node": node, "field": field})


class GraphMerge(BaseModel):
    """A merge node of a graph: the outputs of the nodes it reads (``from``, at least
    two, in that order) joined by ``add``, ``concat`` or ``mul``, as ``parallel`` joins
    its branches."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    type: MergeName = Field(description="The merge: concat over channels, add (equal "
                                        "shapes) or mul (broadcasting).")
    name: Name | None = Field(None, description="The node's name, unique in its graph.")


def _node_tag(value: Any) -> str | None:
    """Return the class that implements a node: a merge's, or the layer type's."""
    type_name = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if isinstance(type_name, str) and type_name in MERGES and not isinstance(value, LayerSpec):
        return GraphMerge.__name__
    return _layer_class_tag(value)


class GraphNode(BaseModel):
    """One node of a graph, written flat: a layer (or a merge) with its ``name`` and the
    names it reads in ``from``.

    The model keeps the two apart, ``node`` (the layer or merge as it would be written
    anywhere else) and ``reads`` (``from``; None: the node before it, or ``input``), so
    that every layer class stays the same inside a graph and ``from`` stays an unknown
    key outside one. The flat form is what a user and the schema see.

    Attributes:
        reads: the names written in ``from``; None when absent.
        node: the layer, or the merge.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True,
                              populate_by_name=True)

    reads: tuple[Annotated[str, Strict()], ...] | None = Field(None, alias="from")
    node: GraphItem

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        """Return ``{from, node}`` from the flat mapping (the loader may hand over a node
        already validated, as ``{"from": ..., "node": model}``)."""
        if not isinstance(data, dict):
            raise PydanticCustomError(
                "graph_node_kind", "a graph's node is a mapping with a 'name' and a 'type' "
                "(and 'from')")
        if set(data) <= {"from", "node"} and isinstance(data.get("node"),
                                                        (LayerSpec, GraphMerge)):
            return data
        rest = dict(data)
        reads = rest.pop("from", None)
        return {"from": reads, "node": rest}

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """Return the flat form's schema: a merge node is checked whole; a layer node is
        a layer with ``name`` and ``from``, whose own fields the schema of ``Layer``
        cannot check here (its definitions forbid the extra ``from``), so only its
        ``type``, ``name`` and ``from`` are."""
        names = {"type": "array", "items": {"type": "string"},
                 "description": "The names of the nodes this one reads (input: the "
                                "graph's input); absent: the node before it."}
        name = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[^.\s]+$",
                "description": "The node's name, unique in its graph; later nodes read it."}
        merges = list(MERGES)
        return {
            "description": "A node of a graph: a layer with a name and from, or a merge "
                           "{name, type: add|concat|mul, from: [two or more names]}.",
            "type": "object",
            "required": ["type", "name"],
            "properties": {"type": {"type": "string"}, "name": name, "from": names},
            "if": {"properties": {"type": {"enum": merges}}},
            "then": {"required": ["from"], "additionalProperties": False,
                     "properties": {"type": {"enum": merges}, "name": name,
                                    "from": {**names, "minItems": 2}}},
        }

    @model_serializer(mode="wrap")
    def _flat(self, handler: SerializerFunctionWrapHandler,
              info: SerializationInfo) -> Any:
        """Return the node as it is written: the layer's (or merge's) keys and ``from``."""
        data = handler(self)
        if not isinstance(data, dict):
            return data
        reads = data.pop("from" if info.by_alias else "reads", None)
        node = data.get("node")
        flat = dict(node) if isinstance(node, dict) else {"node": node}
        if reads is not None:
            flat["from"] = reads
        return flat

    def sources(self, previous: str) -> tuple[str, ...]:
        """Return the names this node reads; ``previous`` is the node before it."""
        return (previous,) if self.reads is None else self.reads

    @property
    def name(self) -> str:
        """Return the node's name (the graph's model checks that it has one)."""
        assert self.node.name is not None
        return self.node.name


class Graph(Container):
    """Nodes wired by name: each a layer, or a merge of named nodes, reading the nodes it
    names in ``from`` (the node before it when absent; ``input`` is the graph's input);
    the graph's output is the ``output`` node's, the last node's when absent."""

    type: TypeField[Literal["graph"]]
    nodes: list[GraphNode] = Field(min_length=1, description=(
        "The nodes, in order: layers written as usual plus a required name and from "
        "(the names they read; absent: the node before), or merges {name, type: "
        "add|concat|mul, from: [names]}; a node reads only earlier nodes and input."))
    output: Name | None = Field(None, description=(
        "The node whose output is the graph's; absent: the last node."))

    @model_validator(mode="after")
    def _wired(self) -> Graph:
        """Check the wiring; each error names its node and field (see the module)."""
        index_of: dict[str, int] = {}
        read: set[str] = set()
        previous = GRAPH_INPUT
        for index, graph_node in enumerate(self.nodes):
            node = graph_node.node
            merge = isinstance(node, GraphMerge)
            if node.name is None:
                raise _wiring_error(
                    "a graph's node needs a 'name' (later nodes read it by name)", index,
                    "name")
            name = node.name
            if name == GRAPH_INPUT:
                raise _wiring_error(
                    f"the name {echo(name)} is the graph's own input; give the node another",
                    index, "name")
            if name in index_of:
                raise _wiring_error(
                    f"the name {echo(name)} is already used by nodes[{index_of[name]}]; the "
                    "nodes of a graph have unique names", index, "name")
            reads = graph_node.sources(previous)
            for source in reads:
                if source not in index_of and source != GRAPH_INPUT:
                    raise _wiring_error(
                        f"'from' names {echo(source)}, which is not an earlier node or "
                        f"input; it can read: {_listed([GRAPH_INPUT, *index_of])}", index,
                        "from")
            if merge and (graph_node.reads is None or len(reads) < 2):
                count = ("none" if graph_node.reads is None
                         else f"{len(reads)} ({_listed(reads)})" if reads else "0")
                raise _wiring_error(
                    f"a merge node joins at least two nodes; its 'from' names {count}",
                    index, "from")
            if not merge and len(reads) != 1:
                raise _wiring_error(
                    f"a layer reads one node, and 'from' names {len(reads)}"
                    + (f" ({_listed(reads)})" if reads else "")
                    + "; join them first with a merge node (type: add, concat or mul)",
                    index, "from")
            read.update(reads)
            index_of[name] = index
            previous = name
        output = self.output if self.output is not None else previous
        if output not in index_of:
            raise _wiring_error(
                f"'output' names {echo(output)}, which is no node of the graph; the nodes "
                f"are: {_listed(list(index_of))}", None, "output")
        read.add(output)
        for name, index in index_of.items():
            if name not in read:
                raise _wiring_error(
                    f"the node {echo(name)} is read by no later node and is not the output "
                    "(a graph has one output); remove it, or read it, e.g. with a merge",
                    index, None)
        return self

    @property
    def output_name(self) -> str:
        """Return the name of the node whose output is the graph's."""
        return self.output if self.output is not None else self.nodes[-1].name

    def bodies(self) -> list[Body]:
        """Return each layer node as a body of one layer (merges are not bodies)."""
        return [(("nodes", index), [node.node]) for index, node in enumerate(self.nodes)
                if isinstance(node.node, LayerSpec)]


def merge_shapes(kind: MergeName, shapes: list[Shape]) -> tuple[Shape, Cost]:
    """Return the merged shape and its cost: ``add`` takes (n−1)·numel FLOPs, concat none.

    Raises LayerError when the shapes cannot merge (naming every branch's shape), or when
    ``kind`` names no merge.
    """
    return merge_definition(kind).apply(shapes)


AnyLayer = (ChannelLayer | ConvLayer | DenseLayer | ElementwiseLayer | NormLayer | PoolLayer
            | ResampleLayer | UnknownLayer | Sequential | Residual | Parallel | Aux | Graph)
"""Every layer class, family by family in the order they register."""

LAYER_CLASSES: tuple[type[LayerSpec], ...] = get_args(AnyLayer)
"""Every layer class once, in the order they register (a test checks it is the registry's)."""


def _expand_shorthand(value: Any) -> Any:
    """Return ``{"type": value}`` for a bare string such as ``relu``."""
    return {"type": value} if isinstance(value, str) else value


def _layer_class_tag(value: Any) -> str | None:
    """Return the name of the class that implements this layer's ``type``, or None."""
    type_name = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    cls = REGISTRY.get(type_name) if isinstance(type_name, str) else None
    return cls.__name__ if cls else None


if TYPE_CHECKING:
    Layer: TypeAlias = AnyLayer
else:
    Layer = Annotated[
        Union[tuple(Annotated[cls, Tag(cls.__name__)] for cls in LAYER_CLASSES)],  # noqa: UP007
        Discriminator(
            _layer_class_tag,
            custom_error_type="unknown_layer_type",
            custom_error_message="unknown layer type",
        ),
        BeforeValidator(_expand_shorthand),
    ]
"""Any layer of the format, chosen by its ``type`` (for mypy: the union of the classes)."""

if TYPE_CHECKING:
    GraphItem: TypeAlias = AnyLayer | GraphMerge
else:
    GraphItem = Annotated[
        Union[tuple(Annotated[cls, Tag(cls.__name__)]  # noqa: UP007
                    for cls in (GraphMerge, *LAYER_CLASSES))],
        Discriminator(
            _node_tag,
            custom_error_type="unknown_layer_type",
            custom_error_message="unknown layer type",
        ),
    ]
"""A graph's node: a merge by its ``type`` (add, concat, mul), else any layer."""
