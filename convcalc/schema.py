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
* descriptions: each layer's from its class docstring; each field's from its own
  ``Field(description=...)``, next to the field in ``convcalc.layers`` (a test keeps every
  field described). ``Network``'s fields are still described in its docstring's
  ``Attributes:`` section, read here when a field has no description of its own.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from pydantic import BaseModel

from convcalc.layers import REGISTRY, LayerSpec
from convcalc.layers.base import MAX_SIZE
from convcalc.spec import LAYER_TYPES, Network

__all__ = ["SCHEMA_ID", "bare_layer_types", "network_schema"]

SCHEMA_ID = "urn:convcalc:network-file:1"
"""The schema's ``$id``: names version 1 of the network file format."""

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
    """Set the descriptions of a definition and its properties; drop pydantic's titles.

    A field's description is its ``Field(description=...)``, else its class docstring's
    ``Attributes:`` entry; it is written last among the property's keywords.
    """
    text, entries = _attributes(cls)
    definition["description"] = _plain(text)
    for name, prop in definition.get("properties", {}).items():
        prop.pop("title", None)
        prop.pop("description", None)
        described = cls.model_fields[name].description or _plain(entries.get(name, ""))
        if described:
            prop["description"] = described


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
    # Every class's type field is a TypeField, described alike.
    type_description = classes[0].model_fields["type"].description
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
                                     "description": type_description}},
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
