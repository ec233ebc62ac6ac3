"""Shared fixtures: run the CLI in-process with a fixed width and no colour."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from convcalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def run_cli() -> Callable[..., Any]:
    """Return a function that runs ``convcalc ARGS`` and gives back its Result.

    stdout and stderr are kept apart (``result.stdout``, ``result.stderr``); the terminal
    is 120 columns wide and colourless, so printed tables are stable.
    """
    runner = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return run
