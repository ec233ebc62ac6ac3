"""Sliding-window geometry shared by convolutions and pooling: resolve, check, warn."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from convcalc.common import dim_names
from convcalc.errors import LayerError
from convcalc.geometry import WindowMap, dropped_inputs, window_output_size
from convcalc.layers.base import Padding, Shape, per_dim, resolve_padding, spatial

__all__ = ["Window", "WindowKind", "dim_names", "resolve_window"]



class WindowKind(StrEnum):
    """The sliding-window layer types that ``convcalc layer`` and ``convcalc solve`` take
    as a ``--type`` (each is also the layer's ``type`` in a network file)."""

    conv = "conv"
    conv_transpose = "conv_transpose"
    maxpool = "maxpool"
    avgpool = "avgpool"


_EDGE_WINDOWS = 100_000
"""How many windows from each edge are checked for reading only padding."""


@dataclass(frozen=True)
class Window:
    """A sliding window resolved against one input shape, per spatial dim.

    Attributes:
        dims: input spatial sizes.
        kernel: kernel sizes.
        stride: strides.
        dilation: dilations.
        pads: (before, after) padding.
        out: output spatial sizes.
        ceil_mode: whether the division rounds up.
    """

    dims: Shape
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    out: Shape
    ceil_mode: bool

    def index_maps(self) -> tuple[WindowMap, ...]:
        """Return the receptive-field step of each spatial dim."""
        return tuple(
            WindowMap(k, s, d, p[0])
            for k, s, d, p in zip(self.kernel, self.stride, self.dilation, self.pads, strict=True)
        )

    def padding_only_windows(self) -> list[str]:
        """Return, per dim, a note of the windows whose every tap lands in the padding.

        Only windows that start before the input or past its end can miss it; a dilated
        window over the input always has a tap on it when the input is at least as long as
        the dilation, and otherwise is checked tap by tap like the rest.
        """
        notes = []
        for name, size, k, s, d, (before, _), out in zip(
            dim_names(len(self.dims)), self.dims, self.kernel, self.stride, self.dilation,
            self.pads, self.out, strict=True,
        ):
            if d <= size:
                # Every window with a tap between its first and last on the input reads it:
                # only those wholly before or wholly after the input can miss, the first and
                # the last few, found by division rather than window by window.
                wholly_before = min(max(-(-(before - (k - 1) * d) // s), 0), out)
                wholly_after = min(max(-(-(size + before) // s), wholly_before), out)
                empty = [*range(min(wholly_before, _EDGE_WINDOWS)),
                         *range(max(wholly_after, out - _EDGE_WINDOWS), out)]
                if empty:
                    listed = ", ".join(str(o) for o in empty)
                    notes.append(f"output {listed} along {name} reads only padding")
                continue
            empty = []
            for o in range(min(out, _EDGE_WINDOWS)):  # windows from the left edge
                if not self._misses(o * s - before, k, d, size):
                    if o * s - before >= 0:
                        break
                    continue
                empty.append(o)
            for o in range(out - 1, max(out - 1 - _EDGE_WINDOWS, -1), -1):  # from the right
                if o in empty:
                    continue
                if not self._misses(o * s - before, k, d, size):
                    if o * s - before + (k - 1) * d <= size - 1:
                        break
                    continue
                empty.append(o)
            if empty:
                listed = ", ".join(str(o) for o in sorted(empty))
                notes.append(f"output {listed} along {name} reads only padding")
        return notes

    @staticmethod
    def _misses(first: int, kernel: int, dilation: int, size: int) -> bool:
        """Return whether no tap ``first + k·dilation`` (k < kernel) lands in [0, size)."""
        step = max(0, -(first // dilation))  # ceil(−first/dilation): the first tap ≥ 0
        return step > kernel - 1 or first + step * dilation > size - 1

    def warnings(self) -> list[str]:
        """Return the warnings where the last input rows (or columns, planes) are never read:
        one for each set of dims whose arithmetic is the same (a square input: one)."""
        if self.ceil_mode:
            return []
        found: dict[tuple[str, str, int], list[str]] = {}
        for name, size, k, s, d, (before, after) in zip(
            dim_names(len(self.dims)), self.dims, self.kernel, self.stride, self.dilation,
            self.pads, strict=True,
        ):
            extent = d * (k - 1) + 1
            # Rows past the last window are news only when more are lost there than in the
            # gaps a stride wider than the window leaves anyway (a 1×1 stride-2 conv reads
            # every other row; its unread last row is one more such gap).
            unread = dropped_inputs(size, k, s, d, before, after) - after
            if unread > max(s - extent, 0):
                value = Fraction(size - extent + before + after, s)
                # The lecture's (W − K + 2P)/S where padding is symmetric.
                padding = (f"2P)/S = ({size} − {extent} + 2·{before})" if before == after
                           else f"P)/S = ({size} − {extent} + {before}+{after})")
                found.setdefault((padding, f"{s} = {float(value):g}", unread), []).append(name)
        messages = []
        for (padding, quotient, unread), names in found.items():
            formula = " = ".join(f"({name} − K + {padding.split(' = ')[0]}" for name in names)
            arithmetic = padding.split(" = ", 1)[1]
            lost = " and ".join(f"the {_slice(name, unread)} along {name}" for name in names)
            verb = "are" if unread > 1 or len(names) > 1 else "is"
            messages.append(f"{formula} = {arithmetic}/{quotient} is not a whole number, so "
                            f"{lost} {verb} never read")
        return messages


SLICE_OF_DIM = {"H": "row", "W": "column", "D": "plane", "L": "position"}
"""What one input index along each dim is called: a row along H, a column along W."""


def slice_of_dim(name: str, count: int = 1) -> str:
    """Return what input indices along the dim ``name`` are called: ``row``, ``columns``."""
    noun = SLICE_OF_DIM.get(name, "position")
    return f"{noun}s" if count > 1 else noun


def _slice(name: str, count: int) -> str:
    """Return ``last input column``, ``last 2 input rows``: the unread slices along ``name``."""
    if count > 1:
        return f"last {count} input {slice_of_dim(name, count)}"
    return f"last input {slice_of_dim(name)}"


def resolve_window(
    shape: Shape,
    layer_type: str,
    kernel: int | tuple[int, ...],
    stride: int | tuple[int, ...],
    dilation: int | tuple[int, ...],
    padding: Padding,
    ceil_mode: bool = False,
) -> Window:
    """Return the window resolved against ``shape``, or raise if it does not fit."""
    dims = spatial(shape, layer_type)
    rank = len(dims)
    kernel_d = per_dim(kernel, rank, "kernel")
    stride_d = per_dim(stride, rank, "stride")
    dilation_d = per_dim(dilation, rank, "dilation")
    pads = resolve_padding(padding, dims, kernel_d, stride_d, dilation_d)
    out = []
    for name, size, k, s, d, (before, after) in zip(
        dim_names(rank), dims, kernel_d, stride_d, dilation_d, pads, strict=True
    ):
        n = window_output_size(size, k, s, d, before, after, ceil_mode)
        if n < 1:
            extent = d * (k - 1) + 1
            dilated = f" (dilated to {extent})" if d > 1 else ""
            raise LayerError(
                f"kernel {k}{dilated} is larger than the padded input along {name}: "
                f"{size} + padding {before}+{after} = {size + before + after}; "
                "use a smaller kernel or more padding",
                field_name="kernel",
            )
        out.append(n)
    return Window(dims, kernel_d, stride_d, dilation_d, pads, tuple(out), ceil_mode)
