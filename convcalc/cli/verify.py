"""``convcalc verify``: run the network on real arrays and confirm every number.

numpy and numba are imported inside the command only: the other commands never pay for
them.
"""

from __future__ import annotations

import re
import sys
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated

import typer

from convcalc.cli.app import (
    BatchOption,
    OutputFormat,
    app,
    console,
    emit,
    report_of,
    warn,
)
from convcalc.cli.params import whole_numbers
from convcalc.cli.progress import lazy_progress
from convcalc.cli.sources import (
    AllowUnknownOption,
    InputOption,
    NetworkArgument,
    input_noted,
    open_network,
)
from convcalc.common import shape_text
from convcalc.errors import InputError, LayerError, MemoryLimitExceeded, VerificationFailed
from convcalc.render.numbers import human_bytes
from convcalc.results import DType, Report
from convcalc.spec import Network
from convcalc.textsafe import echo

if TYPE_CHECKING:
    from convcalc.explain import Explanation

__all__ = ["MAX_MEMORY", "MAX_SEED", "VerifyFormat", "parse_memory", "run_verify", "verify",
           "verify_layer"]

DEFAULT_MAX_MEMORY = "2G"

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class VerifyFormat(StrEnum):
    """How verify prints its results."""

    table = "table"
    json = "json"


MAX_SEED = 2**32 - 1
MAX_MEMORY = 1024**5
"""The largest --max-memory, 1 PiB (1024T): a bound on the bound, so the number is sane."""

SeedOption = Annotated[int, typer.Option(
    "--seed", parser=whole_numbers(0, MAX_SEED), metavar="INTEGER",
    help=f"Seed of the random inputs and weights (0 to {MAX_SEED:,}).")]
MaxMemoryOption = Annotated[str, typer.Option(
    "--max-memory", help="Refuse to run when the arrays would need more: bytes, or 512M, "
    "2G, 1.5GiB (powers of 1024).")]


def parse_memory(text: str) -> int:
    """Return a byte count from ``2G``, ``512M``, ``1.5GiB`` or ``1000000`` (K/M/G/T: 1024ⁿ).

    Raises InputError for anything else, for a size below one byte, or above MAX_MEMORY.
    """
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([kmgt]?)(?:i?b)?\s*", text,
                         re.IGNORECASE | re.ASCII)
    if match is None:
        raise InputError(f"--max-memory: {echo(text)} is not a size; write bytes or a number "
                         "with K, M, G or T (powers of 1024): 512M, 2G, 1.5GiB")
    number = match.group(1)
    if len(number.lstrip("0").partition(".")[0]) > 20:  # no float, no huge int to build
        raise InputError(f"--max-memory: {echo(text)} is more than the largest allowed, 1024T "
                         "(1 PiB)")
    value = int(Fraction(number) * _UNITS[match.group(2).lower()])
    if value < 1:
        raise InputError(f"--max-memory: {echo(text)} is less than one byte")
    if value > MAX_MEMORY:
        raise InputError(f"--max-memory: {echo(text)} is more than the largest allowed, 1024T "
                         "(1 PiB)")
    return value


def _memory_message(error: MemoryLimitExceeded, report: Report) -> str:
    shape = shape_text(report.input_shape)
    if error.probe:
        return (f"the receptive-field probe would need about {human_bytes(error.needed)} for "
                f"one position of the {shape} input, more than --max-memory "
                f"{human_bytes(error.limit)}: give the network a smaller input, or raise "
                "--max-memory")
    return (f"verify's arrays would need about {human_bytes(error.needed)} at once, more than "
            f"--max-memory {human_bytes(error.limit)}: lower --batch (now {report.batch}), give "
            f"the network a smaller input (now {shape}), or raise --max-memory")


def run_verify(network: Network, report: Report, seed: int, max_memory: int,
               output: VerifyFormat) -> None:
    """Verify ``report`` against ``network`` on arrays, print the results, and raise
    VerificationFailed (exit 1) when a check disagrees."""
    from convcalc.reference.verify import verify as verify_on_arrays  # numpy and numba
    from convcalc.render.verify import mismatch_lines, verification_json, verification_table

    with lazy_progress("verifying") as progress:
        try:
            result = verify_on_arrays(network, report, seed=seed, max_memory=max_memory,
                                      progress=progress)
        except MemoryLimitExceeded as error:
            raise InputError(_memory_message(error, report)) from None
    if result.compile_seconds is not None:
        print(f"note: compiled the kernels in {result.compile_seconds:.1f} s (cached for next "
              "time)", file=sys.stderr)
    if output is VerifyFormat.json:
        sys.stdout.write(verification_json(result) + "\n")
    else:
        console().print(verification_table(result))
    if not result.ok:
        for line in mismatch_lines(result):
            print(f"mismatch: {line}", file=sys.stderr)
        failed = sum(not check.ok for check in result.layers)
        rows = len(result.layers)
        raise VerificationFailed(f"{failed} of {rows} rows disagree with the calculator"
                                 if rows > 1 else "the row disagrees with the calculator")


def verify_layer(network: Network, report: Report, output: OutputFormat,
                 explanations: tuple[Explanation, ...] | None) -> None:
    """``layer --verify``: the layer's card then its verification (table), or verify's JSON."""
    if output is OutputFormat.table:
        emit(report, output, card=True, explanations=explanations)
        console().print()
        run_verify(network, report, 0, parse_memory(DEFAULT_MAX_MEMORY), VerifyFormat.table)
        return
    if output is not OutputFormat.json or explanations is not None:
        raise InputError("--verify prints the layer card and its verification (--format "
                         "table) or verify's JSON (--format json, without --explain)")
    warn(report)
    run_verify(network, report, 0, parse_memory(DEFAULT_MAX_MEMORY), VerifyFormat.json)


@app.command()
def verify(
    file: NetworkArgument,
    input_shape: InputOption = None,
    batch: BatchOption = 1,
    seed: SeedOption = 0,
    max_memory: MaxMemoryOption = DEFAULT_MAX_MEMORY,
    output: Annotated[VerifyFormat, typer.Option("--format", help="Output format.")]
    = VerifyFormat.table,
    allow_unknown: AllowUnknownOption = False,
) -> None:
    """Run the network on real arrays with reference kernels and confirm, layer by layer,
    the shapes, parameters, MACs and receptive fields the calculator prints.

    Exit code 0 when every number agrees, 1 on a mismatch, 2 on invalid input.

    Example: convcalc verify examples/lenet5.yaml
    """
    limit = parse_memory(max_memory)
    source = open_network(file, input_shape, allow_unknown=allow_unknown)
    report = report_of(source, batch, DType.float32, False)
    with input_noted(source):
        warn(report)
        try:
            run_verify(source.network, report, seed, limit, output)
        except LayerError as error:  # a row verify cannot run (unknown)
            raise source.annotate(error) from None
