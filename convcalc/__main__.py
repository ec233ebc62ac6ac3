"""``python -m convcalc``: the same command line as ``convcalc``."""

import sys

try:
    from convcalc.cli import main
except KeyboardInterrupt:  # Ctrl-C while the modules load, before the guard is in place
    sys.exit(130)

main()
