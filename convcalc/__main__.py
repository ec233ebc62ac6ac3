"""``python -m convcalc``: the same command line as ``convcalc``."""

from convcalc.cli import main

main()
