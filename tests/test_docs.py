"""Docs that cannot drift: every ``$ convcalc …`` example in the README and docs/ is run,
and every layer type and key of the format is documented in docs/format.md."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from convcalc.layers import REGISTRY

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
UPDATE = os.environ.get("CONVCALC_UPDATE_GOLDEN") == "1"


def console_examples(path: Path) -> list[tuple[str, str]]:
    """Return (command line, expected output) for each ``$ convcalc`` in console blocks."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", path.read_text(), flags=re.S):
        parts = re.split(r"^\$ ", block, flags=re.M)
        for part in parts[1:]:
            command, _, output = part.partition("\n")
            if command.startswith("convcalc "):  # other commands (benchmarks) are not run
                examples.append((command, output))
    return examples


CASES = [(doc, command, output) for doc in DOCUMENTS if doc.exists()
         for command, output in console_examples(doc)]


@pytest.mark.parametrize(("document", "command", "expected"), CASES,
                         ids=[f"{d.name}: {c[:60]}" for d, c, _ in CASES])
def test_console_example(run_cli: Any, monkeypatch: pytest.MonkeyPatch, document: Path,
                         command: str, expected: str) -> None:
    """The example prints exactly what the document shows (stdout and stderr, in order)."""
    monkeypatch.chdir(ROOT)
    words = shlex.split(command)
    assert words[0] == "convcalc", command
    result = run_cli(*words[1:])
    printed = "\n".join(line.rstrip() for line in result.output.splitlines())
    shown = "\n".join(line.rstrip() for line in expected.rstrip("\n").splitlines())
    if UPDATE and printed != shown:
        document.write_text(document.read_text().replace(expected.rstrip("\n"), printed, 1))
    assert printed == shown


def test_there_are_examples() -> None:
    """The README shows at least the lecture exercise and a whole network."""
    commands = [command for doc, command, _ in CASES if doc.name == "README.md"]
    assert "convcalc layer --input 3x32x32 --filters 10 --k 5 --pad 2" in commands
    assert any(command.startswith("convcalc net examples/") for command in commands)


def test_every_layer_type_and_key_is_documented() -> None:
    """docs/format.md has a section per layer type naming each of its keys."""
    text = (ROOT / "docs" / "format.md").read_text()
    sections = dict(re.findall(r"^### `([a-z_0-9]+)`.*?\n(.*?)(?=^### |\Z)", text,
                               flags=re.S | re.M))
    documented = {name for heading in re.findall(r"^### (.+)$", text, flags=re.M)
                  for name in re.findall(r"`([a-z_0-9]+)`", heading)}
    for type_name, cls in REGISTRY.items():
        assert type_name in documented, type_name
        section = next(body for heading, body in _sections(text) if f"`{type_name}`" in heading)
        for key in cls.model_fields:
            if key not in ("type", "name"):
                assert f"`{key}`" in section, (type_name, key)
    assert sections


def _sections(text: str) -> list[tuple[str, str]]:
    """Return (heading, body) for each ``###`` section of a Markdown text."""
    return re.findall(r"^### (.+?)\n(.*?)(?=^#{2,3} |\Z)", text, flags=re.S | re.M)
