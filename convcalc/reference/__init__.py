"""Reference implementations that `convcalc verify` runs on real arrays.

Imported only by `verify`: importing this package compiles (or loads from cache) numba
kernels, which the other commands must not pay for.
"""
