"""The command line. Each command's module is imported when that command runs
(convcalc/cli/lazy.py lists them)."""

from convcalc.cli.app import app, main

__all__ = ["app", "main"]
