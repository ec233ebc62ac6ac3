"""Every command's ``--help``, rendered one way for all of them, as plain text.

typer's own help shows a type after every flag (``--strict <bool>``), braces round
required arguments (``{FILE}``) and word lists as one unbreakable ``<a|b|c>`` that wraps
mid-word at 80 columns. Here the help is a usage line, the command's description with its
paragraphs re-flowed, then one row per option: its spellings, a metavar (``SHAPE``,
``FORMAT``, nothing after a flag), and its help with any word list written out as words,
wrapped only between words to the terminal's width (``COLUMNS``, at most 100).
"""

from __future__ import annotations

import inspect
import shutil
import textwrap
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any, get_args

from typer._click import Command, Context

__all__ = ["MAX_WIDTH", "install", "metavar_of", "render"]

MAX_WIDTH = 100
"""Help is never wider than this, however wide the terminal: long lines are hard to read."""

_NAME_COLUMN = 30
"""Option spellings longer than this put their help on the next line."""

# What a value-taking option's value is called when its own name says less.
_METAVARS = {
    "--input": "SHAPE", "--input-before": "SHAPE", "--input-after": "SHAPE",
    "--output": "FILE", "--to": "TARGET", "--max-memory": "SIZE", "--k": "SIZE",
    "--stride": "SIZE", "--dilation": "SIZE", "--output-padding": "SIZE",
    "--pad": "PADDING", "--groups": "GROUPS",
}


def _width(context: Context) -> int:
    wanted = context.terminal_width or shutil.get_terminal_size((80, 24)).columns
    if context.max_content_width:
        wanted = min(wanted, context.max_content_width)
    return max(40, min(wanted, MAX_WIDTH))


def _long_name(param: Any) -> str:
    names = [str(opt) for opt in param.opts if opt.startswith("--")]
    return (names or [str(opt) for opt in param.opts])[0]


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    values = getattr(descriptor, "choices", None) or ()
    return [str(value.value if isinstance(value, Enum) else value) for value in values]


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False) or getattr(param, "count", False))


def metavar_of(param: Any) -> str:
    """Return the word shown for ``param``'s value: ``SHAPE``, ``INTEGER``; '' for a flag."""
    if param.param_type_name == "argument":
        return str(param.metavar or param.name.upper())
    if _is_flag(param):
        return ""
    if param.metavar:
        return str(param.metavar)
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if annotation is int or int in get_args(annotation):
        return "INTEGER"
    name = _long_name(param)
    return _METAVARS.get(name, name.lstrip("-").upper())


def _help_of(param: Any) -> str:
    """Return ``param``'s help with its word list, default and whether it is required."""
    text = " ".join((param.help or "").split())
    choices = _choices(param)
    if choices and not all(choice in text for choice in choices):
        text = f"{text.rstrip('.')}: one of {', '.join(choices)}." if text else \
            f"One of {', '.join(choices)}."
    extras = []
    default = param.default
    if getattr(param, "show_default", True) and default is not None and not callable(default):
        if isinstance(default, Enum):
            extras.append(f"default: {default.value}")
        elif isinstance(default, bool):
            if getattr(param, "secondary_opts", None):
                chosen = param.opts[0] if default else param.secondary_opts[0]
                extras.append(f"default: {chosen.lstrip('-')}")
        elif default not in ((), []):
            extras.append(f"default: {default}")
    if param.required:
        extras.append("required")
    if extras:
        text = f"{text} [{'; '.join(extras)}]" if text else f"[{'; '.join(extras)}]"
    return text


def _spelling(param: Any) -> str:
    if param.param_type_name == "argument":
        return metavar_of(param)
    shorts = [opt for opt in param.opts if not opt.startswith("--")]
    longs = [opt for opt in param.opts if opt.startswith("--")]
    names = ", ".join(shorts + longs)
    if not shorts:
        names = "    " + names
    if getattr(param, "secondary_opts", None):
        names += " / " + ", ".join(param.secondary_opts)
    value = metavar_of(param)
    return f"{names} {value}" if value else names


_GLUE = "\u00a0"
"""Stands for a space that must not break a line while text is wrapped (textwrap breaks at
ASCII whitespace only), and is a space again once it is."""


def _glued(text: str) -> str:
    """Return ``text`` with the spaces inside a value written out (``[[0, 1], [0, 1]]``,
    ``[default: conv]``) or a formula's call (``α·(eˣ − 1)``) made unbreakable, so that
    wrapping never cuts such a token across lines; a parenthesis after a space is prose
    and stays breakable."""
    chars, open_groups = [], []
    for i, char in enumerate(text):
        if char == "[" or (char == "(" and i > 0 and not text[i - 1].isspace()):
            open_groups.append(char)
        elif char == "(":
            open_groups.append("prose")
        elif char in "])" and open_groups:
            open_groups.pop()
        glue = char == " " and any(group != "prose" for group in open_groups)
        chars.append(_GLUE if glue else char)
    return "".join(chars)


def _wrap(text: str, width: int, **settings: Any) -> list[str]:
    """Return ``text`` wrapped between words to ``width``, never inside a token
    (``_glued``)."""
    return [line.replace(_GLUE, " ") for line in textwrap.wrap(
        _glued(text), width, break_long_words=False, break_on_hyphens=False, **settings)]


def _rows(rows: Sequence[tuple[str, str]], width: int) -> list[str]:
    """Return ``(name, help)`` rows as lines: names in a column, help wrapped beside."""
    if not rows:
        return []
    column = min(max(len(name) for name, _ in rows), _NAME_COLUMN) + 4
    lines = []
    for name, text in rows:
        wrapped = _wrap(text, max(20, width - column)) or [""]
        if len(name) + 4 > column:
            lines.append(f"  {name}")
            lines.extend(" " * column + part for part in wrapped)
            continue
        lines.append(f"  {name.ljust(column - 2)}{wrapped[0]}".rstrip())
        lines.extend(" " * column + part for part in wrapped[1:])
    return lines


def _paragraphs(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in inspect.cleandoc(text).partition("\f")[0].split("\n\n"):
        words = " ".join(paragraph.split())
        if words:
            lines.extend(_wrap(words, width - 2, initial_indent="  ", subsequent_indent="  "))
            lines.append("")
    return lines


def _usage(command: Command, context: Context) -> str:
    pieces = [context.command_path, "[OPTIONS]"]
    for param in command.get_params(context):
        if param.param_type_name == "argument":
            name = metavar_of(param)
            pieces.append(name if param.required else f"[{name}]")
    if hasattr(command, "list_commands"):
        pieces.append("COMMAND [ARGS]...")
    return "Usage: " + " ".join(pieces)


def render(command: Command, context: Context,
           commands: Iterable[tuple[str, str]] = ()) -> str:
    """Return the help of ``command``: usage, description, arguments, options, commands
    (``commands``: name and one-line description of each, for a group)."""
    width = _width(context)
    lines = [_usage(command, context), ""]
    lines += _paragraphs(command.help or "", width)
    params = [p for p in command.get_params(context) if not getattr(p, "hidden", False)]
    arguments = [(_spelling(p), _help_of(p)) for p in params
                 if p.param_type_name == "argument"]
    options = [(_spelling(p), _help_of(p)) for p in params if p.param_type_name == "option"]
    for title, rows in (("Arguments", arguments), ("Options", options),
                        ("Commands", list(commands))):
        if rows:
            lines += [f"{title}:", *_rows(rows, width), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _subcommands(command: Command, context: Context) -> list[tuple[str, str]]:
    listed = getattr(command, "list_commands", None)
    if listed is None:
        return []
    rows = []
    for name in listed(context):
        sub = command.get_command(context, name)  # type: ignore[attr-defined]  # a group
        if sub is not None and not sub.hidden:
            rows.append((name, sub.get_short_help_str(limit=200)))
    return rows


def install(command: Command) -> Command:
    """Give ``command`` and every command under it this help, and return it."""
    def format_help(context: Context, formatter: Any) -> None:
        formatter.write(render(command, context, _subcommands(command, context)))

    setattr(command, "format_help", format_help)  # noqa: B010 - one instance, not the class
    for sub in getattr(command, "commands", {}).values():
        install(sub)
    return command
