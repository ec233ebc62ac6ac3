"""Network files to models: the only module that reads files.

YAML is loaded with PyYAML's safe loader (its C parser where it is built): python tags are
refused there, and aliases load as shared objects, so the loaded graph can be checked for
recursive aliases, alias bombs and absurd nesting before anything walks it as a tree.
Line numbers cost a second parse, so they are found only when an error needs one: the
text is composed again and the error's location followed through the nodes.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

if TYPE_CHECKING:
    import yaml

from convcalc.errors import InputError, Location, NetworkFileError, SpecError, format_location
from convcalc.layers import REGISTRY
from convcalc.spec import LAYER_TYPES, Network

__all__ = ["MAX_FILE_BYTES", "MAX_NESTING", "MAX_NODES", "NetworkSource", "load_network",
           "network_from_data", "parse_network"]

MAX_FILE_BYTES = 256 * 1024 * 1024
"""The largest network file read."""
MAX_NODES = 5_000_000
"""The most values (mappings, lists, scalars) a file may expand to once its aliases are
followed: room for about 500,000 written-out conv layers."""
MAX_NESTING = 200
"""The deepest nesting of lists and mappings a file may have."""



def _yaml() -> tuple[Any, type[yaml.SafeLoader]]:
    """Return PyYAML and its safe loader (the C one where it is built), imported on use."""
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_DIMS_HELP = "an int ≥ 1, or a list with one int ≥ 1 per spatial dim such as [3, 1]"
_FIELD_HELP = {
    "padding": "an int ≥ 0, one per spatial dim [1, 2], (before, after) per dim "
               "[[0, 1], [0, 1]], same or valid",
    "output_padding": "an int ≥ 0 or one per spatial dim",
    "kernel": _DIMS_HELP, "stride": _DIMS_HELP, "dilation": _DIMS_HELP,
    "output": _DIMS_HELP, "scale": _DIMS_HELP, "size": _DIMS_HELP,
    "input": "a shape like 3x224x224 or [3, 224, 224]: channels first, then 0 to 3 spatial "
             "sizes (C, C×L, C×H×W or C×D×H×W), each ≥ 1",
    "layers": "a list of at least one layer",
    "branches": "a list of at least one branch, each a list of layers ([] is the identity)",
    "name": "a name without dots or spaces (dots join the names of nested layers)",
    "conv_transpose.padding": "an int ≥ 0 or one per spatial dim (PyTorch's padding, cropped "
                              "from both ends of the output)",
    "pad.padding": "an int ≥ 0, one per spatial dim [1, 2], or (before, after) per dim "
                   "[[0, 1], [0, 1]]",
}


@dataclass(frozen=True)
class NetworkSource:
    """A network with the text it came from, to point errors at lines.

    Attributes:
        network: the validated network.
        name: the file name as given, ``<stdin>``, or ``<flags>``.
        text: the YAML text, composed again only when an error needs a line number.
    """

    network: Network
    name: str
    text: str | None = None

    def line_of(self, location: Location) -> int | None:
        """Return the 1-based line of the node at ``location``, or of its nearest parent."""
        return _line_of(_compose(self.text), location)

    def annotate(self, error: InputError) -> InputError:
        """Return ``error`` with this source's name and the line of its location filled in."""
        error.source = error.source or self.name
        if error.line is None and error.location:
            error.line = self.line_of(error.location)
        return error


def _compose(text: str | None) -> yaml.Node | None:
    """Return the YAML node graph of ``text`` (it keeps line numbers), or None."""
    if text is None:
        return None
    yaml, loader = _yaml()
    try:
        return yaml.compose(text, Loader=loader)  # type: ignore[no-any-return]
    except (yaml.YAMLError, RecursionError):
        return None


def _line_of(root: yaml.Node | None, location: Location) -> int | None:
    yaml, _ = _yaml()
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def load_network(path: str | Path) -> NetworkSource:
    """Return the network in the YAML file ``path`` (``-`` reads standard input)."""
    name = "<stdin>" if str(path) == "-" else str(path)
    try:
        if name == "<stdin>":
            text = sys.stdin.read(MAX_FILE_BYTES + 1)
        else:
            file = Path(path)
            if file.is_dir():
                raise NetworkFileError("is a directory, not a network file", source=name)
            with file.open(encoding="utf-8") as handle:
                text = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise NetworkFileError("no such file", source=name) from None
    except PermissionError:
        raise NetworkFileError("permission denied", source=name) from None
    except UnicodeDecodeError as error:
        raise NetworkFileError(f"not UTF-8 text ({error.reason} at byte {error.start})",
                               source=name) from None
    except OSError as error:
        raise NetworkFileError(f"cannot read: {error.strerror}", source=name) from None
    if len(text) > MAX_FILE_BYTES:
        raise NetworkFileError(f"larger than the limit of {MAX_FILE_BYTES // 2**20} MiB",
                               source=name)
    return parse_network(text, name)


def parse_network(text: str, name: str = "<string>") -> NetworkSource:
    """Return the network in the YAML ``text``; ``name`` is used in error messages."""
    yaml, loader = _yaml()
    try:
        data = yaml.load(text, Loader=loader)  # a safe loader: no python tags
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        line = mark.line + 1 if mark else None
        if error.problem and "tag" in error.problem:
            tag = error.problem.split("tag", 1)[1].strip(" '")
            raise NetworkFileError(
                f"the tag {tag!r} is not allowed; network files hold plain data (mappings, "
                "lists, numbers, strings)", source=name, line=line) from None
        raise NetworkFileError(f"invalid YAML: {error.problem}", source=name,
                               line=line) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        raise NetworkFileError(f"invalid YAML: {problem}", source=name,
                               line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise NetworkFileError(f"invalid YAML: {error}", source=name) from None
    except RecursionError:
        raise NetworkFileError(f"nested too deeply (the limit is {MAX_NESTING} levels)",
                               source=name) from None
    try:
        _check_graph(data)
    except NetworkFileError as error:
        error.source, error.line = name, _line_of(_compose(text), error.location)
        raise
    return network_from_data(data, name, text)


def network_from_data(data: Any, name: str, text: str | None = None) -> NetworkSource:
    """Return the network described by plain data (what the YAML held), validated."""
    if not isinstance(data, dict):
        raise SpecError(
            "a network file is a mapping with 'input' and 'layers' (see docs/format.md), "
            f"got {_kind(data)}", source=name, line=1,
        )
    try:
        network = Network.model_validate(data)
    except ValidationError as error:
        raise _spec_error(error, data, _compose(text), name) from None
    except RecursionError:
        raise NetworkFileError(f"nested too deeply (the limit is {MAX_NESTING} levels)",
                               source=name) from None
    return NetworkSource(network, name, text)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (an empty document)"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _check_graph(data: Any) -> None:
    """Raise on recursive aliases, alias bombs and deep nesting in the loaded data.

    YAML aliases load as shared objects, so a bomb costs little until something walks it
    as a tree. Walk each distinct list and mapping once, computing how many values and how
    deep the document is once every alias is expanded, without expanding it.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id -> (expanded values, depth)
    on_path: set[int] = set()
    stack: list[tuple[Any, Location, bool]] = [(data, (), False)]
    while stack:
        value, path, done = stack.pop()
        key = id(value)
        children = _children(value)
        if done:
            on_path.discard(key)
            count = 1 + sum(sizes[id(c)][0] if id(c) in sizes else 1 for _, c in children)
            depth = 1 + max((sizes[id(c)][1] for _, c in children if id(c) in sizes),
                            default=0)
            if count > MAX_NODES:
                raise NetworkFileError(
                    f"the aliases expand this document past {MAX_NODES:,} values; write the "
                    "repetition with 'repeat' instead", location=path)
            if depth > MAX_NESTING:
                raise NetworkFileError(f"nested deeper than {MAX_NESTING} levels",
                                       location=path)
            sizes[key] = (count, depth)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise NetworkFileError("an alias refers to a node that contains it (a recursive "
                                   "alias)", location=path)
        on_path.add(key)
        stack.append((value, path, True))
        for part, child in children:
            if isinstance(child, (list, dict)) and id(child) not in sizes:
                stack.append((child, (*path, part), False))


def _children(value: Any) -> list[tuple[str | int, Any]]:
    if isinstance(value, list):
        return list(enumerate(value))
    if isinstance(value, dict):
        return [(k if isinstance(k, (str, int)) else str(k), v) for k, v in value.items()]
    return []


def _suggest(word: object, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _spec_error(error: ValidationError, data: Any, root: yaml.Node | None,
                name: str) -> SpecError:
    """Return the first validation error as a message a person can act on."""
    priority = {"unknown_layer_type": 0, "extra_forbidden": 1}
    errors = sorted(error.errors(include_url=False), key=lambda e: priority.get(e["type"], 2))
    first = errors[0]
    split = _split_loc(first["loc"], data)
    related = [e for e in errors if _split_loc(e["loc"], data)[:2] == split[:2]]
    path, field, layer = split
    message = _message(first, related, field, layer)
    location = (*path, field) if field is not None and _has(data, (*path, field)) else path
    layer_name = layer.get("name") if isinstance(layer, dict) else None
    return SpecError(
        message, source=name, line=_line_of(root, location), location=path,
        layer=layer_name if isinstance(layer_name, str) else None,
        field_name=field if isinstance(field, str) else None,
    )


def _has(data: Any, path: Location) -> bool:
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return False
    return True


def _split_loc(loc: tuple[Any, ...], data: Any) -> tuple[Location, str | None, Any]:
    """Return (path to the innermost layer or the network, field, that layer's raw data).

    Pydantic's locations carry union tags (class names, type descriptions) that are not
    in the file; keep only the parts that index the data, and note the field.
    """
    path: list[str | int] = []
    node, layer, layer_path = data, data, []
    field: str | None = None
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            path.append(part)
            if len(path) > 1 and (path[-2] in ("layers", "shortcut") or (
                    isinstance(path[-2], int) and len(path) > 2 and path[-3] == "branches")):
                layer, layer_path, field = node, list(path), None
        elif isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
            if field is None:
                field = part
        elif isinstance(node, dict) and field is None and isinstance(part, str) and (
                part not in {c.__name__ for c in REGISTRY.values()}):
            field = part  # a missing or unknown key
            break
    return tuple(layer_path), field, layer


def _message(first: dict[str, Any], related: list[dict[str, Any]], field: str | None,
             layer: Any) -> str:
    kind = first["type"]
    value = first.get("input")
    layer_type = layer.get("type") if isinstance(layer, dict) else layer
    cls = REGISTRY.get(layer_type) if isinstance(layer_type, str) else None
    keys = [k for k in (cls.model_fields if cls else Network.model_fields) if k != "type"]
    if kind == "unknown_layer_type":
        if isinstance(value, dict) and "type" not in value:
            return "this layer has no 'type'; write e.g. 'type: conv' or a bare name like relu"
        if not isinstance(value, dict):
            return (f"a layer is a mapping with a 'type', or a bare type name like relu; got "
                    f"{_kind(value)} {value!r}")
        written = value.get("type")
        return (f"unknown layer type {written!r}{_suggest(written, LAYER_TYPES)}; "
                f"the types are: {', '.join(LAYER_TYPES)}")
    what = f"a {layer_type} layer" if cls else "the network"
    if kind == "extra_forbidden":
        return (f"unknown key {field!r}{_suggest(field, keys)} for {what}; "
                f"it takes: {', '.join(keys)}")
    help_text = _FIELD_HELP.get(f"{layer_type}.{field}", _FIELD_HELP.get(str(field)))
    if kind == "missing":
        return f"{what} needs {field!r}" + (f": {help_text}" if help_text else "")
    if help_text and (len(related) > 1 or kind.endswith(("_type", "_short", "_long",
                                                         "_mismatch", "literal_error"))):
        return f"{value!r} is not valid here; expected {help_text}"
    text = first["msg"]
    text = text.replace("Input should be", "should be").replace("Value error, ", "")
    text = text.replace("a valid tuple", "a list")
    plain = kind != "value_error" and not isinstance(value, (dict, list))
    got = f" (got {value!r})" if plain else ""
    return f"{text}{got}"


def describe_location(location: Location) -> str:
    """Return a location as ``layers[3].layers[1]`` for messages."""
    return format_location(location)
