"""The command line. Importing this package registers every command on ``app``."""

from convcalc.cli import calc, diff, export, solve  # noqa: F401  (importing registers the commands)
from convcalc.cli.app import app, main

__all__ = ["app", "main"]
