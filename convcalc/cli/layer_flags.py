"""The ``layer`` command's flags, generated from the layer models, and the one-layer network
they spell: ``--type linear --units 4096`` → ``{type: linear, units: 4096}``.

Every field of every leaf layer type (``convcalc.layers.REGISTRY``) is a flag named after
it (``units`` → ``--units``, ``ceil_mode`` → ``--ceil-mode``), its help the field's
``Field(description=...)``; a few keep the short names the command always had
(``FLAG_NAMES``). A field several types share (``groups``, ``p``, ``bias``) is one flag.
This module owns the map from fields to flags: the core's errors name fields, and the
messages here name flags.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, cast, get_args, get_origin

import typer
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from typer._click import Context, Parameter
from typer._coercion import RuntimeParam, resolve_type_descriptor
from typer.core import TyperCommand, TyperOption
from typer.models import OptionInfo

from convcalc.cli.params import input_shape_or_reason
from convcalc.errors import InputError, SpecError
from convcalc.layers import REGISTRY, Layer
from convcalc.layers.base import LayerFamily
from convcalc.loader import NetworkSource, network_from_data
from convcalc.spec import Network
from convcalc.textsafe import echo

__all__ = [
    "FLAG_NAMES",
    "LEAF_TYPES",
    "FlagSource",
    "LayerFlag",
    "LayerFlagsCommand",
    "flag_of",
    "layer_flags",
    "layer_network",
    "with_layer_flags",
]

FLAG_NAMES: dict[str, tuple[str, ...]] = {
    "kernel": ("--k", "--kernel", "-k"),
    "filters": ("--filters", "-f"),
    "stride": ("--stride", "-s"),
    "padding": ("--pad", "--padding", "-p"),
    "dilation": ("--dilation", "-d"),
    "groups": ("--groups", "-g"),
    # --output is a file everywhere else (export, plot, schema); an output size is
    # --output-size, as in solve and PyTorch's AdaptiveAvgPool2d(output_size).
    "output": ("--output-size",),
}
"""The flags of the fields whose flag is not ``--`` and the field's name with dashes."""

_OWN_FIELDS = ("type", "name")
"""Fields no flag sets: the type is ``--type``, and one layer needs no name."""

LEAF_TYPES: tuple[str, ...] = tuple(sorted(
    (name for name, cls in REGISTRY.items() if not cls.container),
    key=lambda name: list(LayerFamily).index(REGISTRY[name].family)))
"""The layer types ``layer --type`` takes: every type but the containers, by family in
``LayerFamily``'s order (conv first), in the order each family's module defines them."""

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class LayerFlag:
    """One flag of the ``layer`` command.

    Attributes:
        field: the layer field it sets (``kernel``).
        names: its spellings, the first the one messages use (``--k``, ``--kernel``, ``-k``).
        types: the layer types that have the field.
        boolean: a switch rather than a value: ``--x``, and ``--no-x`` when some type
            has it on by default.
        negatable: ``--no-x`` exists.
        help: the help text, from the fields' descriptions.
        metavar: what its value looks like (``DIMS``).
    """

    field: str
    names: tuple[str, ...]
    types: tuple[str, ...]
    boolean: bool
    negatable: bool
    help: str
    metavar: str

    @property
    def flag(self) -> str:
        """Return the spelling messages use."""
        return self.names[0]

    @property
    def parameter(self) -> str:
        """Return the command's parameter name for this flag."""
        return f"layer_{self.field}"


def flag_of(field: str) -> str:
    """Return the flag that sets ``field`` (``kernel`` → ``--k``)."""
    return FLAG_NAMES.get(field, ("--" + field.replace("_", "-"),))[0]


def _members(annotation: Any) -> list[Any]:
    """Return the members of a union (an Annotated type's inner type), or [annotation]."""
    if get_origin(annotation) is Annotated:
        return _members(get_args(annotation)[0])
    args = get_args(annotation)
    if args and get_origin(annotation) not in (tuple, Literal):  # a Union
        return [m for a in args for m in _members(a)]
    return [annotation]


def _words(info: FieldInfo) -> list[str]:
    """Return the literal words a field takes (``same``, ``valid``), in order."""
    return [w for m in _members(info.annotation) if get_origin(m) is Literal
            for w in get_args(m) if isinstance(w, str)]


def _is_bool(info: FieldInfo) -> bool:
    return info.annotation is bool


def _is_float(info: FieldInfo) -> bool:
    return float in _members(info.annotation)


def _forms(info: FieldInfo) -> list[str]:
    """Return the forms a value of the field takes, for help and messages."""
    forms = []
    for member in _members(info.annotation):
        if member is int:
            forms.append("an int")
        elif member is float:
            forms.append("a number")
        elif member is str:
            forms.append("a name")
        elif get_origin(member) is tuple:
            args = get_args(member)
            if len(args) == 2 and args[1] is Ellipsis:
                inner = _members(args[0])[0]
                forms.append("(before, after) per dim such as [[0, 1], [0, 1]]"
                             if get_origin(inner) is tuple else
                             "one int per dim such as 3x5")
            else:
                forms.append(f"{len(args)} ints such as " + ",".join(
                    str(i) for i in range(0, 16 * len(args), 16)))
    forms += _words(info)
    return forms


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _metavar(field: str, info: FieldInfo) -> str:
    """Return what a value looks like: ``INT``, ``NUMBER``, ``DIMS`` (an int or one per
    dim), ``INTS``; a field of words alone by its name (``MODE``), its help naming them."""
    members = _members(info.annotation)
    if any(get_origin(m) is tuple for m in members):
        variable = any(get_args(m)[-1:] == (Ellipsis,) for m in members
                       if get_origin(m) is tuple)
        return "DIMS" if variable else "INTS"
    if int in members:
        return "INT"
    if float in members:
        return "NUMBER"
    return field.upper()


def _bounds(info: FieldInfo) -> list[tuple[str, float]]:
    """Return the bounds of the numbers a field holds, as (``≥``/``>``/``<``/``≤``, bound)."""
    bounds: dict[str, float] = {}
    stack: list[Any] = [info, info.annotation]
    while stack:
        item = stack.pop()
        for meta in getattr(item, "metadata", ()):
            for attribute, sign in (("ge", "≥"), ("gt", ">"), ("lt", "<"), ("le", "≤")):
                if getattr(meta, attribute, None) is not None:
                    bounds.setdefault(sign, getattr(meta, attribute))
            stack.append(meta)
        if get_origin(item) is Annotated:
            stack.extend(get_args(item)[1:])
            stack.append(get_args(item)[0])
        elif get_args(item) and get_origin(item) is not Literal:
            stack.extend(get_args(item))
    return list(bounds.items())


_HOLDS = {"≥": lambda n, b: n >= b, ">": lambda n, b: n > b, "<": lambda n, b: n < b,
          "≤": lambda n, b: n <= b}


@cache
def layer_flags() -> tuple[LayerFlag, ...]:
    """Return every flag the leaf layer types' fields give, the lecture's flags first."""
    fields: dict[str, list[tuple[str, FieldInfo]]] = {}
    for type_name in LEAF_TYPES:
        for field, info in REGISTRY[type_name].model_fields.items():
            if field not in _OWN_FIELDS:
                fields.setdefault(field, []).append((type_name, info))
    order = list(FLAG_NAMES) + [f for f in fields if f not in FLAG_NAMES]
    flags = []
    for field in order:
        if field not in fields:
            continue
        holders = fields[field]
        flags.append(LayerFlag(
            field=field,
            names=FLAG_NAMES.get(field, ("--" + field.replace("_", "-"),)),
            types=tuple(dict.fromkeys(t for t, _ in holders)),
            boolean=all(_is_bool(info) for _, info in holders),
            negatable=any(info.default is True for _, info in holders),
            help=_help(holders),
            metavar=_metavar(field, holders[0][1]),
        ))
    return tuple(flags)


def _help(holders: list[tuple[str, FieldInfo]]) -> str:
    """Return a flag's help: each distinct description with the types it is for."""
    by_text: dict[str, list[str]] = {}
    for type_name, info in holders:
        by_text.setdefault((info.description or "").rstrip("."), []).append(type_name)
    if len(by_text) == 1:
        [(text, types)] = by_text.items()
        return f"{text} ({', '.join(types)})."
    return " ".join(f"{', '.join(types)}: {text}." for text, types in by_text.items())


def _option(flag: LayerFlag) -> tuple[str, ...]:
    """Return the option declarations of ``flag``: ``--bias/--no-bias`` when negatable."""
    if flag.negatable:
        return (f"{flag.names[0]}/--no-{flag.names[0][2:]}",)
    return flag.names


def with_layer_flags(command: _F) -> _F:
    """Return ``command`` with one keyword parameter per layer flag added to its signature,
    for typer to read; the command receives them in ``**options``. Register the command
    with ``cls=LayerFlagsCommand``, which reads these flags' values without typer's
    conversion."""
    signature = inspect.signature(command)
    fixed = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    generated = []
    for flag in layer_flags():
        option = typer.Option(*_option(flag), help=flag.help, show_default=False,
                              rich_help_panel="Layer options",
                              metavar=None if flag.boolean else flag.metavar)
        kind = bool if flag.boolean else str
        generated.append(inspect.Parameter(
            flag.parameter, inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[kind | None, option]))
    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(kind=p.KEYWORD_ONLY) for p in fixed] + generated)
    return command


@dataclass(frozen=True)
class _Verbatim(RuntimeParam):
    """A flag's value as the command line gave it: its text, or a switch's True/False."""

    def _coerce_value(self, value: Any, param: Any, ctx: Context) -> Any:
        return value


class _LayerOption(TyperOption):
    """A layer flag's option: its text goes to ``_value`` below unconverted.

    typer converts each option's value through a pydantic ``TypeAdapter`` it builds on the
    option's first use, which for the ~24 layer flags was a good part of ``convcalc
    layer``'s start-up (docs/performance.md); these values are text (or a switch) that this
    module reads itself, so there is nothing for the adapter to do.
    """

    def get_runtime_param(self) -> RuntimeParam:
        return _Verbatim(parameter_info=self.type_descriptor.parameter_info,
                         annotation=self.type_descriptor.annotation)


def _layer_option(flag: LayerFlag) -> _LayerOption:
    """Return the option of ``flag``: its spellings, help and metavar, no default."""
    kind = bool if flag.boolean else str
    return _LayerOption(
        param_decls=[flag.parameter, *_option(flag)],
        type_descriptor=resolve_type_descriptor(kind, OptionInfo()),
        default=None, is_flag=True if flag.boolean else None, help=flag.help,
        show_default=False, metavar=None if flag.boolean else flag.metavar,
        rich_help_panel="Layer options")


class LayerFlagsCommand(TyperCommand):
    """The command of a function decorated with ``with_layer_flags``: its layer flags are
    ``_LayerOption``s (read without typer's conversion), every other option as typer
    builds it from the signature."""

    def __init__(self, name: str | None, *, params: list[Parameter] | None = None,
                 **settings: Any) -> None:
        options = {flag.parameter: _layer_option(flag) for flag in layer_flags()}
        super().__init__(name, params=[options.get(p.name or "", p) for p in params or []],
                         **settings)


def given_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the layer fields the user gave, by field, from the command's ``**options``."""
    by_parameter = {flag.parameter: flag.field for flag in layer_flags()}
    return {by_parameter[k]: v for k, v in options.items() if v is not None}


_INTS = re.compile(r"[+-]?[0-9]+(?:\s*[x×X,]\s*[+-]?[0-9]+)*")
_SEPARATOR = re.compile(r"\s*[x×X,]\s*")
_MAX_DIGITS = 30


def _value(text: str, info: FieldInfo, flag: str) -> Any:
    """Return the value a flag's text spells for ``info``'s field, or raise naming ``flag``."""
    stripped = text.strip()
    if stripped in _words(info):
        return stripped
    if str in _members(info.annotation):  # a name (unknown's op): the field validates it
        return stripped
    if _is_float(info):
        try:
            number = float(stripped)
        except ValueError:
            raise _flag_error(f"{flag} takes a number, got {echo(text)}") from None
        _check_bounds(number, info, flag, stripped)
        return number
    value: Any = None
    if stripped.startswith("[") and len(stripped) <= 10_000:
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):
            value = None
    elif _INTS.fullmatch(stripped) and all(
            len(p.lstrip("+-0")) <= _MAX_DIGITS for p in _SEPARATOR.split(stripped)):
        numbers = [int(p) for p in _SEPARATOR.split(stripped)]
        value = numbers[0] if len(numbers) == 1 else numbers
    if value is None:
        ascii_note = " (ASCII digits)" if any(c.isdigit() and not c.isascii()
                                              for c in text) else ""
        raise _flag_error(f"{flag} takes {_joined(_forms(info))}{ascii_note}, "
                          f"got {echo(text)}")
    _check_bounds(value, info, flag, stripped)
    return value


def _check_bounds(value: Any, info: FieldInfo, flag: str, text: str) -> None:
    for number in _numbers_in(value):
        for sign, bound in _bounds(info):
            if not _HOLDS[sign](number, bound):
                raise _flag_error(f"{flag} must be {sign} {bound:,}, got {_shown(text)}")


def _shown(text: str) -> str:
    return text if len(text) <= 40 and text.isascii() else echo(text)


def _numbers_in(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, list):
        return [n for item in value for n in _numbers_in(item)]
    return []


def _flag_error(message: str) -> InputError:
    return InputError(message)


@dataclass(frozen=True)
class FlagSource(NetworkSource):
    """The one-layer network the flags spell: its errors name flags, not file paths."""

    def annotate(self, error: InputError) -> InputError:
        """Return ``error`` without a file, layer path or layer name, naming the flag of its
        field (the user wrote flags; ``layers[0]: layer 'conv1'`` means nothing to them)."""
        error = super().annotate(error)
        error.source = None
        error.location = ()
        error.layer = None
        error.line = None
        if error.field_name and error.field_name not in _OWN_FIELDS:
            flag = flag_of(error.field_name)
            if not error.message.startswith(flag):
                error.message = f"{flag}: {error.message}"
        error.field_name = None
        error.message = _flags_named(error.message)
        return error


def layer_network(input_shape: str, kind: str, given: Mapping[str, Any]) -> NetworkSource:
    """Return the one-layer network ``--type kind`` and the ``given`` fields spell.

    Raises InputError naming the flag: a flag the type does not take, one it needs and
    lacks, or a value that is not one.
    """
    flags = {flag.field: flag for flag in layer_flags()}
    cls = REGISTRY[kind]
    fields = {k: v for k, v in cls.model_fields.items() if k not in _OWN_FIELDS}
    for field in given:
        if field not in fields:
            flag = flags[field]
            raise _flag_error(f"{flag.flag} applies to --type {'/'.join(flag.types)}")
    shape = input_shape_or_reason(input_shape)
    if isinstance(shape, str):
        raise _flag_error(f"--input: {shape}")
    missing = [f for f, info in fields.items() if info.is_required() and f not in given]
    if missing:
        raise _flag_error(f"--type {kind} needs " + " and ".join(
            f"{flag_of(f)} ({_gist(fields[f])})" for f in missing))
    layer: dict[str, Any] = {"type": kind}
    for field, raw in given.items():
        layer[field] = raw if isinstance(raw, bool) else _value(raw, fields[field],
                                                                flag_of(field))
    try:
        # One layer class and the input shape: validating the whole Network would first
        # build the schema of every layer type, a good part of this command's run time.
        model = cls.model_validate(layer)
        # The registry's classes are the members of the Layer union.
        network = Network.model_construct(version=1, name=None, input=shape,
                                          layers=[cast(Layer, model)])
        return FlagSource(network, "<flags>")
    except ValidationError:
        pass
    try:  # the whole validation, for the message a file would get, then named by flag
        checked = network_from_data({"input": list(shape), "layers": [layer]}, "<flags>")
        return FlagSource(checked.network, "<flags>")  # pragma: no cover - refused above
    except SpecError as error:
        named = error.field_name
        message = _flags_named(error.message, fields)
        if named and named not in _OWN_FIELDS and not message.startswith(flag_of(named)):
            message = f"{flag_of(named)}: {message}"
        raise _flag_error(message) from None


def _flags_named(message: str, fields: Mapping[str, Any] | None = None) -> str:
    """Return ``message`` with each quoted field name (``'scale'``) written as its flag."""
    names = fields if fields is not None else {flag.field: flag for flag in layer_flags()}
    return re.sub(r"'(\w+)'", lambda m: flag_of(m[1]) if m[1] in names else m[0], message)


def _gist(info: FieldInfo) -> str:
    """Return the first words of a field's description: ``Output channels``."""
    text = re.split(r"[:.;]", info.description or "", maxsplit=1)[0].strip()
    return text[:1].lower() + text[1:]

