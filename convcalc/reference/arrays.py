"""Reproducible pseudo-random float32 arrays for `verify`, filled in parallel.

numpy's generators fill about 30 M float32 values a second on one core, which is most
of a VGG-16 run (138 M weights). Here each element is a hash of its index and a stream
key (SplitMix64's finaliser), so any number of threads fill one array and the values
depend only on the seed, the stream and the index, never on the thread count.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import njit

from convcalc.reference.ops._threads import in_parallel

__all__ = ["stream_key", "uniform"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_UNIT = np.float32(2.0**-24)
"""One step of a 24-bit fraction: float32 represents k·2⁻²⁴ exactly for k < 2²⁴."""


def stream_key(seed: int, *names: object) -> int:
    """Return a 64-bit key for the stream named by ``seed`` and ``names`` (stable across runs)."""
    text = "\x1f".join(str(part) for part in (seed, *names))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


@njit(cache=True, nogil=True)
def _fill_uniform(out: np.ndarray, key: np.uint64, low: np.float32, span: np.float32,
                  start: int, stop: int) -> int:
    """Fill ``out[start:stop]`` (flat float32) with ``low + span·u``, u in [0, 1) from
    (key, index)."""
    for index in range(start, stop):
        z = key + np.uint64(index) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
        z = z ^ (z >> np.uint64(31))
        out[index] = low + span * (np.float32(z >> np.uint64(40)) * _UNIT)
    return 0


def uniform(shape: tuple[int, ...], key: int, low: float, high: float) -> np.ndarray:
    """Return a float32 array of ``shape`` with values uniform in [low, high) from ``key``."""
    out = np.empty(shape, np.float32)
    in_parallel(_fill_uniform, out.size, out.reshape(-1), np.uint64(key), np.float32(low),
                np.float32(high - low))
    return out
