"""Every command's --help, at 80 and 120 columns: metavars, whole words, every option helped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from enum import Enum
from typing import Any

import pytest
import typer.main
from conftest import ROOT
from typer._click import Command, Context
from typer.testing import CliRunner

from convcalc.cli import app
from convcalc.cli.lazy import COMMANDS


def _commands() -> list[tuple[tuple[str, ...], Command]]:
    """Return every command and group under the app, with the words that invoke it."""
    root = typer.main.get_command(app)
    found: list[tuple[tuple[str, ...], Command]] = [((), root)]
    pending = [((), root)]
    while pending:
        path, group = pending.pop()
        context = Context(group, info_name="convcalc")
        for name in group.list_commands(context):  # type: ignore[attr-defined]  # a group
            command = group.get_command(context, name)  # type: ignore[attr-defined]
            found.append(((*path, name), command))
            if hasattr(command, "list_commands"):
                pending.append(((*path, name), command))
    return found


COMMAND_PATHS = _commands()


def _help(path: tuple[str, ...], width: int) -> str:
    runner = CliRunner(env={"COLUMNS": str(width), "NO_COLOR": "1", "TERM": "dumb"})
    result = runner.invoke(app, [*path, "--help"], catch_exceptions=False)
    assert (result.exit_code, result.stderr) == (0, "")
    return result.stdout


def _flat(text: str) -> str:
    return " ".join(text.split())


# A value written out ([[0, 1], [0, 1]], [default: conv]) or a call (α·(eˣ − 1)) is one
# token: its spaces are not places to break a line. A parenthesis after a space is prose.
_TOKEN = re.compile(r"\[(?:[^\[\]]|\[[^\[\]]*\])*\]|(?<=\S)\([^()]*\)")


def _uncut(token: str, text: str) -> bool:
    """Tell whether every occurrence of ``token`` in the re-flowed ``text`` is on one line."""
    joined = "\n".join(" ".join(line.split()) for line in text.splitlines())
    return joined.count(token) == joined.replace("\n", " ").count(token) > 0


def _choices(param: Any) -> list[str]:
    values = getattr(getattr(param, "type_descriptor", None), "choices", None) or ()
    return [str(v.value if isinstance(v, Enum) else v) for v in values]


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize(("path", "command"), COMMAND_PATHS,
                         ids=[" ".join(p) or "convcalc" for p, _ in COMMAND_PATHS])
def test_help_reads_well(path: tuple[str, ...], command: Command, width: int) -> None:
    """The help fits the width, shows no type placeholders or braces, and gives every option
    its whole help, its word list as words and a metavar only when it takes a value."""
    text = _help(path, width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert re.search(r"<\w+>|<bool>|\{", text) is None, text
    usage = text.splitlines()[0]
    assert usage.startswith(f"Usage: convcalc {' '.join(path)}".rstrip() + " [OPTIONS]")
    flat = _flat(text)
    # The description is there whole: its first paragraph, re-flowed, not cut.
    first = (command.help or "").split("\n\n")[0]
    assert _flat(first) in flat
    context = Context(command, info_name="convcalc")
    for param in command.get_params(context):
        if getattr(param, "hidden", False):  # deprecated spellings are not shown
            continue
        assert param.help, f"{' '.join(path)}: {param.name} has no help"  # type: ignore[attr-defined]
        assert _flat(param.help).rstrip(".") in flat  # type: ignore[attr-defined]
        for token in _TOKEN.findall(_flat(param.help)):  # type: ignore[attr-defined]
            assert _uncut(token, text), f"{param.name}: {token} is cut across lines"
        for choice in _choices(param):
            assert re.search(rf"(?<![\w-]){re.escape(choice)}(?![\w-])", text), choice
        if param.param_type_name != "option":
            continue
        row = next(line for line in text.splitlines()
                   if re.search(rf"(?<![\w-]){re.escape(param.opts[-1])}(?![\w-])", line)
                   and line.lstrip().startswith("-"))
        spelled = row.strip().split("  ")[0]
        takes_value = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
        assert bool(re.search(r" [A-Z][A-Z-]*$", spelled)) == takes_value, row


def test_value_examples_are_never_cut() -> None:
    """At 80 columns --pad's help wraps before [[0, 1], [0, 1]] rather than inside it (the
    help column is 80 − 34 = 46 wide: "(before, after) per dimension [[0, 1], [0," would
    fit, cutting the value), at every occurrence."""
    lines = _help(("layer",), 80).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  -p, --pad"))
    assert [line.strip() for line in lines[start + 2:start + 4]] == [
        "(none), one int, one per dimension [1, 2], or",
        "(before, after) per dimension",
    ]
    assert lines[start + 4].strip() == "[[0, 1], [0, 1]]. conv_transpose: PyTorch's"
    assert lines[start + 8].strip() == "(before, after) per dimension"
    assert lines[start + 9].strip() == "[[0, 1], [0, 1]]."


def test_top_level_help_lists_every_command_on_one_line() -> None:
    """`convcalc --help` gives each command one line: its name and its whole summary."""
    for width in (80, 120):
        lines = _help((), width).splitlines()
        for name, entry in COMMANDS.items():
            assert any(re.fullmatch(rf"  {name} +{re.escape(entry.summary)}", line)
                       for line in lines), name


def test_flags_show_no_placeholder() -> None:
    """Boolean flags and --help are written bare; value options carry their metavar."""
    text = _help(("layer",), 120)
    assert re.search(r"^ +--strict +Treat warnings", text, re.M)
    assert re.search(r"^ +--help +Show this message", text, re.M)
    assert re.search(r"^ +--bias / --no-bias +conv, conv_transpose, linear: Whether a learned "
                     r"bias", text, re.M)
    assert re.search(r"^  -i, --input SHAPE +Input shape", text, re.M)
    assert re.search(r"^  -t, --type TYPE +Layer type \(default conv\): conv, conv_transpose, "
                     r"maxpool, avgpool,", text, re.M)
    assert _help(("net",), 80).splitlines()[0] == "Usage: convcalc net [OPTIONS] FILE"


def _modules_after(*args: str) -> list[str]:
    """Run ``convcalc ARGS`` in a fresh process and return the modules it imported."""
    script = (
        "import json, sys\n"
        f"sys.argv = ['convcalc', *{list(args)!r}]\n"
        "from convcalc.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    return list(json.loads(done.stderr.splitlines()[-1]))


def test_layer_imports_only_its_command() -> None:
    """`convcalc layer` loads neither numpy, numba, the solver nor the other commands."""
    loaded = set(_modules_after("layer", "--input", "3x32x32", "--filters", "10", "--k",
                                "5", "--pad", "2"))
    assert "convcalc.cli.calc" in loaded
    assert not loaded & {"numpy", "numba", "convcalc.solve", "convcalc.cli.solve",
                         "convcalc.cli.verify", "convcalc.cli.diff", "convcalc.cli.export",
                         "convcalc.cli.zoo", "convcalc.cli.plot", "convcalc.cli.schema",
                         "yaml"}


def test_top_level_help_imports_no_command() -> None:
    """`convcalc --help` lists the commands without importing any of them or the core."""
    loaded = set(_modules_after("--help"))
    assert not {m for m in loaded if m.startswith(("convcalc.cli.calc", "convcalc.analysis",
                                                   "convcalc.layers", "convcalc.results"))}
    assert not {f"convcalc.cli.{name}" for name in ("diff", "solve", "verify")} & loaded


def _run_as_convcalc(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = (f"import sys\nsys.argv = ['convcalc', *{list(args)!r}]\n"
              "from convcalc.cli import main\nmain()\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                          timeout=60)


@pytest.mark.parametrize(("shell", "marker"), [
    ("bash", "complete -o default -F _convcalc_completion convcalc"),
    ("zsh", "#compdef convcalc"),
    ("fish", "complete --command convcalc"),
])
def test_show_completion_prints_each_shells_script(shell: str, marker: str) -> None:
    """--show-completion prints the completion script of bash, zsh and fish."""
    done = _run_as_convcalc("--show-completion", shell,
                            _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout


def test_completion_offers_commands_and_choices() -> None:
    """Tab completion offers the command names and an option's word list."""
    done = _run_as_convcalc(_CONVCALC_COMPLETE="complete_bash", COMP_WORDS="convcalc la",
                            COMP_CWORD="1")
    assert done.stdout.split() == ["layer"]
    done = _run_as_convcalc(_CONVCALC_COMPLETE="complete_bash",
                            COMP_WORDS="convcalc layer --type ", COMP_CWORD="3")
    offered = done.stdout.split()
    assert offered[:4] == ["conv", "conv_transpose", "maxpool", "avgpool"]
    assert {"linear", "layernorm", "channel_shuffle", "upsample"} <= set(offered)
