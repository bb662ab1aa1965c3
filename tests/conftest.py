"""Shared fixtures: one temporary REFTBENCH_HOME per session, the micro model, a CLI runner.

The home folder is set once for the whole session (through os.environ, restored at the end), so
the micro model and the small generated splits are built once and never touch the user's cache.
Modules that need their own home (tests/test_model.py) still override it with monkeypatch.
"""

from __future__ import annotations

import os
import sys

import pytest

# Scenes per generated test split in these tests: small, and the same everywhere so the
# splits are generated once per session.
N_TEST = 6


@pytest.fixture(scope="session", autouse=True)
def reftbench_home(tmp_path_factory):
    """A fresh REFTBENCH_HOME for the session."""
    root = tmp_path_factory.mktemp("reftbench-home")
    old = os.environ.get("REFTBENCH_HOME")
    os.environ["REFTBENCH_HOME"] = str(root)
    yield root
    if old is None:
        os.environ.pop("REFTBENCH_HOME", None)
    else:
        os.environ["REFTBENCH_HOME"] = old


@pytest.fixture(scope="session")
def micro(reftbench_home):
    """(model, processor) of the micro preset, built once per session."""
    from reftbench.model.load import load_model

    return load_model("random-micro")


@pytest.fixture
def cli(capsys, monkeypatch, request):
    """Run `reftbench ARGS` in-process through `main()`; returns (exit code, stdout, stderr).

    Going through `main()` (not typer's CliRunner) exercises what a user sees: a UserError
    becomes one line on stderr and exit status 2.
    """
    import signal

    from reftbench.cli import main

    # Ctrl-C raises KeyboardInterrupt, as in a terminal: a test run started in the background by
    # a non-interactive shell inherits SIGINT ignored, and the Ctrl-C tests would see nothing.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))

    def run(*args) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["reftbench", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        out, err = capsys.readouterr()
        return code, out, err

    return run
