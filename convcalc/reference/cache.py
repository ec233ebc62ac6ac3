"""Where numba keeps the compiled kernels, and what happens when that place fails.

numba caches a kernel beside its source (``reference/__pycache__``) or, when the install
is read-only, under the user's cache folder (``~/.cache/numba``). With both read-only it
refuses to define the kernels at all ("cannot cache function …: no locator available").
``choose_cache_dir`` sees that coming and points numba at a private folder under the temp
dir instead. A cache that cannot be read back (a file cut short, overwritten, from a
broken disk) made every run fail with an UnpicklingError; ``guard_against_corruption``
makes such an entry a cache miss: the index is cleared, the kernel compiled and saved
again, and one warning line says so.

Both must run before the kernel modules are imported (reference/__init__.py does it).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CACHE_ENV", "choose_cache_dir", "guard_against_corruption", "use_writable_cache"]

CACHE_ENV = "NUMBA_CACHE_DIR"
"""numba's own setting; when the user set it, convcalc leaves the choice to them."""

_warned: set[str] = set()


def _writable(folder: Path) -> bool:
    """Tell whether numba could create ``folder`` and write a file in it (its own test)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _user_cache_dir() -> Path:
    """Return the folder numba's user-wide locator uses on this system."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "numba"


def _private_temp_dir() -> Path:
    """Return a folder under the temp dir that only this user can write.

    The cache holds pickles, which run code when loaded: a folder someone else made, or
    can write to, is never used; a fresh one is made instead.
    """
    folder = Path(tempfile.gettempdir()) / f"convcalc-numba-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
        if (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
                and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            return folder
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="convcalc-numba-"))


def choose_cache_dir(source_dir: Path) -> Path | None:
    """Return a private temp folder when numba has nowhere to cache, else None.

    None also when the user chose a folder with NUMBA_CACHE_DIR.
    """
    if os.environ.get(CACHE_ENV):
        return None
    if _writable(source_dir / "__pycache__") or _writable(_user_cache_dir()):
        return None
    return _private_temp_dir()


def use_writable_cache(source_dir: Path) -> None:
    """Point numba at a temp folder when the install and the home folder are read-only."""
    folder = choose_cache_dir(source_dir)
    if folder is None:
        return
    os.environ[CACHE_ENV] = str(folder)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba read its settings already: tell it too
        config.CACHE_DIR = str(folder)  # type: ignore[attr-defined]


def _warn_once(folder: str, error: Exception) -> None:
    if folder in _warned:
        return
    _warned.add(folder)
    print(f"warning: the numba cache in {folder} could not be read ({type(error).__name__}); "
          "cleared it, and the kernels are compiled again", file=sys.stderr)


def guard_against_corruption() -> None:
    """Make an unreadable numba cache entry a cache miss that clears the entry's index."""
    from numba.core import caching

    original: Any = caching.Cache.load_overload
    if getattr(original, "convcalc_guarded", False):
        return

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        try:
            return original(self, sig, target_context)
        except Exception as error:
            _warn_once(str(self.cache_path), error)
            with contextlib.suppress(OSError):  # an empty index: the next save writes anew
                self.flush()
            return None

    load_overload.convcalc_guarded = True  # type: ignore[attr-defined]
    caching.Cache.load_overload = load_overload  # type: ignore[method-assign]
