"""Network files to models: the only module that reads files.

YAML is loaded with PyYAML's safe loader (its C parser where it is built): python tags are
refused there, and aliases load as shared objects, so the loaded graph can be checked for
recursive aliases, alias bombs and absurd nesting before anything walks it as a tree.
Line numbers cost a second parse, so they are found only when an error needs one: the
text is composed again and the error's location followed through the nodes.
"""

from __future__ import annotations

import copy
import difflib
import errno
import functools
import operator
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    TypeVar,
    get_args,
    get_origin,
    get_type_hints,
)

from pydantic import BaseModel, TypeAdapter, ValidationError, create_model

if TYPE_CHECKING:
    import yaml

from convcalc.common import shape_text
from convcalc.errors import InputError, Location, NetworkFileError, SpecError, format_location
from convcalc.layers import REGISTRY, LayerSpec
from convcalc.layers.merges import MERGES
from convcalc.spec import LAYER_TYPES, Layer, Network
from convcalc.textsafe import MAX_ECHO, echo, printable, shorten

__all__ = ["IMAGE_CHANNELS", "MAX_DIGITS", "MAX_FILE_BYTES", "MAX_LAYERS_BY_NODE",
           "MAX_MERGED_KEYS", "MAX_NESTING", "MAX_NODES", "MAX_SIGNAL_CHANNELS",
           "NetworkSource", "input_note", "load_network", "network_from_data",
           "parse_network", "parse_network_bytes", "read_stdin"]

MAX_FILE_BYTES = 256 * 1024 * 1024
"""The largest network file read."""
MAX_NODES = 5_000_000
"""The most values (mappings, lists, scalars) a file may expand to once its aliases are
followed: room for about 500,000 written-out conv layers."""
MAX_NESTING = 200
"""The deepest nesting of lists and mappings a file may have."""



MAX_LAYERS_BY_NODE = 10_000
"""Plain networks with up to this many layer entries are validated layer by layer, each by
its own class; larger ones whole. The loop costs about 5 µs a layer more than pydantic's one
pass, and building the union of every type about 50 ms: they meet near 10,000 layers."""

MAX_DIGITS = 100
"""The most digits a number in a network file may have (no field takes more than ten;
Python refuses to convert past about 4,300)."""

MAX_MERGED_KEYS = 1_000_000
"""The most keys a file's merge keys (``<<: *base``) may copy in all."""

_INT_1_2 = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_INT_1_1 = re.compile(r"[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])*)")
_MERGE = "tag:yaml.org,2002:merge"
_YAML_1_1_BOOLEANS = frozenset({"yes", "no", "on", "off"})
_CORE_TAGS = ("null", "bool", "int", "float", "str", "seq", "map")


def _yaml() -> tuple[Any, type[yaml.SafeLoader]]:
    """Return PyYAML and the network-file loader (on its C parser where it is built)."""
    import yaml

    return yaml, _loader_class()


@functools.cache
def _loader_class() -> type[yaml.SafeLoader]:
    """Build the loader: PyYAML's C parser, YAML 1.2's core scalars, plain data only.

    PyYAML resolves YAML 1.1, where ``no`` is false, ``010`` is 8, ``1:00`` is 60 and
    ``!!set`` makes a set. A network file means what YAML 1.2 means: ``yes``/``no``/
    ``on``/``off`` and dates stay text, the 1.1-only integer forms are refused with the
    number to write, and only the core tags (null, bool, int, float, str, seq, map) load.
    Parsing stays in C; only these scalar and mapping rules run in Python, as before.
    """
    import yaml
    import yaml.constructor
    import yaml.resolver

    # Any to mypy: the overrides below take any node and check its kind at run time,
    # where the stubs' methods want the exact node class. So each class below subclasses
    # Any, which strict mypy reports as misc.
    SafeConstructor: Any = yaml.constructor.SafeConstructor
    BaseResolver: Any = yaml.resolver.BaseResolver
    Resolver: Any = yaml.resolver.Resolver
    try:
        # The stubs' yaml.cyaml.__all__ lists only the loaders; CParser is there all the same.
        from yaml.cyaml import CParser  # type: ignore[attr-defined]
        Parser: Any = CParser
    except ImportError:  # PyYAML built without libyaml: the same rules, parsed in Python
        Parser = _python_parser(yaml)

    class NetworkResolver(BaseResolver):  # type: ignore[misc]  # subclasses Any: see above
        """YAML 1.1's scalar patterns minus its booleans, timestamps and ``=``."""

    for first, resolvers in Resolver.yaml_implicit_resolvers.items():
        for tag, pattern in resolvers:
            if tag.rsplit(":", 1)[1] in ("null", "int", "float") or tag == _MERGE:
                NetworkResolver.add_implicit_resolver(tag, pattern, [first])
    NetworkResolver.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"))

    class NetworkConstructor(SafeConstructor):  # type: ignore[misc]  # subclasses Any
        """Plain data only, each key once, numbers as YAML 1.2 writes them."""

        yaml_constructors: ClassVar[dict[Any, Any]] = {
            f"tag:yaml.org,2002:{name}": SafeConstructor.yaml_constructors[
                f"tag:yaml.org,2002:{name}"] for name in _CORE_TAGS}

        def construct_undefined(self, node: yaml.Node) -> Any:
            raise _refused(node, f"the tag {echo(_short_tag(node.tag))} is not allowed; "
                           "network files hold plain data (mappings, lists, numbers, "
                           "strings)")

        def construct_yaml_int(self, node: yaml.Node) -> int:
            return _yaml_int(node)

        def construct_yaml_float(self, node: yaml.Node) -> float:
            text = str(node.value)
            if "_" in text or ":" in text:
                raise _refused(node, f"{echo(text)} is a YAML 1.1 number (underscores or "
                               "base-60 parts); write it as plain decimal digits, or quote "
                               "it for text")
            try:
                return float(SafeConstructor.construct_yaml_float(self, node))
            except ValueError:
                raise _refused(node, f"{echo(text)} is not a number") from None

        def construct_yaml_bool(self, node: yaml.Node) -> bool:
            text = str(node.value)
            if text.lower() not in ("true", "false"):
                raise _refused(node, f"{echo(text)} is not a boolean; write true or false")
            return text.lower() == "true"

        def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
            if not isinstance(node, yaml.MappingNode):
                # Every concrete node class has an id; the stubs give it to those only.
                raise _refused(node, f"expected a mapping, found {node.id}")  # type: ignore[attr-defined]
            mapping: dict[Any, Any] = {}
            merges = False
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    merges = True
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    seen = key in mapping
                except TypeError:
                    raise _refused(key_node, "a mapping key must be a plain value, not a "
                                   "list or mapping") from None
                if seen:
                    first = next(k for k, _ in node.value if k.tag != _MERGE
                                 and self.construct_object(k, deep=deep) == key)
                    raise _refused(key_node, f"duplicate key {echo(key)} (lines "
                                   f"{first.start_mark.line + 1} and "
                                   f"{key_node.start_mark.line + 1}); a mapping takes each "
                                   "key once")
                mapping[key] = self.construct_object(value_node, deep=deep)
            if merges:  # ``<<: *base``: the written keys win over the merged ones
                return {**self._merged(node, deep), **mapping}
            return mapping

        def _merged(self, node: yaml.Node, deep: bool) -> dict[Any, Any]:
            merge = [(k, v) for k, v in node.value if k.tag == _MERGE]
            sources = [s for _, v in merge for s in (
                v.value if isinstance(v, yaml.SequenceNode) else [v])]
            # Count before copying: each merge copies its sources' keys, so a few aliases
            # of a large mapping would otherwise copy it over and over.
            self.merged_keys = getattr(self, "merged_keys", 0) + sum(
                len(s.value) for s in sources if isinstance(s, yaml.MappingNode))
            if self.merged_keys > MAX_MERGED_KEYS:
                raise _refused(node, f"the merge keys ('<<') copy more than "
                               f"{MAX_MERGED_KEYS:,} keys; write the repetition with "
                               "'repeat' instead")
            copy = yaml.MappingNode(node.tag, merge, node.start_mark, node.end_mark)
            self.flatten_mapping(copy)
            merged: dict[Any, Any] = {}
            for key_node, value_node in copy.value:
                key = self.construct_object(key_node, deep=deep)
                merged.setdefault(key, self.construct_object(value_node, deep=deep))
            return merged

    NetworkConstructor.add_constructor(None, NetworkConstructor.construct_undefined)
    for name in ("int", "float", "bool"):
        NetworkConstructor.add_constructor(f"tag:yaml.org,2002:{name}",
                                           getattr(NetworkConstructor, f"construct_yaml_{name}"))

    class NetworkLoader(Parser, NetworkConstructor, NetworkResolver):  # type: ignore[misc]  # Any
        """PyYAML's (C) parser with the network file's constructor and resolver."""

        def __init__(self, stream: str) -> None:
            Parser.__init__(self, stream)
            NetworkConstructor.__init__(self)
            NetworkResolver.__init__(self)

    return NetworkLoader


def _python_parser(yaml: Any) -> type:
    """Return PyYAML's pure-Python reader, scanner, parser and composer as one class."""

    # ``yaml`` is Any here, so are its classes: strict mypy reports subclassing them (misc).
    class PythonParser(yaml.reader.Reader, yaml.scanner.Scanner,  # type: ignore[misc]
                       yaml.parser.Parser, yaml.composer.Composer):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)

    return PythonParser


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def _refused(node: yaml.Node, message: str) -> NetworkFileError:
    """Return the error for a node the network format refuses, with the node's line."""
    return NetworkFileError(message, line=node.start_mark.line + 1)


def _yaml_int(node: yaml.Node) -> int:
    """Return a decimal integer; refuse YAML 1.1's other forms, saying the number to write."""
    text = str(node.value)
    if len(text) > MAX_DIGITS:
        digits = sum(c.isdigit() for c in text)
        if digits > MAX_DIGITS:
            raise _refused(node, f"a number of {digits:,} digits; numbers here have at most "
                           f"{MAX_DIGITS} digits (no size exceeds 2,147,483,647)")
    if _INT_1_2.fullmatch(text):
        return int(text)
    if not _INT_1_1.fullmatch(text):
        raise _refused(node, f"{echo(text)} is not an integer")
    body = text.replace("_", "").lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    try:
        if ":" in body:
            value = 0
            for part in body.split(":"):
                value = value * 60 + int(part)
            form = "sexagesimal (base-60) integer"
        elif body[:2] in ("0x", "0b"):
            value = int(body[2:], 16 if body[1] == "x" else 2)
            form = "hexadecimal integer" if body[1] == "x" else "binary integer"
        elif len(body) > 1 and body[0] == "0":
            value, form = int(body, 8), "octal integer"
        else:
            value, form = int(body), "integer with underscores"  # 1_000
    except ValueError:
        raise _refused(node, f"{echo(text)} is not an integer") from None
    raise _refused(node, f"{text} is a YAML 1.1 {form}; write {sign * value}, or quote it "
                   "for text" if len(text) <= MAX_ECHO else
                   f"{echo(text)} is a YAML 1.1 {form}; write it in decimal digits")


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
        reading = input_note(self.network.input)
        if reading is not None and reading not in error.message:
            # The misread rank is what most often makes the layers not fit: say so.
            error.message += f" ({reading})"
        return error


IMAGE_CHANNELS = (1, 3, 4)
"""Channel counts of images (grey, RGB, RGBA): ``1×3×224×224`` reads as a batch of one."""
MAX_SIGNAL_CHANNELS = 16
"""A 2-number input with more channels than this (or as many as its length) reads like an
image's H×W with the channels left out."""
_SMALLEST_IMAGE_SIDE = 8


def input_note(shape: tuple[int, ...]) -> str | None:
    """Return how ``shape`` was read when its rank may not be the one meant, or None.

    Two readings are stated, never refused, since each is a valid shape: four sizes
    ``1×C×H×W`` with an image's channel count and sides (the batch written in, a torchinfo
    habit; a one-channel volume of depth 1, 3 or 4 stays possible), and two sizes that look
    like H×W (``32×32``, channels forgotten; a 1-D signal ``3×100`` is not noted).
    """
    if (len(shape) == 4 and shape[0] == 1 and shape[1] in IMAGE_CHANNELS
            and min(shape[2:]) >= _SMALLEST_IMAGE_SIDE):
        return (f"input {shape_text(shape)} read as C=1, D={shape[1]}, H={shape[2]}, "
                f"W={shape[3]} (3-D); if 1 is the batch, write {'x'.join(map(str, shape[1:]))}"
                " (the batch size is --batch)")
    if len(shape) == 2 and (shape[0] > MAX_SIGNAL_CHANNELS or shape[0] == shape[1]):
        return (f"input {shape_text(shape)} read as C={shape[0]}, L={shape[1]} (1-D); write "
                f"1x{shape[0]}x{shape[1]} for one {shape_text(shape)} channel")
    return None


def _compose(text: str | None) -> yaml.Node | None:
    """Return the YAML node graph of ``text`` (it keeps line numbers), or None."""
    if text is None:
        return None
    pyyaml, loader = _yaml()
    try:
        node: yaml.Node | None = pyyaml.compose(text, Loader=loader)
        return node
    except (pyyaml.YAMLError, RecursionError):
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
    if name == "<stdin>":
        return parse_network_bytes(read_stdin(), name)
    try:
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
        reason = (error.strerror or str(error)).lower()
        raise NetworkFileError(f"cannot read: {reason}", source=name) from None
    if len(text) > MAX_FILE_BYTES:
        raise NetworkFileError(f"larger than the limit of {MAX_FILE_BYTES // 2**20} MiB",
                               source=name)
    return parse_network(text, name)


def read_stdin() -> bytes:
    """Return the bytes of standard input, up to one past ``MAX_FILE_BYTES``.

    The bytes are read, not text: Python's text stdin decodes by the locale, with
    ``surrogateescape`` in a C locale, which lets bad bytes through as lone surrogates; and
    an ONNX model on standard input is bytes. Raises NetworkFileError when it cannot be read.
    """
    stream = sys.stdin
    try:
        if stream is None:  # started with stdin closed (``<&-``)
            raise OSError(errno.EBADF, "standard input is closed")
        binary = getattr(stream, "buffer", None)
        if binary is None:  # replaced by a text stream (a test, an embedding program)
            return str(stream.read(MAX_FILE_BYTES + 1)).encode("utf-8", "surrogateescape")
        return bytes(binary.read(MAX_FILE_BYTES + 1))
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise NetworkFileError(f"cannot read: {reason}", source="<stdin>") from None


def parse_network_bytes(data: bytes, name: str) -> NetworkSource:
    """Return the network in the YAML ``data`` (UTF-8); ``name`` is used in error messages."""
    if len(data) > MAX_FILE_BYTES:
        raise NetworkFileError(f"larger than the limit of {MAX_FILE_BYTES // 2**20} MiB",
                               source=name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NetworkFileError(f"not UTF-8 text ({error.reason} at byte {error.start})",
                               source=name) from None
    return parse_network(text, name)


def parse_network(text: str, name: str = "<string>") -> NetworkSource:
    """Return the network in the YAML ``text``; ``name`` is used in error messages."""
    yaml, loader = _yaml()
    try:
        data = yaml.load(text, Loader=loader)
    except NetworkFileError as error:  # a rule of the format, raised while constructing
        error.source = name
        raise
    except yaml.reader.ReaderError as error:
        raise NetworkFileError(
            f"the character {echo(chr(error.character))} is not allowed in a YAML file "
            "(control characters other than tab and line breaks); remove it",
            source=name, line=_line_at_byte(text, error.position)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        raise NetworkFileError(f"invalid YAML: {_one_line(problem)}", source=name,
                               line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise NetworkFileError(f"invalid YAML: {_one_line(str(error))}",
                               source=name) from None
    except RecursionError:
        raise NetworkFileError(f"nested too deeply (the limit is {MAX_NESTING} levels)",
                               source=name) from None
    try:
        shared = _check_graph(data)
    except NetworkFileError as error:
        error.source, error.line = name, _line_of(_compose(text), error.location)
        raise
    return network_from_data(data, name, text, shared=shared)


def _one_line(text: str) -> str:
    """Return a parser's message on one line, escaped and cut."""
    return shorten(printable(" ".join(text.split())), 200)


def _line_at_byte(text: str, position: int) -> int:
    """Return the 1-based line of a UTF-8 byte offset (where the C parser reports)."""
    return text.encode("utf-8", "surrogatepass")[:position].count(b"\n") + 1


def network_from_data(data: Any, name: str, text: str | None = None, *,
                      shared: bool = False) -> NetworkSource:
    """Return the network described by plain data (what the YAML held), validated.

    ``shared`` says that the data holds objects reached more than once (YAML aliases):
    those are validated once each, by node, so the cost is that of the file rather than
    of its expansion. A network of up to ``MAX_LAYERS_BY_NODE`` layers is validated by
    node too, each layer by its own class, so that only the types it uses build their
    validators (every type's would cost a start-up more than the rest of a small run);
    larger plain trees are validated whole, which is faster per layer, and again by node
    only when they are invalid, to find the first error in the file's order.
    """
    if not isinstance(data, dict):
        raise SpecError(
            "a network file is a mapping with 'input' and 'layers' (see docs/format.md), "
            f"got {_kind(data)}", source=name, line=1,
        )
    try:
        if not shared and _layer_count(data.get("layers")) > MAX_LAYERS_BY_NODE:
            try:
                return NetworkSource(Network.model_validate(data), name, text)
            except ValidationError:
                pass  # find the first error by node, as for shared data
        network = _NodeValidator(data).network()
    except _Invalid as invalid:
        raise _spec_error(invalid.error, invalid.data, invalid.path, invalid.is_layer,
                          _compose(text), name) from None
    except RecursionError:
        raise NetworkFileError(f"nested too deeply (the limit is {MAX_NESTING} levels)",
                               source=name) from None
    return NetworkSource(network, name, text)


class _Invalid(Exception):
    """A node of the data failed validation: its error, its data and where it is."""

    def __init__(self, error: ValidationError, data: Any, path: Location,
                 is_layer: bool) -> None:
        super().__init__("invalid node")  # not str(error): it renders every error
        self.error, self.data, self.path, self.is_layer = error, data, path, is_layer


_CONTAINER_FIELDS = {"sequential": ("layers",), "residual": ("layers", "shortcut", "after"),
                     "parallel": ("branches", "after"), "aux": ("layers",)}


class _NodeValidator:
    """Validate a network node by node: each distinct layer mapping once, bottom-up.

    YAML aliases make the data a DAG whose expansion can be a million times its size.
    Every layer mapping is validated once, by ``id``, with its children's models already
    in place (the ``Layer`` union takes model instances as they are), and every occurrence
    of it shares that one frozen model. Layer validation depends only on the mapping, so
    sharing is exact. The network's own fields are checked first, then the layers in the
    file's order, each container's body before the container; the first invalid node
    raises, with its path (the first place the file reaches it).
    """

    def __init__(self, data: dict[Any, Any]) -> None:
        self.data = data
        self.layers: dict[int, Any] = {}
        self.lists: dict[tuple[str, int], Any] = {}
        self.kept: list[Any] = []  # made here and cached by id: kept alive, ids unique
        self.names: dict[str, Any] = {}
        self.stand_ins: dict[int, list[Any]] = {}  # id of a validated body -> its stand-in

    def network(self) -> Network:
        """Return the validated network, or raise _Invalid for its first invalid node."""
        head = dict(self.data)
        if isinstance(head.get("layers"), list):  # check the network's own fields first
            head["layers"] = ["identity"]
        self._validate(_validated_network, head, (), is_layer=False, original=self.data)
        whole = dict(self.data)
        if "layers" in whole:
            whole["layers"] = self._layer_list(whole["layers"], ("layers",))
        network: Network = self._validate(_validated_network, whole, (), is_layer=False,
                                          original=self.data)
        return network

    def _layer_list(self, value: Any, path: Location) -> Any:
        if not isinstance(value, list):
            return value
        key = ("layers", id(value))
        if key not in self.lists:
            models = [self._layer(item, (*path, i)) for i, item in enumerate(value)]
            self.lists[key] = models
            if all(isinstance(model, LayerSpec) for model in models):
                self.stand_ins[id(models)] = models[:1]
        return self.lists[key]

    def _branches(self, value: Any, path: Location) -> Any:
        if not isinstance(value, list):
            return value
        key = ("branches", id(value))
        if key not in self.lists:
            branches = [self._layer_list(b, (*path, i)) for i, b in enumerate(value)]
            self.lists[key] = branches
            if all(id(branch) in self.stand_ins for branch in branches):
                self.stand_ins[id(branches)] = [self.stand_ins[id(b)] for b in branches[:1]]
        return self.lists[key]

    def _sample(self, body: Any) -> Any:
        """Return a short stand-in for a body whose layers are all validated models.

        A body shared by many containers would otherwise be checked once per container;
        the stand-in (its first layer, or first branch) lets pydantic check the
        container's own fields, and the validated body goes in after. A body holding
        anything else is returned whole, to be validated and reported as written.
        """
        return self.stand_ins.get(id(body), body)

    def _layer(self, value: Any, path: Location) -> Any:
        if isinstance(value, str):  # a bare name: one model for every ``- relu``
            if value not in self.names:
                self.names[value] = self._validate(_validated_layer, value, path,
                                                   is_layer=True)
            return self.names[value]
        if not isinstance(value, dict):
            return value  # a mistake the container's validation reports
        key = id(value)
        if key in self.layers:
            return self.layers[key]
        prepared, bodies = value, {}
        type_name = value.get("type")
        fields = _CONTAINER_FIELDS.get(type_name) if isinstance(type_name, str) else None
        if type_name == "graph" and isinstance(value.get("nodes"), list):
            prepared = dict(value)
            prepared["nodes"] = self._graph_nodes(value["nodes"], (*path, "nodes"))
        elif fields:
            prepared = dict(value)
            for field in fields:
                if field in value:
                    child = (*path, field)
                    bodies[field] = (self._branches(value[field], child) if field == "branches"
                                     else self._layer_list(value[field], child))
                    prepared[field] = self._sample(bodies[field])
        model = self._validate(_validated_layer, prepared, path, is_layer=True,
                               original=value)
        if any(prepared[f] is not bodies[f] for f in bodies):
            model = model.model_copy(update=bodies)
        self.layers[key] = model
        return model

    def _graph_nodes(self, nodes: list[Any], path: Location) -> list[Any]:
        """Return a graph's nodes with each layer node's layer validated once (by node),
        as ``{"from": ..., "node": model}``; merges and mistakes stay as written, for the
        graph's validation to check and report."""
        prepared = []
        for index, node in enumerate(nodes):
            if (isinstance(node, dict) and isinstance(node.get("type"), str)
                    and node["type"] not in MERGES):
                key = ("node", id(node))
                if key not in self.lists:
                    layer = {k: v for k, v in node.items() if k != "from"}
                    self.kept.append(layer)
                    model = self._layer(layer, (*path, index))
                    self.lists[key] = {"from": node["from"], "node": model} if (
                        "from" in node) else {"node": model}
                prepared.append(self.lists[key])
            else:
                prepared.append(node)
        return prepared

    @staticmethod
    def _validate(validate: Callable[[Any], Any], value: Any, path: Location, *,
                  is_layer: bool, original: Any = None) -> Any:
        try:
            return validate(value)
        except ValidationError as error:
            raise _Invalid(error, original if original is not None else value, path,
                           is_layer) from None


@functools.cache
def _layer_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Layer)


def _validated_layer(value: Any) -> Any:
    """Return the layer model of one layer's data (a mapping or a bare type name) whose
    containers' bodies are validated models already.

    The layer is validated by its own class, so a run builds the validators of the types it
    uses only; a container by its ``_shallow`` twin, whose bodies take the validated models
    as they are instead of through the union of every type. When that fails, the data goes
    through the union of every type (``Layer``), whose errors the messages are written for,
    so an error reads exactly as it would have.
    """
    type_name = value if isinstance(value, str) else (
        value.get("type") if isinstance(value, dict) else None)
    cls = REGISTRY.get(type_name) if isinstance(type_name, str) else None
    if cls is not None:
        data = {"type": value} if isinstance(value, str) else value
        try:
            return _validated_by_twin(cls, data) if cls.container else cls.model_validate(data)
        except ValidationError:
            pass  # the union's error, below
    return _layer_adapter().validate_python(value)


def _validated_network(value: Any) -> Network:
    """Return the network of ``value`` whose layers are validated models already (or a bare
    name, for the check of the network's own fields), validated as ``_validated_layer``
    validates a container: by its shallow twin, and on an error whole."""
    layers = value.get("layers")
    if isinstance(layers, list) and all(isinstance(layer, (LayerSpec, str))
                                        for layer in layers):
        data = {**value, "layers": [_validated_layer(layer) if isinstance(layer, str)
                                    else layer for layer in layers]}
        try:
            return _validated_by_twin(Network, data)
        except ValidationError:
            pass  # Network's own error, below
    return Network.model_validate(value)


_M = TypeVar("_M", bound=BaseModel)


def _validated_by_twin(cls: type[_M], data: Any) -> _M:
    """Return ``data`` validated by ``cls``'s shallow twin, as a ``cls`` with the same
    values (each of those already validated: ``model_construct`` checks nothing again)."""
    checked = _shallow(cls).model_validate(data)
    return cls.model_construct(_fields_set=checked.model_fields_set,
                               **{field: getattr(checked, field) for field in cls.model_fields})


@functools.cache
def _shallow(cls: type[BaseModel]) -> type[BaseModel]:
    """Return ``cls`` (a container or ``Network``) with its layer-list fields taking
    validated layer models (``LayerSpec``) instead of the union of every layer type.

    Same fields, constraints, defaults and validators otherwise, so data it accepts is
    data ``cls`` accepts, with the same values; its schema holds no other layer class.
    """
    fields: dict[str, Any] = {}
    # The declared types, resolved (a container's are forward references until its schema
    # is built); an Annotated type's extras are in the field's info already.
    hints = get_type_hints(cls, include_extras=True)
    for field, info in cls.model_fields.items():
        declared = hints[field]
        if get_origin(declared) is Annotated:
            declared = get_args(declared)[0]
        annotation = _without_union(declared)
        if annotation is not declared:
            twin = copy.copy(info)
            twin.annotation = annotation
            fields[field] = (annotation, twin)
    return create_model(f"_Shallow{cls.__name__}", __base__=(_Unregistered, cls), **fields)


class _Unregistered(BaseModel):
    """Mixin of a shallow twin: defining it registers no layer type (``LayerSpec``'s
    subclass hook would make the twin the class of its types)."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        pass


def _without_union(annotation: Any) -> Any:
    """Return ``annotation`` with the ``Layer`` union in it replaced by ``LayerSpec``."""
    if annotation is Layer:
        return LayerSpec
    args = get_args(annotation)
    origin = get_origin(annotation)
    if not args or origin is None:
        return annotation
    replaced = tuple(_without_union(arg) for arg in args)
    if all(new is old for new, old in zip(replaced, args, strict=True)):
        return annotation
    if origin is list:
        return list[replaced[0]]  # type: ignore[valid-type]
    return functools.reduce(operator.or_, replaced)  # a union: list[Layer] | None


def _layer_count(layers: Any, limit: int = MAX_LAYERS_BY_NODE) -> int:
    """Return how many layer entries ``layers`` holds, containers' bodies included, counting
    no further than past ``limit``."""
    count, pending = 0, [layers]
    while pending and count <= limit:
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            count += 1
            pending.extend(v for k, v in value.items() if k in _BODY_FIELDS)
        else:
            count += 1
    return count


_BODY_FIELDS = frozenset(field for fields in _CONTAINER_FIELDS.values() for field in fields)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (an empty document)"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _check_graph(data: Any) -> bool:
    """Raise on recursive aliases, alias bombs and deep nesting in the loaded data.

    YAML aliases load as shared objects, so a bomb costs little until something walks it
    as a tree. Walk each distinct list and mapping once, computing how many values and how
    deep the document is once every alias is expanded, without expanding it. Return
    whether any list or mapping is reached more than once (the data is a DAG, not a tree).
    """
    shared = False
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
            shared = True
            continue
        if key in on_path:
            raise NetworkFileError("an alias refers to a node that contains it (a recursive "
                                   "alias)", location=path)
        on_path.add(key)
        stack.append((value, path, True))
        for part, child in children:
            if isinstance(child, (list, dict)):
                if id(child) in sizes:
                    shared = True
                else:
                    stack.append((child, (*path, part), False))
    return shared


def _children(value: Any) -> list[tuple[str | int, Any]]:
    if isinstance(value, list):
        return list(enumerate(value))
    if isinstance(value, dict):
        return [(k if isinstance(k, (str, int)) else str(k), v) for k, v in value.items()]
    return []


def _suggest(word: object, choices: list[str] | tuple[str, ...]) -> str:
    if not isinstance(word, str) or len(word) > 100:
        return ""
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _spec_error(error: ValidationError, data: Any, base: Location, is_layer: bool,
                root: yaml.Node | None, name: str) -> SpecError:
    """Return the first validation error of one node as a message a person can act on.

    ``data`` is the node that failed (a layer mapping, or the network's), found at
    ``base`` in the file; pydantic's locations are relative to it.
    """
    priority = {"unknown_layer_type": 0, "extra_forbidden": 1}
    errors = sorted(error.errors(include_url=False), key=lambda e: priority.get(e["type"], 2))
    first = errors[0]
    split = _split_loc(first["loc"], data, base, is_layer)
    related = [e for e in errors if _split_loc(e["loc"], data, base, is_layer)[:2] == split[:2]]
    path, field, layer, in_layer = split
    message = _message(dict(first), [dict(e) for e in related], field,
                       layer if in_layer else None)
    relative = path[len(base):]
    location = (*path, field) if field is not None and _has(
        data, (*relative, field)) else path
    layer_name = layer.get("name") if in_layer and isinstance(layer, dict) else None
    if first["type"] == "graph_wiring":
        path, location, layer_name, field = _wiring_location(first.get("ctx") or {}, data,
                                                             path, base, layer_name)
    return SpecError(
        message, source=name, line=_line_of(root, location), location=path,
        layer=layer_name if isinstance(layer_name, str) else None,
        field_name=field if isinstance(field, str) else None,
    )


def _wiring_location(ctx: dict[str, Any], data: Any, path: Location, base: Location,
                     graph_name: Any) -> tuple[Location, Location, Any, str | None]:
    """Return where a graph's wiring error points: the node (or the graph, for its
    ``output``), the field's line when the field is written, the node's name, the field.

    ``Graph._wired`` says which node and field in the error's context; ``path`` is the
    graph's.
    """
    field = ctx.get("field") if isinstance(ctx.get("field"), str) else None
    index = ctx.get("node")
    graph = _at(data, path[len(base):])
    at: Location = path
    if isinstance(index, int):
        at = (*path, "nodes", index)
        node = _at(graph, ("nodes", index))
        graph_name = node.get("name") if isinstance(node, dict) else None
    else:
        node = graph
    located = (*at, field) if field is not None and _has(node, (field,)) else at
    return at, located, graph_name, field


def _at(data: Any, path: Location) -> Any:
    """Return the value at ``path`` in ``data`` (None where there is none)."""
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if not (in_dict or in_list):
            return None
        data = data[part]
    return data


def _has(data: Any, path: Location) -> bool:
    for part in path:
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if in_dict or in_list:
            data = data[part]
        else:
            return False
    return True


def _split_loc(loc: tuple[Any, ...], data: Any, base: Location,
               is_layer: bool) -> tuple[Location, str | None, Any, bool]:
    """Return (path to the innermost layer or the network, field, that layer's raw data,
    whether it is a layer rather than the network).

    Pydantic's locations carry union tags (class names, type descriptions) that are not
    in the file; keep only the parts that index the data, and note the field.
    """
    path: list[str | int] = list(base)
    node, layer, layer_path, in_layer = data, data, list(base), is_layer
    field: str | None = None
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            path.append(part)
            if len(path) > 1 and (path[-2] in ("layers", "shortcut", "after", "nodes") or (
                    isinstance(path[-2], int) and len(path) > 2 and path[-3] == "branches")):
                layer, layer_path, field, in_layer = node, list(path), None, True
        elif (part == "node" and len(path) > 1 and path[-2] == "nodes"
              and isinstance(node, dict) and "node" not in node):
            continue  # a graph node's layer: the model's own key, not in the file
        elif isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
            if field is None:
                field = part
        elif isinstance(node, dict) and field is None and isinstance(part, str) and (
                part not in {c.__name__ for c in REGISTRY.values()} | {"GraphMerge"}):
            field = part  # a missing or unknown key
            break
    return tuple(layer_path), field, layer, in_layer


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
                    f"{_kind(value)} {echo(value)}")
        written = value.get("type")
        return (f"unknown layer type {echo(written)}{_suggest(written, LAYER_TYPES)}; "
                f"the types are: {', '.join(LAYER_TYPES)}")
    what = f"a {layer_type} layer" if cls else "the network"
    if cls is None and layer is not None and isinstance(layer_type, str) and (
            layer_type in MERGES):
        what, keys = f"the {layer_type} node of a graph", ["name", "from"]
    if kind == "extra_forbidden":
        return (f"unknown key {echo(field)}{_suggest(field, keys)} for {what}; "
                f"it takes: {', '.join(keys)}")
    if kind == "missing" and field is None and cls is not None:
        # a bare type name (``- maxpool``) of a type that has required options
        required = [k for k, info in cls.model_fields.items() if info.is_required()
                    and k != "type"]
        example = ", ".join(f"{k}: ..." for k in required)
        return (f"{what} needs {', '.join(map(echo, required))}; write it as a mapping, "
                f"e.g. {{type: {layer_type}, {example}}}")
    if kind == "missing":
        help_text = _FIELD_HELP.get(f"{layer_type}.{field}", _FIELD_HELP.get(str(field)))
        return f"{what} needs {echo(field)}" + (f": {help_text}" if help_text else "")
    rule = _broken_rule(kind, first.get("ctx") or {}, field, value)
    if rule:
        return rule
    help_text = _FIELD_HELP.get(f"{layer_type}.{field}", _FIELD_HELP.get(str(field)))
    if help_text and (len(related) > 1 or kind.endswith(("_type", "_short", "_long",
                                                         "_mismatch", "literal_error"))):
        return f"{echo(value)} is not valid here; expected {help_text}"
    text = first["msg"]
    text = text.replace("Input should be", "should be").replace("Value error, ", "")
    text = text.replace("a valid tuple", "a list")
    plain = kind != "value_error" and not isinstance(value, (dict, list))
    got = f" (got {echo(value)})" if plain else ""
    return f"{text}{got}"


def _broken_rule(kind: str, ctx: dict[str, Any], field: str | None, value: Any) -> str | None:
    """Return a message naming the one rule a name, a shape or a boolean broke, or None."""
    if kind == "bool_type" and isinstance(value, str) and value.lower() in _YAML_1_1_BOOLEANS:
        meant = "true" if value.lower() in ("yes", "on") else "false"
        return (f"{echo(value)} is a YAML 1.1 boolean, which a network file reads as text; "
                f"write {meant}")
    if field == "name" and isinstance(value, str):
        if kind == "string_too_long":
            return (f"a name has at most {ctx.get('max_length')} characters; this one has "
                    f"{len(value):,}")
        if kind == "string_too_short":
            return "a name cannot be empty"
        if kind == "string_pattern_mismatch":
            bad = next(c for c in value if c == "." or c.isspace())
            what = "a dot" if bad == "." else f"the whitespace character {echo(bad)}"
            return (f"a name has no dots or spaces (dots join the names of nested layers); "
                    f"{echo(value)} has {what}")
    if field == "input" and isinstance(value, (list, tuple)) and kind in (
            "too_long", "too_short"):
        return (f"a shape has 1 to 4 sizes, channels first (C, C×L, C×H×W or C×D×H×W); "
                f"this one has {len(value):,} ({echo(value)})")
    return None


def describe_location(location: Location) -> str:
    """Return a location as ``layers[3].layers[1]`` for messages."""
    return format_location(location)
