"""``convcalc verify`` and ``layer --verify``: what they print, where, and with which exit code."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT

from convcalc.cli import verify as verify_cli
from convcalc.errors import InputError
from convcalc.layers.base import Cost, Step
from convcalc.layers.conv import Conv

COMPILE_NOTE = re.compile(r"^note: compiled the kernels in \d+\.\d s \(cached for next time\)\n",
                          re.M)


def stderr_of(result: Any) -> str:
    """Return stderr without the note a cold kernel cache adds on a first run."""
    return COMPILE_NOTE.sub("", result.stderr)


def test_verify_prints_a_row_per_layer_and_exits_0(run_cli: Any) -> None:
    """Every row of LeNet-5 agrees: a ✓ per check, the totals in the summary, exit 0."""
    result = run_cli("verify", str(EXAMPLES / "lenet5.yaml"))
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "lenet5: verified on arrays, input 1×32×32, batch 1, seed 0"
    assert lines[2] == ("Layer    Type     Output shape    Params       MACs  On padding  "
                        "Receptive field  Finite")
    assert lines[4] == ("conv1    conv     1×6×28×28 ✓      156 ✓  117,600 ✓           0      "
                        "5×5 s1 p0 ✓       ✓")
    assert lines[10] == ("flatten  flatten  1×400 ✓            0 ✓        0 ✓                "
                         "     global ✓       ✓")
    assert lines[-2] == ("All 12 rows agree with the calculator: output shapes, parameters, "
                         "416,520 MACs (0 on padding), receptive fields (6 measured, 1 global), "
                         "no NaN or infinity.")
    assert lines[-1] == "Arrays: about 290 KiB at most (limit 2.00 GiB)."
    assert stderr_of(result) == ""


def test_verify_json(run_cli: Any) -> None:
    """--format json prints the verification document: every check's expected and measured."""
    result = run_cli("verify", str(EXAMPLES / "resnet18.yaml"), "--format", "json", "--batch",
                     "2", "--seed", "7")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert (document["ok"], document["complete"], document["batch"], document["seed"]) == (
        True, True, 2, 7)
    assert document["mismatches"] == []
    first = document["layers"][0]
    assert first["name"] == "conv1"
    assert first["shape"] == {"expected": [2, 64, 112, 112], "measured": [2, 64, 112, 112],
                              "ok": True}
    assert first["params"]["measured"] == {"trainable": 9408, "non_trainable": 0}
    # 64·112·112·3·7·7 MACs per image
    assert first["macs"]["measured"] == 2 * 118_013_952
    field = first["receptive_field"]
    assert field["kind"] == "field"
    assert field["expected"] == {"size": [7, 7], "stride": [2, 2], "padding": [3, 3]}
    assert [(a["size"], a["stride"], a["padding"]) for a in field["measured"]] == [
        (7, 2, 3), (7, 2, 3)]
    assert document["layers"][1]["params"]["measured"] == {"trainable": 128,
                                                           "non_trainable": 128}
    assert stderr_of(result) == ""


def test_a_wrong_rule_exits_1_naming_the_layer_and_check(
        run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A conv rule that counts one MAC too many: ✗ on those rows, each on stderr, exit 1."""
    real_apply = Conv.apply

    def apply_one_mac_more(self: Conv, shape: tuple[int, ...]) -> Step:
        step = real_apply(self, shape)
        return step._replace(cost=step.cost._replace(macs=step.cost.macs + 1))

    monkeypatch.setattr(Conv, "apply", apply_one_mac_more)
    result = run_cli("verify", str(EXAMPLES / "lenet5.yaml"))
    assert result.exit_code == 1
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[4] == ("conv1    conv     1×6×28×28 ✓      156 ✓  117,600 ✗           0      "
                        "5×5 s1 p0 ✓       ✓")
    assert "2 of 12 rows disagree with the calculator:" in lines
    assert stderr_of(result) == (
        "mismatch: layer 'conv1', macs: expected 117,601; measured 117,600\n"
        "mismatch: layer 'conv2', macs: expected 240,001; measured 240,000\n"
        "error: 2 of 12 rows disagree with the calculator\n")


def test_a_wrong_rule_fails_the_json_too(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --format json the document says which check failed, and the exit code is 1."""
    real_apply = Conv.apply

    def apply_no_bias(self: Conv, shape: tuple[int, ...]) -> Step:
        step = real_apply(self, shape)
        return step._replace(cost=Cost(params=step.cost.params - self.filters,
                                       macs=step.cost.macs))

    monkeypatch.setattr(Conv, "apply", apply_no_bias)
    result = run_cli("verify", str(EXAMPLES / "lenet5.yaml"), "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert not document["ok"]
    assert [(m["layer"], m["check"], m["expected"], m["measured"])
            for m in document["mismatches"]] == [
        ("conv1", "params", "150 trainable + 0 non-trainable", "156 trainable + 0 non-trainable"),
        ("conv2", "params", "2,400 trainable + 0 non-trainable",
         "2,416 trainable + 0 non-trainable")]


def test_memory_guard_exits_2_saying_what_to_change(run_cli: Any) -> None:
    """VGG-16 at batch 64 needs more than 2 GiB: refused before allocating, exit 2."""
    result = run_cli("verify", str(EXAMPLES / "vgg16.yaml"), "--batch", "64")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: verify's arrays would need about 3.13 GiB at once, more than --max-memory "
        "2.00 GiB: lower --batch (now 64), give the network a smaller input (now 3×224×224), "
        "or raise --max-memory\n")


def test_memory_guard_for_the_probe_exits_2(run_cli: Any, tmp_path: Any) -> None:
    """A probe of a long input above --max-memory is refused, naming the input."""
    path = tmp_path / "long.yaml"
    path.write_text("input: 1x20000\nlayers:\n"
                    + "  - {type: conv, filters: 1, kernel: 3, padding: 1}\n" * 3)
    result = run_cli("verify", str(path), "--max-memory", "3000000")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: the receptive-field probe would need about 7.71 MiB for one position of the "
        "1×20000 input, more than --max-memory 2.86 MiB: give the network a smaller "
        "input, or raise --max-memory\n")


@pytest.mark.parametrize(("text", "size"), [
    ("512M", 512 * 1024**2), ("2G", 2 * 1024**3), ("1.5GiB", 3 * 1024**3 // 2),
    ("1000000", 1_000_000), ("64k", 65_536), ("3 MB", 3 * 1024**2), ("1t", 1024**4),
])
def test_max_memory_sizes(text: str, size: int) -> None:
    """--max-memory takes bytes or K, M, G, T (powers of 1024), with or without iB or B."""
    assert verify_cli.parse_memory(text) == size


def test_max_memory_that_is_not_a_size(run_cli: Any) -> None:
    """An unreadable or zero --max-memory is an input error, exit 2, before any work."""
    result = run_cli("verify", str(EXAMPLES / "lenet5.yaml"), "--max-memory", "2X")
    assert result.exit_code == 2
    assert result.stderr == ("error: --max-memory: '2X' is not a size; write bytes or a number "
                             "with K, M, G or T (powers of 1024): 512M, 2G, 1.5GiB\n")
    with pytest.raises(InputError, match="'0' is less than one byte"):
        verify_cli.parse_memory("0")


def test_invalid_files_exit_2(run_cli: Any, tmp_path: Any) -> None:
    """A missing file or a network whose layers do not fit is exit 2, one line, no run."""
    missing = run_cli("verify", str(tmp_path / "x.yaml"))
    assert missing.exit_code == 2
    assert missing.stderr == f"error: {tmp_path / 'x.yaml'}: no such file\n"
    path = tmp_path / "bad.yaml"
    path.write_text("input: 3x4x4\nlayers:\n  - {type: conv, filters: 2, kernel: 5}\n")
    bad = run_cli("verify", str(path))
    assert bad.exit_code == 2
    assert bad.stderr == (f"error: {path}:3: layers[0]: layer 'conv1': kernel 5 is larger than "
                          "the padded input along H: 4 + padding 0+0 = 4; use a smaller kernel "
                          "or more padding\n")


def test_verify_prints_the_calculators_warnings(run_cli: Any, tmp_path: Any) -> None:
    """Rows the layers never read are warned about on stderr, as net does; still exit 0."""
    path = tmp_path / "drop.yaml"
    path.write_text("input: 1x10\nlayers:\n  - {type: conv, filters: 1, kernel: 3, "
                    "stride: 2}\n")
    result = run_cli("verify", str(path))
    assert result.exit_code == 0
    assert stderr_of(result).startswith("warning: layer 'conv1': ")


def test_layer_verify_prints_the_card_then_the_check(run_cli: Any) -> None:
    """``layer --verify``: the one-layer card, then its verification row."""
    result = run_cli("layer", "--input", "3x32x32", "--filters", "10", "--k", "5", "--pad", "2",
                     "--verify")
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "Layer                    conv: 3×32×32 → 10×32×32"
    assert ("conv1  conv  1×10×32×32 ✓   760 ✓  768,000 ✓      56,520      5×5 s1 p2 ✓       ✓"
            in lines)
    assert lines[-2].startswith("The row agrees with the calculator: output shapes, parameters, "
                                "768,000 MACs (56,520 on padding)")


def test_layer_verify_json_and_other_formats(run_cli: Any) -> None:
    """``layer --verify --format json`` is verify's document; CSV cannot hold it (exit 2)."""
    args = ["layer", "-i", "3x7x7", "-t", "maxpool", "-k", "2", "-p", "1", "--ceil-mode",
            "--verify"]
    result = run_cli(*args, "--format", "json")
    assert result.exit_code == 0
    (row,) = json.loads(result.stdout)["layers"]
    # ceil((7 + 2 − 2)/2) + 1 = 5, but the fifth window would start in the right padding
    assert row["shape"]["measured"] == [1, 3, 4, 4]
    csv = run_cli(*args, "--format", "csv")
    assert csv.exit_code == 2
    assert csv.stderr == ("error: --verify prints the layer card and its verification "
                          "(--format table) or verify's JSON (--format json, without "
                          "--explain)\n")


def test_first_run_compile_time_is_a_note(run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the kernels had to compile, stderr says for how long; stdout is unchanged."""
    from convcalc.reference import verify as core

    real_verify = core.verify

    def cold_verify(*args: Any, **kwargs: Any) -> Any:
        return real_verify(*args, **kwargs).model_copy(update={"compile_seconds": 12.34})

    monkeypatch.setattr(core, "verify", cold_verify)
    result = run_cli("verify", str(EXAMPLES / "lenet5.yaml"))
    assert result.exit_code == 0
    assert result.stderr == "note: compiled the kernels in 12.3 s (cached for next time)\n"


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off a terminal there is no progress callback; on one, the bar waits a second."""
    from convcalc.cli import progress as progress_module

    with progress_module.lazy_progress("verifying") as progress:
        assert progress is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress_module.lazy_progress("verifying") as progress:
        assert progress is not None
        progress(1, 10)
        assert progress.bar is None  # not a second yet
        monkeypatch.setattr(progress_module, "PROGRESS_AFTER", 0.0)
        progress(2, 10)
        assert progress.bar is not None and progress.bar.tasks[0].completed == 2


def test_docs_example_is_what_verify_prints(run_cli: Any, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """docs/verify.md's example run is exactly what ``convcalc verify`` prints."""
    text = (ROOT / "docs" / "verify.md").read_text()
    block = re.search(r"```text\n\$ (convcalc verify [^\n]*)\n(.*?)```", text, re.S)
    assert block is not None
    monkeypatch.chdir(ROOT)
    command, shown = block.group(1), block.group(2)
    result = run_cli(*command.split()[1:])
    assert result.exit_code == 0
    printed = "\n".join(line.rstrip() for line in result.stdout.splitlines())
    assert printed == shown.rstrip("\n")
