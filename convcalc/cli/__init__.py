"""The command line. Importing this package registers every command on ``app``."""

from convcalc.cli import calc  # noqa: F401  (registers its commands)
from convcalc.cli import solve  # noqa: F401
from convcalc.cli.app import app, main

__all__ = ["app", "main"]
