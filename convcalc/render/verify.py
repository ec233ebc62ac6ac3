"""`verify`'s results as text: one row per checked layer, the mismatches spelled out."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text

from convcalc.common import shape_text
from convcalc.reference.results import FieldCheck, LayerCheck, ParamCount, Verification
from convcalc.render.cells import aligned, terminal_text
from convcalc.render.numbers import exact, human_bytes, number_text

__all__ = ["mismatch_lines", "verification_json", "verification_table"]

PASS = "✓"
FAIL = "✗"


def verification_json(result: Verification) -> str:
    """Return the verification as the documented JSON (docs/verify.md)."""
    return result.model_dump_json(indent=2)


def _mark(ok: bool) -> str:
    return PASS if ok else FAIL


def _number(value: int | float | None) -> str:
    return "?" if value is None else number_text(value)


def _field_text(size: Sequence[int | None], stride: Sequence[int | float | None],
                padding: Sequence[int | None]) -> str:
    """Return ``7×7 s2 p3``; a stride or padding equal in every dim is written once."""
    def dims(values: Sequence[int | float | None]) -> str:
        texts = [_number(v) for v in values]
        return texts[0] if len(set(texts)) == 1 else "×".join(texts)

    return f"{'×'.join(_number(s) for s in size)} s{dims(stride)} p{dims(padding)}"


def _params_text(count: ParamCount) -> str:
    if count.non_trainable:
        return f"{exact(count.trainable)} + {exact(count.non_trainable)}"
    return exact(count.trainable)


def field_cell(check: FieldCheck) -> str:
    """Return the receptive-field cell: what was measured, and whether it agrees.

    ``whole input``: every unit sees every input position; ``*``: no unit's field lies
    inside the input, so the calculator's field was checked unit by unit, clipped.
    """
    if check.kind in ("after_global", "none"):
        return "—" if check.ok else f"— {FAIL}"
    if check.kind == "not_run":
        return "not run"
    if check.kind == "skipped":
        return "—"
    if check.kind == "global":
        return f"global {_mark(check.ok)}"
    axes = check.measured or ()
    if check.kind == "untracked":
        text = "untracked"
    elif all(axis.covers_whole_input for axis in axes):
        text = "whole input"
    elif all(axis.stride is not None for axis in axes):
        text = _field_text([a.size for a in axes], [a.stride for a in axes],
                           [a.padding for a in axes])
    elif check.expected is not None:
        expected = check.expected
        text = _field_text(expected.size, expected.stride, expected.padding) + " *"
    else:
        text = "?"
    return f"{text} {_mark(check.ok)}"


Column = tuple[str, str, Callable[[LayerCheck], str]]
"""A column: header, alignment ('<' or '>'), the cell of a checked row."""

COLUMNS: list[Column] = [
    ("Layer", "<", lambda c: terminal_text(c.name)),
    ("Type", "<", lambda c: c.type),
    ("Output shape", "<", lambda c: f"{shape_text(c.shape.measured)} {_mark(c.shape.ok)}"
     if c.shape else FAIL),
    ("Params", ">", lambda c: f"{_params_text(c.params.measured)} {_mark(c.params.ok)}"
     if c.params else ""),
    ("MACs", ">", lambda c: f"{exact(c.macs.measured)} {_mark(c.macs.ok)}" if c.macs else ""),
    ("On padding", ">", lambda c: exact(c.macs.padded_taps)
     if c.macs and c.macs.padded_taps is not None else ""),
    ("Receptive field", ">", lambda c: field_cell(c.receptive_field)),
    ("Finite", ">", lambda c: _mark(c.finite.ok) if c.finite else ""),
]


def mismatch_lines(result: Verification) -> list[str]:
    """Return one line per failed check: layer, check, expected and measured."""
    return [f"layer '{terminal_text(m.layer)}', {m.check.replace('_', ' ')}: expected "
            f"{m.expected}; measured {m.measured}" for m in result.mismatches]


def _summary(result: Verification) -> str:
    checked = len(result.layers)
    if result.ok:
        fields = [c.receptive_field for c in result.layers]
        measured = sum(f.kind == "field" for f in fields)
        mixed = sum(f.kind == "global" for f in fields)
        macs = sum(c.macs.measured for c in result.layers if c.macs)
        padded = sum(c.macs.padded_taps or 0 for c in result.layers if c.macs)
        clipped = any(field_cell(f).endswith(f"* {PASS}") for f in fields)
        rows = f"All {checked} rows agree" if checked > 1 else "The row agrees"
        lines = [
            f"{rows} with the calculator: output shapes, parameters, {exact(macs)} MACs "
            f"({exact(padded)} on padding), receptive fields ({measured} measured, {mixed} "
            "global), no NaN or infinity.",
        ]
        if clipped:
            lines.append("* Too few units lie inside the input to read size, stride and "
                         "padding off the arrays: each unit was checked against the printed "
                         "field clipped to the input.")
    else:
        failed = sum(not c.ok for c in result.layers)
        lines = [f"{failed} of {checked} rows disagree with the calculator:"
                 if checked > 1 else "The row disagrees with the calculator:"]
        lines += [f"  {line}" for line in mismatch_lines(result)]
        if not result.complete:
            lines.append("Verify stopped at the layer the kernel refused.")
    lines.append(f"Arrays: about {human_bytes(result.memory_bytes)} at most "
                 f"(limit {human_bytes(result.memory_limit)}).")
    return "\n".join(lines)


def verification_table(result: Verification) -> Text:
    """Return the table of checked rows with a ✓ or ✗ per check, and the summary below."""
    cells = [[cell(check) for _, _, cell in COLUMNS] for check in result.layers]
    header, rule, rows = aligned([(name, align) for name, align, _ in COLUMNS], cells)
    title = terminal_text(result.name or "network")
    text = Text(f"{title}: verified on arrays, input {shape_text(result.input_shape)}, "
                f"batch {result.batch}, seed {result.seed}\n\n", style="bold")
    text.append(header + "\n", style="bold")
    text.append(rule + "\n")
    for check, row in zip(result.layers, rows, strict=True):
        text.append(row + "\n", style=None if check.ok else "red")
    text.append(rule + "\n")
    text.append(_summary(result))
    return text
