"""Usage errors from the command-line parser, worded as convcalc words its own errors.

Every error click or typer raises while reading the command line (a bad value, an
unknown option or command, a missing option or argument) becomes one phrase that names
the flag first (``--batch: …``, as convcalc's own flag errors do), says what is allowed,
suggests the nearest name when one is close, and ends with where to read more.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any

from typer._click import Context
from typer._click.exceptions import (
    BadOptionUsage,
    BadParameter,
    ClickException,
    MissingParameter,
    NoSuchOption,
    UsageError,
)

from convcalc.textsafe import echo

__all__ = ["nearest", "usage_message"]


def nearest(word: str, names: Iterable[str]) -> str | None:
    """Return the name closest to ``word`` when one is close enough to be a typo, else None."""
    matches = difflib.get_close_matches(word, list(names), n=1, cutoff=0.7)
    return matches[0] if matches else None


def _suggestion(word: str, names: Iterable[str], quote: bool = False) -> str:
    near = nearest(word, names)
    if near is None:
        return ""
    return f"; did you mean {near!r}?" if quote else f"; did you mean {near}?"


def _flag(param: Any) -> str:
    """Return how the user spells ``param``: its first long option, or its metavar."""
    opts: Sequence[str] = getattr(param, "opts", ()) or ()
    if getattr(param, "param_type_name", "") == "argument":
        return str(param.metavar or (param.name or "").upper())
    long = [opt for opt in opts if opt.startswith("--")]
    return (long or list(opts) or [str(param.name)])[0]


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    values = getattr(descriptor, "choices", None) or ()
    return [str(value.value if isinstance(value, Enum) else value) for value in values]


def _options_of(context: Context | None) -> list[str]:
    if context is None:
        return []
    return [opt for param in context.command.get_params(context)
            for opt in (*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ()))
            if opt.startswith("--")]


def _value_phrase(error: BadParameter) -> str:
    """Return what is wrong with the value, from the validation error beneath it."""
    param = error.param
    cause = error.__cause__
    details = getattr(cause, "errors", None)
    first: dict[str, Any] = details()[0] if callable(details) and details() else {}
    given = first.get("input")
    choices = _choices(param)
    if choices and isinstance(given, str):
        return (f"{echo(given)} is not one of {', '.join(choices)}"
                f"{_suggestion(given, choices)}")
    kind = first.get("type", "")
    limits = first.get("ctx", {})
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"expected a whole number, got {echo(str(given))}"
    if kind == "greater_than_equal":
        return f"must be ≥ {limits.get('ge')}, got {given}"
    if kind == "less_than_equal":
        return f"must be ≤ {limits.get('le')}, got {given}"
    message = error.message.replace("Value error, ", "")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    return message.rstrip(".")


def _phrase(error: ClickException) -> str:
    """Return the message without the pointer to --help."""
    if isinstance(error, MissingParameter) and error.param is not None:
        what = "argument" if error.param.param_type_name == "argument" else "option"
        choices = _choices(error.param)
        allowed = f": one of {', '.join(choices)}" if choices else ""
        return f"missing {what} {_flag(error.param)}{allowed}"
    if isinstance(error, BadParameter) and error.param is not None:
        return f"{_flag(error.param)}: {_value_phrase(error)}"
    if isinstance(error, NoSuchOption):
        name = echo(error.option_name) if not error.option_name.isprintable() \
            else error.option_name
        return f"no such option {name}{_suggestion(error.option_name, _options_of(error.ctx))}"
    if isinstance(error, BadOptionUsage) and "requires an argument" in error.message:
        return f"{error.option_name} needs a value"
    message = error.format_message()
    if message.startswith("No such command "):
        typed = message.removeprefix("No such command ").split(".")[0].strip("'\"")
        context = getattr(error, "ctx", None)
        lister = getattr(getattr(context, "command", None), "list_commands", None)
        names = lister(context) if lister is not None else []
        return f"no such command {echo(typed)}{_suggestion(typed, names, quote=True)}"
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    return message.rstrip(".")


def usage_message(error: ClickException) -> str:
    """Return ``error`` as one convcalc message: the flag, what is allowed, a near name,
    and which help to read."""
    message = _phrase(error)
    context = getattr(error, "ctx", None) if isinstance(error, UsageError) else None
    if context is not None:
        message = f"{message} (see '{context.command_path} --help')"
    return message
