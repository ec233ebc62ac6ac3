"""Where numba caches verify's kernels when the install or HOME cannot be written."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest

from convcalc.reference.cache import CACHE_ENV, choose_cache_dir


@pytest.fixture
def blocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a source folder whose __pycache__ cannot be made, with HOME unusable too."""
    source = tmp_path / "reference"
    source.mkdir()
    (source / "__pycache__").write_text("")  # a file: no folder can be made there
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", "/dev/null/home")
    return source


def test_writable_install_keeps_numbas_choice(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """When the kernels' folder can hold a cache, numba chooses as usual (None)."""
    monkeypatch.delenv(CACHE_ENV, raising=False)
    assert choose_cache_dir(tmp_path) is None


def test_users_choice_is_kept(blocked: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NUMBA_CACHE_DIR set by the user is left alone, even with nothing else writable."""
    monkeypatch.setenv(CACHE_ENV, "/somewhere")
    assert choose_cache_dir(blocked) is None


def test_read_only_install_and_home_fall_back_to_a_private_temp_folder(blocked: Path) -> None:
    """With the install and HOME unwritable the cache goes to the user's own temp folder."""
    folder = choose_cache_dir(blocked)
    assert folder is not None
    assert folder.parent == Path(tempfile.gettempdir())
    info = folder.lstat()
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    assert not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def test_a_folder_others_can_write_is_not_used(blocked: Path) -> None:
    """A shared temp folder others could plant pickles in is replaced by a fresh one."""
    shared = Path(tempfile.gettempdir()) / f"convcalc-numba-{os.getuid()}"
    shared.mkdir(mode=0o700, exist_ok=True)
    before = stat.S_IMODE(shared.stat().st_mode)
    shared.chmod(0o777)
    try:
        folder = choose_cache_dir(blocked)
        assert folder is not None and folder != shared
        assert folder.name.startswith("convcalc-numba-")
        folder.rmdir()
    finally:
        shared.chmod(before)
