"""Reference implementations that `convcalc verify` runs on real arrays.

Imported only by `verify`: importing this package compiles (or loads from cache) numba
kernels, which the other commands must not pay for. Before any kernel module imports
numba, the cache gets a place it can write and a guard against unreadable entries
(reference/cache.py).
"""

from pathlib import Path

from convcalc.reference.cache import guard_against_corruption, use_writable_cache

use_writable_cache(Path(__file__).resolve().parent)
guard_against_corruption()
