"""One process per run folder: a second eval or train on a folder in use stops with one line
naming the holder, and a lock left by a killed process does not block --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import N_TEST

from reftbench.errors import UserError
from reftbench.runlock import LOCK_NAME, RunLock

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def holder():
    """Start another process that takes a run folder's lock and keeps it; yields (start, procs)."""
    procs = []

    def start(folder: Path, what: str) -> subprocess.Popen:
        code = ("import sys, time; from reftbench.runlock import RunLock; "
                f"RunLock(sys.argv[1], {what!r}).acquire(); print('held', flush=True); "
                "time.sleep(600)")
        proc = subprocess.Popen([sys.executable, "-c", code, str(folder), "reftbench", "eval"],
                                cwd=ROOT, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def eval_args(results, *extra):
    return ("eval", "--model", "random-micro", "--tasks", "math", "--splits", "id", "--limit", 2,
            "--n-test", N_TEST, "--run-id", "shared", "--results-dir", results, *extra)


def test_a_second_eval_on_a_run_in_use_stops_naming_the_holder(cli, tmp_path, holder, micro):
    run = tmp_path / "runs" / "shared"
    proc = holder(run, "evaluation")
    code, _, err = cli(*eval_args(tmp_path, "--resume"))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"evaluation process {proc.pid}" in err and str(run) in err
    assert not (run / "samples.jsonl").exists()  # nothing appended beside the holder


def test_a_lock_left_by_a_killed_process_does_not_block_resume(cli, tmp_path, holder, micro):
    run = tmp_path / "runs" / "shared"
    code, _, err = cli(*eval_args(tmp_path))
    assert code == 0, err
    proc = holder(run, "evaluation")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run / LOCK_NAME).exists()  # the killed holder's file is still there
    code, _, err = cli(*eval_args(tmp_path, "--resume"))
    assert code == 0, err
    assert len((run / "samples.jsonl").read_text().splitlines()) == 2  # none redone
    assert not (run / LOCK_NAME).exists()  # released on the way out


def test_a_second_training_run_on_a_folder_in_use_stops(tmp_path, holder):
    from reftbench.training.run import train

    proc = holder(tmp_path / "run", "training")
    with pytest.raises(UserError, match=f"training process {proc.pid} on .*reftbench eval"):
        train("sft", overrides=["--model", "random-micro"], output=tmp_path / "run", resume=True)


def test_the_lock_records_its_holder_and_is_exclusive_in_one_process(tmp_path):
    with RunLock(tmp_path, "evaluation"):
        record = json.loads((tmp_path / LOCK_NAME).read_text())
        assert record["pid"] == os.getpid() and record["what"] == "evaluation"
        with pytest.raises(UserError, match=f"in use by evaluation process {os.getpid()}"):
            RunLock(tmp_path, "evaluation").acquire()
    with RunLock(tmp_path):  # free again once released
        pass
