"""``convcalc plot``: the file it writes, what it refuses, and the message without matplotlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES

from convcalc.cli.plot import MISSING_MATPLOTLIB

LENET = str(EXAMPLES / "lenet5.yaml")


def test_writes_a_png(run_cli: Any, tmp_path: Path) -> None:
    """-o out.png writes a PNG, says so on stderr and prints nothing on stdout."""
    pytest.importorskip("matplotlib")
    target = tmp_path / "lenet5.png"
    result = run_cli("plot", LENET, "-o", str(target))
    assert result.exit_code == 0
    assert (result.stdout, result.stderr) == ("", f"wrote {target}\n")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_refuses_to_replace_a_file_without_force(run_cli: Any, tmp_path: Path) -> None:
    """An existing figure is kept (exit 2, the message names --force); --force replaces it."""
    pytest.importorskip("matplotlib")
    target = tmp_path / "figure.svg"
    target.write_text("mine")
    result = run_cli("plot", LENET, "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == f"error: {target}: already exists; pass --force to replace it\n"
    assert target.read_text() == "mine"
    assert run_cli("plot", LENET, "-o", str(target), "--force").exit_code == 0
    assert target.read_text(encoding="utf-8").startswith("<?xml")


def test_suffix_picks_the_format(run_cli: Any, tmp_path: Path) -> None:
    """An output named anything but .png, .svg or .pdf is refused before drawing."""
    target = tmp_path / "figure.jpg"
    result = run_cli("plot", LENET, "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == (f"error: {target}: name the figure .png, .svg or .pdf; its "
                             "suffix picks the format\n")
    assert not target.exists()


def test_output_is_required(run_cli: Any) -> None:
    """Without -o there is nowhere to draw: a usage error, exit 2."""
    result = run_cli("plot", LENET)
    assert result.exit_code == 2
    assert result.stderr == ("error: missing option --output (see 'convcalc plot "
                             "--help')\n")


def test_missing_matplotlib_says_how_to_install_it(run_cli: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib: one line on stderr naming pip install 'convcalc[plot]', exit 2."""
    for name in [m for m in sys.modules if m.partition(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "convcalc.render.plot", raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    target = tmp_path / "figure.png"
    result = run_cli("plot", LENET, "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == f"error: {MISSING_MATPLOTLIB}\n"
    assert "pip install 'convcalc[plot]'" in MISSING_MATPLOTLIB
    assert not target.exists()


def test_bad_network_is_reported_like_net(run_cli: Any, tmp_path: Path) -> None:
    """A network that does not fit is exit 2 with its file and line; no figure is written."""
    pytest.importorskip("matplotlib")
    text = "input: 3x8x8\nlayers:\n  - {type: conv, filters: 2, kernel: 9}\n"
    target = tmp_path / "figure.png"
    result = run_cli("plot", "-", "-o", str(target), input=text)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: <stdin>:3: layers[0]: layer 'conv1': kernel 9 is larger than "
        "the padded input along H: 8 + padding 0+0 = 8; use a smaller kernel or more padding\n")
    assert not target.exists()


def test_other_commands_do_not_import_matplotlib() -> None:
    """matplotlib is imported by plot alone: loading the CLI and running net leave it out."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from convcalc.cli import app\n"
        f"result = CliRunner().invoke(app, ['net', {LENET!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print([m for m in sys.modules if m.partition('.')[0] == 'matplotlib'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout == "[]\n"
