"""``net --bars``: each layer's share of the parameters and of the MACs, as two bars."""

from __future__ import annotations

from typing import Any

from test_cli_calc import check_golden

TINY = """\
name: tiny
input: 1x8x8
layers:
  - {type: conv, name: c1, filters: 2, kernel: 3, padding: 1}
  - type: residual
    name: block
    layers:
      - {type: conv, name: c2, filters: 2, kernel: 3, padding: 1}
  - flatten
  - {type: linear, name: fc, units: 2}
"""



def test_bars_show_params_and_macs_shares(run_cli: Any) -> None:
    """Leaf rows get a params bar and a MACs bar; the container's subtotal row gets none.

    Worked by hand. Params: c1 2·9 + 2 = 20, c2 2·2·9 + 2 = 38, fc 128·2 + 2 = 258, 316 in
    all. MACs: c1 2·64·9 = 1,152, c2 2·64·18 = 2,304, fc 256, 3,712 in all. A bar is ten
    cells of eighths: c1's 20/316 = 6.3 % is round(0.063·80) = 5 eighths (▋) and its
    1,152/3,712 = 31.0 % is 25 eighths (███▏); fc's 256/3,712 = 6.9 % is 6 eighths (▊).
    """
    result = run_cli("net", "-", "--bars", input=TINY)
    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "  20  ▋            6.3%  1.15 K  ███▏        31.0%" in rows["c1"]
    assert "  38  █▎          12.0%  2.30 K  ██████▎     62.1%" in rows["block.c2"]
    assert " 258  ████████▏   81.6%     256  ▊            6.9%" in rows["fc"]
    assert "  38                     2.30 K                     4.86 K" in rows["block"]
    check_golden("net_tiny_bars.txt", result.stdout)
