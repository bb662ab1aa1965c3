"""REFTBENCH_HOME: empty means unset, `~` is expanded, and a file or a folder that cannot be
made is one line naming the variable (tests/test_hostile.py runs those through the CLI)."""

from __future__ import annotations

import pytest

from reftbench import paths
from reftbench.errors import UserError


def test_an_empty_home_means_the_default_and_a_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for empty in ("", "  "):
        monkeypatch.setenv("REFTBENCH_HOME", empty)
        assert paths.data_dir() == tmp_path / ".cache" / "reftbench" / "data"
    monkeypatch.setenv("REFTBENCH_HOME", "~/x")
    assert paths.home() == tmp_path / "x"


def test_a_home_that_is_a_file_names_the_variable(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "f"))
    with pytest.raises(UserError, match=r"^REFTBENCH_HOME=.*/f is not a usable folder: it is a"):
        paths.home()


def test_a_cache_folder_that_cannot_be_made_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setattr("pathlib.Path.mkdir", lambda *a, **k: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied")))
    with pytest.raises(UserError, match="Permission denied.*point REFTBENCH_HOME"):
        paths.make_cache_dir(tmp_path / "data")
