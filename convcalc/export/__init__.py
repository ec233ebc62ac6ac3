"""Networks as source code for other frameworks: pure string building, no framework import."""

from convcalc.export.pytorch import to_pytorch

__all__ = ["to_pytorch"]
