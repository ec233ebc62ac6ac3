"""The built-in zoo: torchvision's classification CNNs as network files.

Each entry is ``convcalc/zoo/<builder>.yaml``, named as torchvision's builder function
(``resnet50``, ``densenet121``) and written by ``_generate.py`` beside it from the
architectures' published hyperparameters. An entry is read as any network file, under the
source name ``zoo:<name>``.
"""

from __future__ import annotations

import difflib
from importlib import resources

from convcalc.errors import InputError
from convcalc.loader import NetworkSource, parse_network
from convcalc.textsafe import MAX_ECHO, echo, shorten

__all__ = ["names", "source", "text"]

_SUFFIX = ".yaml"
_MAX_MATCHED = 200
"""Names longer than this are not compared with the entries' for a suggestion."""


def names() -> tuple[str, ...]:
    """Return the names of every zoo entry, sorted."""
    files = resources.files(__name__).iterdir()
    return tuple(sorted(f.name[: -len(_SUFFIX)] for f in files if f.name.endswith(_SUFFIX)))


def text(name: str) -> str:
    """Return the YAML text of the zoo entry ``name``.

    Raises InputError, naming the nearest entry, when there is no entry of that name.
    """
    known = names()
    if name not in known:
        if not name:
            raise InputError("zoo: needs an entry's name, e.g. zoo:resnet50; `convcalc zoo` "
                             "lists them")
        close = (difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                 if len(name) <= _MAX_MATCHED else [])
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        # The name is the user's: cut and escaped in both places it is repeated.
        raise InputError(f"no zoo entry named {echo(name)}{hint}; `convcalc zoo` lists them",
                         source=f"zoo:{shorten(name, MAX_ECHO)}")
    return resources.files(__name__).joinpath(name + _SUFFIX).read_text(encoding="utf-8")


def source(name: str) -> NetworkSource:
    """Return the zoo entry ``name`` parsed as a network, with source name ``zoo:<name>``."""
    return parse_network(text(name), f"zoo:{name}")
