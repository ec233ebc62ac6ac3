"""``convcalc export``: where the source goes, what it refuses, and that it stays torch-free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import EXAMPLES

from convcalc import load_network
from convcalc.export import to_pytorch

LENET = str(EXAMPLES / "lenet5.yaml")


def test_prints_the_module_on_stdout(run_cli: Any) -> None:
    """Without -o (or with -o -) the source goes to stdout, exactly what to_pytorch returns."""
    expected = to_pytorch(load_network(LENET).network, source=LENET)
    for args in ((), ("-o", "-")):
        result = run_cli("export", "--to", "pytorch", LENET, *args)
        assert result.exit_code == 0
        assert result.stdout == expected
        assert result.stderr == ""
    assert "('conv1', nn.Conv2d(1, 6, kernel_size=5)),  # 6x28x28" in expected


def test_writes_a_file_and_says_so(run_cli: Any, tmp_path: Path) -> None:
    """-o FILE writes the source there, prints nothing on stdout and 'wrote FILE' on stderr."""
    target = tmp_path / "lenet5.py"
    result = run_cli("export", "--to", "pytorch", LENET, "-o", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == f"wrote {target}\n"
    assert target.read_text() == to_pytorch(load_network(LENET).network, source=LENET)


def test_refuses_to_replace_a_file_without_force(run_cli: Any, tmp_path: Path) -> None:
    """An existing output is kept, with exit 2 and a message naming --force; --force replaces."""
    target = tmp_path / "model.py"
    target.write_text("mine\n")
    result = run_cli("export", "--to", "pytorch", LENET, "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == f"error: {target}: already exists; pass --force to replace it\n"
    assert target.read_text() == "mine\n"
    result = run_cli("export", "--to", "pytorch", LENET, "-o", str(target), "--force")
    assert result.exit_code == 0
    assert "\nNAME = 'lenet5'\n" in target.read_text()


def test_unwritable_outputs_are_input_errors(run_cli: Any, tmp_path: Path) -> None:
    """A directory, or a file in a missing directory, is refused with exit 2 and one line."""
    result = run_cli("export", "--to", "pytorch", LENET, "-o", str(tmp_path))
    assert (result.exit_code, result.stderr) == (
        2, f"error: {tmp_path}: is a directory; give a file name\n")
    missing = tmp_path / "nowhere" / "model.py"
    result = run_cli("export", "--to", "pytorch", LENET, "-o", str(missing))
    assert (result.exit_code, result.stderr) == (
        2, f"error: {missing}: cannot write: no directory '{missing.parent}'\n")


def test_bad_network_is_exit_2_with_its_line(run_cli: Any) -> None:
    """A network whose layers do not fit is reported as `net` reports it: file, line, layer."""
    text = "input: 3x8x8\nlayers:\n  - flatten\n  - {type: conv, filters: 2, kernel: 3}\n"
    result = run_cli("export", "--to", "pytorch", "-", input=text)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: <stdin>:4: layers[1]: layer 'conv1': conv needs "
                                    "an input with a spatial dimension")


def test_target_is_required_and_checked(run_cli: Any) -> None:
    """--to is required and takes only the targets there are."""
    assert run_cli("export", LENET).exit_code == 2
    result = run_cli("export", "--to", "onnx", LENET)
    assert result.exit_code == 2
    assert "'onnx' is not one of pytorch" in result.stderr


def test_export_does_not_import_torch() -> None:
    """Writing the source needs no torch: the command never imports it."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from convcalc.cli import app\n"
        f"result = CliRunner().invoke(app, ['export', '--to', 'pytorch', {LENET!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout == "[]\n"


def test_wrote_line_escapes_control_characters(run_cli: Any, tmp_path: Path) -> None:
    """The 'wrote' line shows an ESC in the output path escaped, never raw to the terminal."""
    target = tmp_path / "a\x1b[2Jb.py"
    result = run_cli("export", "--to", "pytorch", LENET, "-o", str(target))
    assert result.exit_code == 0
    assert result.stderr == f"wrote {tmp_path}/a\\x1b[2Jb.py\n"
    assert target.exists()
