"""The JSON Schema accepts what the loader accepts and refuses what it refuses.

Files are read with PyYAML as the loader reads them (YAML 1.1), then checked with the
``jsonschema`` package against ``network_schema()``; the pydantic models are the oracle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXAMPLES, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.layers import REGISTRY
from convcalc.schema import bare_layer_types, network_schema
from convcalc.spec import LAYER_TYPES, Network

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = network_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SHIPPED = ROOT / "docs" / "convcalc.schema.json"


def valid(data: Any) -> bool:
    """Return whether the schema accepts ``data``."""
    return bool(VALIDATOR.is_valid(data))


def loads(data: Any) -> bool:
    """Return whether the models accept ``data`` (the loader's per-field validation)."""
    try:
        Network.model_validate(data)
    except ValueError:
        return False
    return True


def test_schema_is_valid_draft_2020_12() -> None:
    """The schema itself is a valid draft 2020-12 schema with its $id and title."""
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] == "urn:convcalc:network-file:1"
    assert SCHEMA["title"] == "convcalc network file"


def test_shipped_schema_is_what_the_command_prints(run_cli: Any) -> None:
    """docs/convcalc.schema.json is exactly `convcalc schema`'s output, so it cannot drift."""
    result = run_cli("schema")
    assert result.exit_code == 0
    assert result.stdout == SHIPPED.read_text(encoding="utf-8")
    assert json.loads(result.stdout) == SCHEMA


def test_schema_writes_a_file_once(run_cli: Any, tmp_path: Path) -> None:
    """-o writes the schema; a second run refuses to replace it without --force."""
    target = tmp_path / "convcalc.schema.json"
    assert run_cli("schema", "-o", str(target)).exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8")) == SCHEMA
    again = run_cli("schema", "-o", str(target))
    assert again.exit_code == 2
    assert again.stderr == f"error: {target}: already exists; pass --force to replace it\n"
    assert run_cli("schema", "-o", str(target), "--force").exit_code == 0


@pytest.mark.parametrize("path", [*sorted(EXAMPLES.glob("*.yaml")),
                                  *sorted((ROOT / "docs" / "examples").glob("*.yaml"))],
                         ids=lambda p: p.stem)
def test_every_example_validates(path: Path) -> None:
    """Each file in examples/ and docs/examples/ is valid against the schema."""
    VALIDATOR.validate(yaml.safe_load(path.read_text()))


def test_the_formats_shorthands_validate() -> None:
    """Bare layer names, input written 3x224x224, one-int input, 1e-5 and nulls are valid."""
    document = yaml.safe_load("""
        name: shorthand
        input: 3×32x32
        layers:
          - relu
          - {type: batchnorm, eps: 1e-5, name: ~}
          - {type: conv, filters: 8, kernel: [3, 1], padding: [[0, 1], [1, 1]]}
          - {type: maxpool, kernel: 2, padding: same, ceil_mode: true}
          - {type: upsample, size: [4, 4], mode: linear, scale: null}
          - type: residual
            repeat: 2
            layers: [relu]
          - {type: parallel, merge: add, branches: [[], [identity]]}
          - global_avgpool
          - {type: linear, units: 10}
    """)
    assert document["layers"][1]["eps"] == "1e-5"  # PyYAML's YAML 1.1 reading
    assert loads(document)
    VALIDATOR.validate(document)
    assert valid({"input": 100, "layers": ["flatten"]})
    assert valid({"input": " 3 , 100 ", "layers": ["flatten"]})


BROKEN = {
    "unknown type": {"input": [3, 8, 8], "layers": [{"type": "convolution", "filters": 2}]},
    "unknown bare type": {"input": [3, 8, 8], "layers": ["rellu"]},
    "bare type that needs options": {"input": [3, 8, 8], "layers": ["conv"]},
    "unknown key": {"input": [3, 8, 8], "layers": [{"type": "conv", "filters": 2,
                                                    "kernel": 3, "stides": 2}]},
    "unknown top-level key": {"input": [3, 8, 8], "layers": ["relu"], "output": 3},
    "wrong type": {"input": [3, 8, 8], "layers": [{"type": "conv", "filters": "64",
                                                   "kernel": 3}]},
    "boolean for an int": {"input": [3, 8, 8], "layers": [{"type": "conv", "filters": True,
                                                           "kernel": 3}]},
    "missing field": {"input": [3, 8, 8], "layers": [{"type": "conv", "filters": 2}]},
    "no type": {"input": [3, 8, 8], "layers": [{"filters": 2, "kernel": 3}]},
    "zero kernel": {"input": [3, 8, 8], "layers": [{"type": "maxpool", "kernel": 0}]},
    "bad padding word": {"input": [3, 8, 8], "layers": [{"type": "conv", "filters": 2,
                                                         "kernel": 3, "padding": "full"}]},
    "padding triple": {"input": [3, 8, 8], "layers": [{"type": "conv", "filters": 2,
                                                       "kernel": 3,
                                                       "padding": [[0, 1, 2], [0, 1, 2]]}]},
    "upsample with both": {"input": [3, 8, 8], "layers": [{"type": "upsample", "scale": 2,
                                                           "size": 16}]},
    "upsample with neither": {"input": [3, 8, 8], "layers": [{"type": "upsample"}]},
    "dotted name": {"input": [3, 8, 8], "layers": [{"type": "relu", "name": "a.b"}]},
    "five dims": {"input": "3x4x4x4x4", "layers": ["relu"]},
    "zero in shape": {"input": "3x0x4", "layers": ["relu"]},
    "no layers": {"input": [3, 8, 8], "layers": []},
    "no input": {"layers": ["relu"]},
    "version 2": {"version": 2, "input": [3], "layers": ["relu"]},
    "nested unknown key": {"input": [3, 8, 8], "layers": [
        {"type": "residual", "layers": [{"type": "relu", "inplace": True}]}]},
}
BROKEN |= {
    "groups word": {"input": [3, 8, 8], "layers": [{"type": "conv", "filters": 3,
                                                    "kernel": 1, "groups": "separable"}]},
    "slice of one value": {"input": [3, 8, 8], "layers": [{"type": "slice", "channels": [2]}]},
    "slice of three values": {"input": [3, 8, 8], "layers": [{"type": "slice",
                                                              "channels": [0, 1, 2]}]},
    "negative slice start": {"input": [3, 8, 8], "layers": [{"type": "slice",
                                                             "channels": [-1, 2]}]},
    "channel_shuffle without groups": {"input": [4, 8, 8], "layers": ["channel_shuffle"]},
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_do_not_validate(name: str) -> None:
    """Files the loader refuses are refused by the schema too."""
    assert not loads(BROKEN[name])
    assert not valid(BROKEN[name])


def test_unknown_key_error_names_the_key() -> None:
    """An editor's message for a misspelt field names that field, not 17 alternatives."""
    errors = list(VALIDATOR.iter_errors(BROKEN["unknown key"]))
    messages = [e.message for error in errors for e in [error, *error.context]]
    assert any("'stides' was unexpected" in m for m in messages)


def test_bare_names_are_the_types_without_required_options() -> None:
    """Exactly the types whose every field has a default may be written alone."""
    assert bare_layer_types() == (
        "batchnorm", "dropout", "elu", "flatten", "gelu", "global_avgpool", "global_maxpool",
        "hardsigmoid", "hardswish", "identity", "instancenorm", "layer_scale", "layernorm",
        "leaky_relu", "mish", "prelu", "relu", "relu6", "sigmoid", "silu", "softmax", "tanh")
    for type_name in LAYER_TYPES:
        bare = {"input": [3, 8, 8], "layers": [type_name]}
        assert valid(bare) == loads(bare) == (type_name in bare_layer_types())


@pytest.mark.parametrize("type_name", LAYER_TYPES)
def test_every_field_has_its_own_description(type_name: str) -> None:
    """Each field of each layer type says what it is in its ``Field(description=...)``."""
    cls = REGISTRY[type_name]
    for name, field in cls.model_fields.items():
        if not field.description:
            pytest.fail(f"{type_name} ({cls.__name__}): field {name!r} has no "
                        "Field(description=...)")


def test_every_field_is_described() -> None:
    """Each layer definition and each of its fields carries a description for hover text,
    the field's own."""
    definitions = SCHEMA["$defs"]
    for cls in set(REGISTRY.values()):
        definition = definitions[cls.__name__]
        assert definition["description"]
        assert set(definition["properties"]) == set(cls.model_fields)
        for name, prop in definition["properties"].items():
            assert prop.get("description") == cls.model_fields[name].description, (
                cls.__name__, name)
            assert "title" not in prop
    assert SCHEMA["properties"]["layers"]["description"] == "The layers, in order."


# A pool of field values, right and wrong, for drawing layers both sides must judge alike.
VALUES = st.one_of(
    st.integers(-2, 4), st.sampled_from([0.5, 1e-3, -1.0, "same", "valid", "x", "1e-5", None,
                                         True, False, "nearest", "linear", "concat", "add"]),
    st.lists(st.integers(-1, 3), max_size=3),
    st.lists(st.lists(st.integers(-1, 2), min_size=1, max_size=3), max_size=3),
)


@st.composite
def layers(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a layer mapping: a type and some of its own fields, one in ten a foreign one."""
    type_name = draw(st.sampled_from(LAYER_TYPES))
    own = sorted(set(REGISTRY[type_name].model_fields) - {"type", "layers", "shortcut",
                                                          "branches"})
    names: st.SearchStrategy[str] = st.sampled_from(own)
    if draw(st.integers(0, 9)) == 0:
        names = names | st.just("bogus")
    fields: dict[str, Any] = draw(st.dictionaries(names, VALUES, max_size=4))
    if type_name in ("sequential", "residual"):
        fields["layers"] = ["relu"]
    if type_name == "parallel":
        fields["branches"] = [[]]
    return {"type": type_name, **fields}


@settings(max_examples=400, deadline=None)
@given(layers())
def test_schema_agrees_with_the_models(layer: dict[str, Any]) -> None:
    """For random layers with random fields, the schema and the models agree on validity."""
    document = {"input": [3, 8, 8], "layers": [layer]}
    assert valid(document) == loads(document)


def test_channel_layers_and_depthwise_validate() -> None:
    """groups: depthwise on both convolutions, slice and channel_shuffle are valid; the
    checks against the input (start < stop ≤ C, groups dividing C) are the analysis's."""
    document = {"input": [4, 8, 8], "layers": [
        {"type": "conv", "filters": 8, "kernel": 3, "groups": "depthwise"},
        {"type": "conv_transpose", "filters": 8, "kernel": 2, "groups": "depthwise"},
        {"type": "channel_shuffle", "groups": 2},
        {"type": "slice", "channels": [0, 4]},
        {"type": "slice", "channels": [3, 1]},  # refused by the analysis, not the schema
    ]}
    assert valid(document) and loads(document)
