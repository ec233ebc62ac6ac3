"""What the windowed ops share: their options per dim, window placement and zero padding.

A layer's options are resolved here from its own fields, ``same`` padding from its
definition (output ``ceil(W/S)``, the smaller half of the padding before), not with the
calculator's helpers: the kernels then place their windows on that padding, and the
output size they find is compared with the calculator's. So nothing here imports the
rules under test (`convcalc.geometry`, `convcalc.layers.window`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

__all__ = ["WindowOptions", "only", "padded", "place_windows", "spatial_per_dim",
           "taps_on_input", "window_options"]

T = TypeVar("T")


def spatial_per_dim(value: int | Sequence[int], rank: int) -> tuple[int, ...]:
    """Return a layer field as one int per spatial dimension (an int is repeated)."""
    return (value,) * rank if isinstance(value, int) else tuple(value)


def only(values: Sequence[T], axis: int, fill: T) -> tuple[T, ...]:
    """Return ``values`` with every dim but ``axis`` set to ``fill`` (the probe's form)."""
    return tuple(value if dim == axis else fill for dim, value in enumerate(values))


@dataclass(frozen=True)
class WindowOptions:
    """A windowed layer's options, one entry per spatial dimension.

    Attributes:
        kernel: window sizes.
        stride: steps between windows.
        dilation: spacing between taps.
        pad_before: zeros before the input (a transposed conv: what it crops).
        pad_after: zeros after the input (a transposed conv: what it crops).
    """

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad_before: tuple[int, ...]
    pad_after: tuple[int, ...]


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Return ``same`` padding (before, after): by definition the output is ``ceil(W/S)``."""
    wanted = -(-size // stride)
    reach = (wanted - 1) * stride + dilation * (kernel - 1) + 1
    total = max(reach - size, 0)
    return total // 2, total - total // 2


def _pads(padding: object, dims: tuple[int, ...], kernel: tuple[int, ...],
          stride: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    rank = len(dims)
    if padding == "valid":
        return ((0, 0),) * rank
    if padding == "same":
        return tuple(_same_pads(*args) for args in zip(dims, kernel, stride, dilation,
                                                       strict=True))
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    assert isinstance(padding, tuple)
    if padding and isinstance(padding[0], tuple):
        return tuple((int(before), int(after)) for before, after in padding)
    return tuple((int(p), int(p)) for p in padding)


def window_options(layer: Any, dims: tuple[int, ...], *, default_stride: bool = False,
                   dilated: bool = True, crops: bool = False,
                   padding_only: bool = False) -> WindowOptions:
    """Return a windowed layer's options per spatial dim for an input of size ``dims``.

    Read from the layer's fields ``kernel``, ``stride``, ``dilation`` and ``padding``:
    ``default_stride`` (pools) makes a missing stride the kernel; without ``dilated``
    (average pooling) the dilation is 1; with ``crops`` (a transposed conv) ``padding``
    is what the result loses on both sides; with ``padding_only`` (pad) the window is 1.
    """
    rank = len(dims)
    ones = (1,) * rank
    if padding_only:
        sides = _pads(layer.padding, dims, ones, ones, ones)
        return WindowOptions(ones, ones, ones, tuple(b for b, _ in sides),
                             tuple(a for _, a in sides))
    kernel = spatial_per_dim(layer.kernel, rank)
    if default_stride and layer.stride is None:
        stride = kernel
    else:
        stride = spatial_per_dim(layer.stride, rank)
    dilation = spatial_per_dim(layer.dilation, rank) if dilated else ones
    if crops:
        crop = spatial_per_dim(layer.padding, rank)
        return WindowOptions(kernel, stride, dilation, crop, crop)
    sides = _pads(layer.padding, dims, kernel, stride, dilation)
    return WindowOptions(kernel, stride, dilation, tuple(b for b, _ in sides),
                         tuple(a for _, a in sides))


def place_windows(length: int, pad_before: int, pad_after: int, span: int, stride: int,
                  ceil_mode: bool) -> int:
    """Return how many windows of ``span`` elements are placed along one padded dimension.

    Windows start at 0, S, 2·S, … of the padded input and are kept while they fit in it.
    With ``ceil_mode`` one more, partial window is kept when the last full one left
    elements uncovered, unless it would start in the right padding (PyTorch's rule); and
    when none fits, one partial window if the span overhangs by less than a stride.
    """
    padded_length = pad_before + length + pad_after
    # the starts of the windows that fit, as a range: placed without a loop or an array
    starts = range(0, padded_length - span + 1, stride)
    if not starts:
        # No window fits; in ceil mode PyTorch still places one partial window when the
        # kernel overhangs the padded input by less than a stride.
        return 1 if ceil_mode and span - padded_length < stride else 0
    count = len(starts)
    next_start = starts[-1] + stride
    last_full_window_end = starts[-1] + span
    if ceil_mode and last_full_window_end < padded_length and next_start < pad_before + length:
        count += 1
    return count


def taps_on_input(out_count: int, kernel: int, stride: int, dilation: int, length: int,
                  pad_before: int) -> int:
    """Return how many (window, tap) pairs along one dimension read the input, not padding."""
    taps = 0
    for tap in range(kernel):
        # window w reads position w·S + tap·D − pad_before: the windows whose position
        # falls in [0, length), as a range of w
        offset = tap * dilation - pad_before
        first = max(-(offset // stride), 0)  # ceil(−offset / S)
        end = min((length - 1 - offset) // stride + 1, out_count)
        taps += len(range(first, end))
    return taps


def padded(x5: np.ndarray, before: tuple[int, int, int],
           after: tuple[int, int, int]) -> np.ndarray:
    """Return the 5-D ``x5`` with zeros added before and after each spatial dim."""
    shape = tuple(b + size + a for b, size, a in zip(before, x5.shape[2:], after, strict=True))
    y = np.zeros(x5.shape[:2] + shape, np.float32)
    # one strided copy in numpy, with no temporary and no kernel to compile
    y[:, :, before[0] : before[0] + x5.shape[2], before[1] : before[1] + x5.shape[3],
      before[2] : before[2] + x5.shape[4]] = x5
    return y
