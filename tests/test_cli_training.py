"""``--training`` and ``--optimizer`` on the command line: what they add, and their errors."""

from __future__ import annotations

import json
from typing import Any

from conftest import EXAMPLES

LENET = str(EXAMPLES / "lenet5.yaml")


def test_json_has_the_training_keys(run_cli: Any) -> None:
    """With --training every row and the totals carry the documented training keys; the
    peak is the sum of its parts."""
    result = run_cli("net", LENET, "--training", "--optimizer", "adam", "--batch", "4",
                     "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert all(set(row["training"]) == {"backward_macs", "backward_flops", "saved_bytes"}
               for row in document["layers"])
    training = document["totals"]["training"]
    assert list(training) == [
        "optimizer", "dtype", "backward_macs", "backward_flops", "saved_bytes", "param_bytes",
        "buffer_bytes", "grad_bytes", "optimizer_bytes", "master_bytes", "transient_bytes",
        "transient_layer", "peak_bytes"]
    params = document["totals"]["params"]
    assert (training["optimizer"], training["param_bytes"], training["optimizer_bytes"]) == (
        "adam", 4 * params, 2 * 4 * params)
    assert training["peak_bytes"] == sum(training[key] for key in (
        "param_bytes", "buffer_bytes", "grad_bytes", "optimizer_bytes", "master_bytes",
        "saved_bytes", "transient_bytes"))
    assert sum(row["training"]["saved_bytes"] for row in document["layers"]
               if not row["container"]) == training["saved_bytes"]


def test_table_adds_columns_and_the_peak(run_cli: Any) -> None:
    """The table gains the three training columns and the summary the peak's lines."""
    result = run_cli("net", LENET, "--training", "--optimizer", "momentum")
    header = next(line for line in result.stdout.splitlines() if line.startswith("Layer"))
    assert header.split()[-5:] == ["Bwd", "MACs", "Bwd", "FLOPs", "Saved"]
    labels = [line.strip().split("  ")[0] for line in result.stdout.splitlines()]
    for label in ("Training peak (float32, batch 1)", "parameters", "buffers", "gradients",
                  "optimizer state", "saved activations", "largest transient"):
        assert label in labels


def test_csv_adds_the_training_columns(run_cli: Any) -> None:
    """CSV gains backward_macs, backward_flops and saved_bytes after global_context."""
    result = run_cli("net", LENET, "--training", "--format", "csv")
    assert result.stdout.splitlines()[0].endswith(
        "aux,global_context,backward_macs,backward_flops,saved_bytes")


def test_mixed_precision_master_weights(run_cli: Any) -> None:
    """--dtype float16 counts the float32 master weights beside the float16 parameters."""
    result = run_cli("layer", "-i", "3x32x32", "-f", "10", "-k", "5", "--training",
                     "--dtype", "float16", "--format", "json")
    training = json.loads(result.stdout)["totals"]["training"]
    assert (training["param_bytes"], training["master_bytes"]) == (760 * 2, 760 * 4)


def test_optimizer_without_training_is_one_line(run_cli: Any) -> None:
    """--optimizer alone says to add --training, exit 2."""
    result = run_cli("net", LENET, "--optimizer", "adam")
    assert result.exit_code == 2
    assert result.stderr == ("error: --optimizer counts the optimizer state of a training "
                             "step; add --training\n")


def test_int8_training_is_one_line(run_cli: Any) -> None:
    """Training in int8 is refused, naming the dtype, exit 2."""
    result = run_cli("net", LENET, "--training", "--dtype", "int8")
    assert result.exit_code == 2
    assert result.stderr == ("error: --training needs a floating-point --dtype (float32, "
                             "float16, bfloat16 or float64), got int8\n")
    assert result.stdout == ""


def test_training_columns_need_training(run_cli: Any) -> None:
    """--columns saved without --training would show empty cells: it is refused."""
    result = run_cli("net", LENET, "--columns", "macs,saved")
    assert result.exit_code == 2
    assert result.stderr == ("error: --columns saved counts a training step; add "
                             "--training\n")


def test_diff_training_json(run_cli: Any) -> None:
    """diff --training compares every training total; the same network changes nothing."""
    result = run_cli("diff", LENET, LENET, "--training", "--format", "json")
    training = json.loads(result.stdout)["training"]
    assert next(iter(training)) == "peak_bytes"
    assert all(change["change"] == 0 for change in training.values())


def test_zoo_training_columns(run_cli: Any) -> None:
    """zoo --training adds the saved activations and the peak; --batch needs --training."""
    result = run_cli("zoo", "--family", "squeezenet", "--training", "--format", "csv")
    assert result.stdout.splitlines()[0].endswith("macs_agree,saved_bytes,peak_bytes")
    refused = run_cli("zoo", "--batch", "8")
    assert refused.exit_code == 2
    assert refused.stderr == ("error: --batch is for the training step's columns here; add "
                              "--training\n")
