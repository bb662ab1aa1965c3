"""Every file reftbench writes gets the mode an ordinary `open()` gives: 0666 less the umask.

A results folder shared by a team (one machine, a network disk) must be readable by the team;
one user who wants privacy sets umask 077 and gets it. Atomic writes once went through
tempfile.mkstemp, which makes 0600 files whatever the umask.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reftbench import fileio
from conftest import N_TEST


@pytest.fixture
def umask():
    """Set the process umask for one test, restored after it."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def modes(folder: Path) -> dict[str, int]:
    """Permission bits of every file and folder under `folder`, by relative path."""
    return {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode)
            for p in sorted(folder.rglob("*")) if not p.is_symlink()}


def assert_follow_umask(folder: Path, mask: int) -> None:
    found = modes(folder)
    assert found
    wrong = {path: oct(mode) for path, mode in found.items()
             if mode != (0o777 if (folder / path).is_dir() else 0o666) & ~mask}
    assert not wrong, f"not 0666/0777 less umask {oct(mask)}: {wrong}"


def test_atomic_writes_follow_the_umask(umask, tmp_path):
    for mask in (0o022, 0o002, 0o077):
        umask(mask)
        fileio.write_atomic(tmp_path / f"a{mask}.txt", "x")
        fileio.write_json(tmp_path / f"b{mask}.json", {"x": 1})
        assert stat.S_IMODE((tmp_path / f"a{mask}.txt").stat().st_mode) == 0o666 & ~mask
        assert stat.S_IMODE((tmp_path / f"b{mask}.json").stat().st_mode) == 0o666 & ~mask
        assert fileio.current_umask() == mask
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_eval_and_leaderboard_files_are_group_and_world_readable(umask, cli, micro, tmp_path):
    code, _, err = cli("eval", "--model", "random-micro", "--limit", 1, "--n-test", N_TEST,
                       "--tasks", "math", "--results-dir", tmp_path)
    assert code == 0, err
    run = next((tmp_path / "runs").glob("random-micro-*"))
    for name in ("results.json", "identity.json", "samples.jsonl"):
        assert stat.S_IMODE((run / name).stat().st_mode) & 0o044 == 0o044, name
    code, _, err = cli("leaderboard", "--results-dir", tmp_path)
    assert code == 0, err
    assert (tmp_path / "LEADERBOARD.md").exists() and (tmp_path / "leaderboard.png").exists()
    assert_follow_umask(tmp_path, 0o022)


def test_a_training_run_and_its_records_follow_the_umask(umask, tmp_path):
    from reftbench.training.run import train

    umask(0o027)
    train("sft", overrides={"model": "random-micro", "n_train": "12", "n_test": "8",
                            "eval_limit": "1", "sft_steps": "2", "save_steps": "1",
                            "sft_batch_size": "4", "eval_max_new_tokens": "4"},
          output=tmp_path / "run", results_dir=tmp_path / "results")
    assert list((tmp_path / "run").rglob("stage.json"))
    assert list((tmp_path / "results" / "runs").glob("*/results.json"))
    assert_follow_umask(tmp_path / "run", 0o027)
    assert_follow_umask(tmp_path / "results", 0o027)


def test_checkpoints_follow_the_umask_as_they_are_saved(umask, tmp_path):
    from types import SimpleNamespace

    from reftbench.training.callbacks import ReadableCheckpoints

    umask(0o002)
    weights = tmp_path / "checkpoint-3" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"")
    weights.chmod(0o600)  # as safetensors writes it
    ReadableCheckpoints().on_save(SimpleNamespace(output_dir=str(tmp_path)),
                                  SimpleNamespace(global_step=3, is_world_process_zero=True), None)
    assert stat.S_IMODE(weights.stat().st_mode) == 0o664
