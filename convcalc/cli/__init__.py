"""The command line. Importing this package registers every command on ``app``."""

# Importing a command module registers its commands.
from convcalc.cli import calc, diff, export, plot, schema, solve, verify, zoo  # noqa: F401
from convcalc.cli.app import app, main

__all__ = ["app", "main"]
