"""The JSON Schema of the network file, for editors: ``network_schema() -> dict``.

It starts from pydantic's schema of ``Network`` and adds what pydantic cannot see in the
models' validators, so that an editor accepts exactly what the loader accepts and says
why it does not:

* a layer is ``Layer``: a bare type name (``- relu``, for the types that need no option),
  or a mapping whose ``type`` picks its definition (``if``/``then`` per type, so an editor
  reports the one layer type's fields rather than "matches none of 17 alternatives");
* ``input`` may also be written ``3x224x224`` (or ``3×224×224``, ``3,224,224``) or one int;
* a number field also takes YAML 1.1's dotless exponent (``1e-5``), which PyYAML hands over
  as a string and the models read as a number;
* rules the models' validators check (``upsample`` takes exactly one of ``scale`` and
  ``size``) are written as schema keywords in ``_VALIDATOR_RULES``;
* descriptions: each layer's from its class docstring; each field's from the class's
  ``Attributes:`` section, else from ``FIELD_DESCRIPTIONS`` (a test keeps every field
  described).
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from pydantic import BaseModel

from convcalc.layers import REGISTRY, LayerSpec
from convcalc.layers.base import MAX_SIZE
from convcalc.spec import LAYER_TYPES, Network

__all__ = ["FIELD_DESCRIPTIONS", "SCHEMA_ID", "bare_layer_types", "network_schema"]

SCHEMA_ID = "urn:convcalc:network-file:1"
"""The schema's ``$id``: names version 1 of the network file format."""

FIELD_DESCRIPTIONS: dict[str, str] = {
    "type": "The layer type.",
    "name": "The layer's name, unique among its siblings; no dots or spaces. Unnamed layers "
            "are called <type><n> (conv1, relu2, …).",
    "filters": "Output channels: the number of kernels.",
    "kernel": "Kernel size: one int for every spatial dimension, or one per dimension such "
              "as [3, 1].",
    "stride": "Step between windows: one int, or one per dimension.",
    "padding": "Padding: same (TensorFlow's rule, output ceil(W/S)), valid (none), one int, "
               "one per dimension [1, 2], or (before, after) per dimension [[0, 1], [0, 1]].",
    "dilation": "Spacing between kernel taps: one int, or one per dimension.",
    "groups": "Groups of input channels; groups equal to the input channels is a depthwise "
              "convolution.",
    "bias": "Whether a learned bias is added per output channel or unit.",
    "output_padding": "Extra output rows on one side: one int or one per dimension, smaller "
                      "than the stride or the dilation.",
    "ceil_mode": "Round the output size up (PyTorch's ceil_mode); a last window that would "
                 "start in the right padding is dropped.",
    "count_include_pad": "Whether the padding counts in each window's divisor.",
    "output": "Output size: one int, or one per dimension.",
    "units": "Output features.",
    "eps": "Added to the variance before its square root: a finite number above 0 (an "
           "infinite eps would divide every input away).",
    "p": "Probability of zeroing an element while training, at least 0 and below 1; the "
         "identity at inference.",
    "negative_slope": "Slope for negative inputs: a finite number (an infinite slope gives "
                      "0·∞, not a number, at zero).",
    "scale": "Integer upsampling factor: one int, or one per dimension. Give scale or size.",
    "size": "Output size: one int, or one per dimension. Give scale or size.",
    "mode": "nearest, or linear (bilinear in 2-D, trilinear in 3-D; align_corners=False).",
    "repeat": "Run the container this many times in a row, each time with its own weights.",
    "layers": "The layers, in order.",
    "shortcut": "The shortcut's layers, added to the output of layers; absent or [] is the "
                "identity.",
    "branches": "The branches, each a list of layers over the same input; [] is the identity.",
    "merge": "How the branches combine: concat over channels, or add.",
}
"""Field descriptions for the fields whose class docstring has no ``Attributes:`` entry."""

_DESCRIPTION_OVERRIDES = {
    ("ConvTranspose", "padding"): "PyTorch's padding, cropped from both ends of the output: "
                                  "one int, or one per dimension.",
    ("MaxPool", "stride"): "Step between windows: one int, or one per dimension; default the "
                           "kernel.",
    ("AvgPool", "stride"): "Step between windows: one int, or one per dimension; default the "
                           "kernel.",
    ("Pad", "padding"): "Zeros to add: one int, one per dimension [1, 2], or (before, after) "
                        "per dimension [[0, 1], [0, 1]].",
}

_NOT_NULL = {"not": {"type": "null"}}
_VALIDATOR_RULES: dict[str, dict[str, Any]] = {
    # Upsample's model validator: exactly one of scale and size.
    "Upsample": {"oneOf": [
        {"required": ["scale"], "properties": {"scale": _NOT_NULL}},
        {"required": ["size"], "properties": {"size": _NOT_NULL}},
    ]},
}
"""What the models' own validators check, as schema keywords, by class name."""

_SHAPE_PATTERN = r"^\s*0*[1-9][0-9]*(\s*[x×X,]\s*0*[1-9][0-9]*){0,3}\s*$"
_DOTLESS_EXPONENT = r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"


def bare_layer_types() -> tuple[str, ...]:
    """Return the layer types that may be written as a bare name: those needing no option."""
    bare = []
    for type_name in LAYER_TYPES:
        try:
            REGISTRY[type_name].model_validate({"type": type_name})
        except ValueError:
            continue
        bare.append(type_name)
    return tuple(bare)


def _attributes(cls: type[BaseModel]) -> tuple[str, dict[str, str]]:
    """Return a class docstring's text before ``Attributes:``, and that section's entries."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    text, _, section = doc.partition("\nAttributes:\n")
    entries: dict[str, str] = {}
    current = None
    for line in section.splitlines():
        match = re.match(r"^    (\w+): (.*)$", line)
        if match:
            current = match.group(1)
            entries[current] = match.group(2)
        elif current and line.strip():
            entries[current] += " " + line.strip()
    return text.strip(), entries


def _plain(text: str) -> str:
    """Return docstring text as an editor shows it: paragraphs unwrapped, `code` in Markdown."""
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    text = "\n\n".join(p for p in paragraphs if p).replace("``", "`")
    return text[:1].upper() + text[1:]


def _describe(definition: dict[str, Any], cls: type[BaseModel]) -> None:
    """Set the descriptions of a definition and its properties; drop pydantic's titles."""
    text, entries = _attributes(cls)
    definition["description"] = _plain(text)
    for name, prop in definition.get("properties", {}).items():
        prop.pop("title", None)
        described = entries.get(name) or _DESCRIPTION_OVERRIDES.get((cls.__name__, name))
        prop["description"] = _plain(described or FIELD_DESCRIPTIONS[name])


def _accept_dotless_exponents(node: Any) -> Any:
    """Return ``node`` with every number schema also taking a string such as ``1e-5``."""
    if isinstance(node, list):
        return [_accept_dotless_exponents(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _accept_dotless_exponents(value) for key, value in node.items()}
    if node.get("type") == "number":
        number = {key: node.pop(key) for key in list(node)
                  if key not in ("description", "default", "title")}
        node["anyOf"] = [number, {"type": "string", "pattern": _DOTLESS_EXPONENT}]
    return node


def _use_layer_ref(node: Any, union: list[dict[str, str]]) -> Any:
    """Return ``node`` with pydantic's oneOf over every layer class replaced by a Layer $ref."""
    if isinstance(node, list):
        return [_use_layer_ref(item, union) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("oneOf") == union:
        return {"$ref": "#/$defs/Layer"}
    return {key: _use_layer_ref(value, union) for key, value in node.items()}


def _layer_definition(classes: list[type[LayerSpec]]) -> dict[str, Any]:
    """Return the Layer definition: a bare type name, or a mapping chosen by its type."""
    rules = []
    for cls in classes:
        names = [t for t in LAYER_TYPES if REGISTRY[t] is cls]
        condition = {"const": names[0]} if len(names) == 1 else {"enum": names}
        rules.append({
            "if": {"properties": {"type": condition}, "required": ["type"]},
            "then": {"$ref": f"#/$defs/{cls.__name__}"},
        })
    return {
        "description": "A layer: a mapping whose type chooses its fields, or the bare name of "
                       "a type that needs no option (- relu).",
        "oneOf": [
            {"type": "string", "enum": list(bare_layer_types()),
             "description": "A layer type that needs no option, written alone."},
            {"type": "object", "required": ["type"],
             "properties": {"type": {"enum": list(LAYER_TYPES),
                                     "description": FIELD_DESCRIPTIONS["type"]}},
             "allOf": rules},
        ],
    }


def network_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of a version-1 network file."""
    generated = Network.model_json_schema()
    definitions: dict[str, Any] = generated.pop("$defs")
    classes = list(dict.fromkeys(REGISTRY.values()))
    union = [{"$ref": f"#/$defs/{cls.__name__}"} for cls in classes]
    for cls in classes:
        _describe(definitions[cls.__name__], cls)
        definitions[cls.__name__] |= _VALIDATOR_RULES.get(cls.__name__, {})
    _describe(generated, Network)
    shape = generated["properties"]["input"]
    description = shape.pop("description")
    generated["properties"]["input"] = {
        "description": description + " Also written 3x224x224 (× or commas work too) or, "
                                     "for [C], one int.",
        "anyOf": [
            shape,
            {"type": "string", "pattern": _SHAPE_PATTERN},
            {"type": "integer", "minimum": 1, "maximum": MAX_SIZE},
        ],
    }
    definitions = {"Layer": _layer_definition(classes), **dict(sorted(definitions.items()))}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "convcalc network file",
        **{key: value for key, value in generated.items() if key != "title"},
        "$defs": definitions,
    }
    finished: dict[str, Any] = _accept_dotless_exponents(_use_layer_ref(schema, union))
    return finished
