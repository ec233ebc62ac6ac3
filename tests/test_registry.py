"""Every registered layer type carries all its rules: a new type missing one fails here."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest

from convcalc.errors import LayerError
from convcalc.layers import REGISTRY, Shape
from convcalc.layers.base import LayerFamily
from convcalc.layers.containers import merge_shapes
from convcalc.layers.merges import MERGES, FieldRule, MergeName, merge_definition
from convcalc.layers.torch_source import Code, TorchLeaf

OPTIONS: dict[str, dict[str, Any]] = {
    "conv": {"filters": 4, "kernel": 3},
    "conv_transpose": {"filters": 4, "kernel": 3, "stride": 2},
    "linear": {"units": 5},
    "maxpool": {"kernel": 2},
    "avgpool": {"kernel": 2},
    "adaptive_avgpool": {"output": 3},
    "adaptive_maxpool": {"output": 3},
    "pad": {"padding": 1},
    "groupnorm": {"groups": 2},
    "upsample": {"scale": 2, "mode": "linear"},
    "stochastic_depth": {"p": 0.1},
    "channel_shuffle": {"groups": 2},
    "slice": {"channels": [0, 1]},
    "unknown": {"op": "Frobnicate", "output": [3, 4, 5]},
}
"""The options a type needs; a type not named here is tried bare (``- relu``)."""

FLAT_INPUT = {"linear"}
"""The types that take a flat input [features]."""

NOT_EXPORTED = {"unknown": "export cannot write operator Frobnicate"}
"""The types export refuses, each with the start of its refusal: an operator convcalc does
not know has no module to write."""

LEAF_TYPES = sorted(name for name, cls in REGISTRY.items() if not cls.container)


def sample(type_name: str) -> tuple[Any, Shape]:
    """Return a layer of ``type_name`` and an input it takes, or fail naming the type."""
    try:
        layer = REGISTRY[type_name].model_validate({"type": type_name,
                                                    **OPTIONS.get(type_name, {})})
    except ValueError as error:
        pytest.fail(f"{type_name}: give its options in OPTIONS ({error})")
    return layer, (5,) if type_name in FLAT_INPUT else (2, 7, 6)


@pytest.mark.parametrize("type_name", LEAF_TYPES)
def test_every_layer_type_explains(type_name: str) -> None:
    """Each layer type's worked formulas end in the shape and counts its apply gives."""
    layer, shape = sample(type_name)
    step = layer.apply(shape)
    try:
        worked = layer.explain(shape)
    except NotImplementedError:
        pytest.fail(f"{type_name}: {type(layer).__name__} has no explain()")
    flops = 2 * (worked.macs.value if worked.macs else 0) + (
        worked.flops.value if worked.flops else 0)
    assert (worked.output_shape, worked.params, worked.non_trainable_params,
            worked.macs.value if worked.macs else 0, flops) == (
        step.output_shape, step.cost.params, step.cost.non_trainable_params, step.cost.macs,
        step.cost.flops), type_name


@pytest.mark.parametrize("type_name", LEAF_TYPES)
def test_every_layer_type_exports_to_pytorch(type_name: str) -> None:
    """Each layer type writes its PyTorch module for a sample input: an ``nn`` call (or a
    helper class's, which it brings), and a pad module only as a call of its own."""
    layer, shape = sample(type_name)
    if type_name in NOT_EXPORTED:
        with pytest.raises(LayerError) as refused:
            layer.to_pytorch(shape)
        assert refused.value.message.startswith(NOT_EXPORTED[type_name])
        return
    try:
        leaf = layer.to_pytorch(shape)
    except NotImplementedError:
        pytest.fail(f"{type_name}: {type(layer).__name__} has no to_pytorch()")
    assert isinstance(leaf, TorchLeaf), type_name
    for module in (leaf.module, leaf.pad):
        if module is None:
            continue
        assert isinstance(module, Code), type_name
        expression = ast.parse(module.text, mode="eval").body
        assert isinstance(expression, ast.Call), f"{type_name}: {module.text}"
        called = ast.unparse(expression.func)
        helper = leaf.helper.name if leaf.helper else None
        assert called.startswith("nn.") or called == helper, f"{type_name}: {module.text}"


REFERENCE_OP = re.compile(r"^convcalc\.reference\.ops\.(?P<family>\w+):(?P<name>\w+)$")


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_layer_type_has_a_family(type_name: str) -> None:
    """Each registered type names its family, the containers theirs."""
    cls = REGISTRY[type_name]
    family = getattr(cls, "family", None)
    assert isinstance(family, LayerFamily), f"{type_name}: {cls.__name__} has no family"
    assert (family is LayerFamily.container) == cls.container, type_name


@pytest.mark.parametrize("type_name", LEAF_TYPES)
def test_every_layer_type_points_at_its_reference_op(type_name: str) -> None:
    """Each leaf type names its reference op as ``convcalc.reference.ops.<family>:<name>``,
    in the module of its own family (containers are walked: their merges have the ops)."""
    cls = REGISTRY[type_name]
    try:
        pointer = cls.reference_op_of(type_name)
    except AttributeError:
        pytest.fail(f"{type_name}: {cls.__name__} has no reference_op")
    match = REFERENCE_OP.match(pointer)
    assert match, f"{type_name}: {pointer!r} is not convcalc.reference.ops.<family>:<name>"
    assert match["family"] == cls.family, f"{type_name}: {pointer} is not in its family"


def test_layers_import_neither_numpy_nor_numba() -> None:
    """The rules stay pure: importing the layers and explain loads neither numpy nor numba."""
    code = ("import sys, convcalc.layers, convcalc.explain; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'numba'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


MERGE_SHAPES = [(3, 4, 4), (3, 4, 4)]


@pytest.mark.parametrize("name", sorted(MERGES))
def test_every_merge_explains_its_shape_and_cost(name: str) -> None:
    """Each merge's worked formulas end in the shape and FLOPs its apply gives."""
    merge = MERGES[name]
    out, cost = merge.apply(MERGE_SHAPES)
    worked = merge.explain(MERGE_SHAPES)
    assert (worked.output_shape, worked.flops.value if worked.flops else 0) == (out, cost.flops)


@pytest.mark.parametrize("name", sorted(MERGES))
def test_every_merge_has_its_rules(name: str) -> None:
    """Each merge is registered under its own name, with a field rule and its reference op."""
    merge = MERGES[name]
    assert merge.name == name
    assert isinstance(merge.field_rule, FieldRule)
    assert merge.reference_op == f"convcalc.reference.ops.merge:{name}"


@pytest.mark.parametrize("name", sorted(MERGES))
def test_every_merge_exports_to_pytorch(name: str) -> None:
    """Each merge writes its PyTorch source: an expression joining given tensors, the lines
    of a forward that return the merge of a list, and its words for the Parallel class."""
    merge = MERGES[name]
    try:
        expression = merge.torch_expression(["a", "b"])
        statements = merge.torch_statements("outputs")
    except NotImplementedError as error:
        pytest.fail(f"{name}: {error}")
    assert isinstance(ast.parse(expression, mode="eval").body, ast.expr), name
    body = "".join(f"    {line}\n" for line in statements)
    function = ast.parse(f"def forward(outputs):\n{body}").body[0]
    assert isinstance(function, ast.FunctionDef) and isinstance(function.body[-1], ast.Return)
    assert f'"{name}"' in merge.torch_summary, name


def test_merge_names_are_the_registered_merges() -> None:
    """The names a container accepts are exactly the registered merges."""
    assert set(get_args(MergeName)) == set(MERGES)


def test_unknown_merge_is_an_error() -> None:
    """A merge name with no definition raises, rather than running as another merge."""
    with pytest.raises(LayerError) as raised:
        merge_definition("max")
    assert raised.value.message == ("there is no merge called 'max'; the merges are add, "
                                    "concat, mul")
    with pytest.raises(LayerError, match="no merge called 'max'"):
        merge_shapes("max", MERGE_SHAPES)  # type: ignore[arg-type]  # on purpose: not a name


def test_the_layer_union_is_the_registry() -> None:
    """The union Layer validates against holds every registered class once, in order."""
    from convcalc.layers import LAYER_CLASSES

    registered = tuple(dict.fromkeys(REGISTRY.values()))
    missing = [c.__name__ for c in registered if c not in LAYER_CLASSES]
    assert not missing, (f"{', '.join(missing)}: add the class to its family's union at the "
                         "end of its module (e.g. ConvLayer in convcalc/layers/conv.py)")
    assert registered == LAYER_CLASSES


FORMAT_DOC = (Path(__file__).resolve().parent.parent / "docs" / "format.md").read_text()


def missing_parts(type_name: str) -> list[str]:
    """Return what a registered type lacks of the parts every type must have."""
    cls = REGISTRY[type_name]
    missing = []
    headings = [line for line in FORMAT_DOC.splitlines() if line.startswith("#")]
    if not any(f"`{type_name}`" in heading for heading in headings):
        missing.append("section in docs/format.md")
    missing += [f"description of field '{name}'" for name, info in cls.model_fields.items()
                if not info.description]
    if cls.container:
        return missing
    layer, shape = sample(type_name)
    for part, method in (("explanation", "explain"), ("PyTorch export", "to_pytorch")):
        try:
            getattr(layer, method)(shape)
        except NotImplementedError:
            missing.append(part)
        except LayerError:  # refused on purpose (NOT_EXPORTED): the method is there
            if type_name not in NOT_EXPORTED:
                raise
    try:
        pointer = cls.reference_op_of(type_name)
    except AttributeError:
        return [*missing, "reference-op pointer"]
    module_name, _, name = pointer.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), name, None)
    except ImportError:
        found = None
    if found is None:
        missing.append(f"reference op at {pointer}")
    return missing


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_layer_type_has_every_part(type_name: str) -> None:
    """A registered type has its explanation, export, reference op, docs and descriptions."""
    missing = missing_parts(type_name)
    assert not missing, f"layer type {type_name!r} has no {', no '.join(missing)}"


def test_a_type_missing_its_parts_is_named() -> None:
    """A class registered without the parts fails naming the type and each missing part."""
    from typing import Literal

    from convcalc.layers.base import LayerSpec, TypeField

    class _Scratch(LayerSpec):  # registers 'scratch_type' for the length of this test
        type: TypeField[Literal["scratch_type"]]
        width: int = 1

    try:
        OPTIONS["scratch_type"] = {}
        assert missing_parts("scratch_type") == [
            "section in docs/format.md", "description of field 'width'", "explanation",
            "PyTorch export", "reference-op pointer",
        ]
    finally:
        REGISTRY.pop("scratch_type", None)
        OPTIONS.pop("scratch_type", None)
