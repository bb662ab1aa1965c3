"""Worker processes die with their parent, and a killed split generation is picked up again.

A real process tree: a parent starts a spawn pool (the one `reftbench data` and `base` use),
the test SIGKILLs the parent and watches every process below it end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from reftbench.workers import pid_alive, stale_leftovers

ROOT = Path(__file__).resolve().parents[1]

PARENT = """
import os, sys, time
from reftbench.workers import process_pool
pool = process_pool(2)
list(pool.map(time.sleep, [0.2] * 4))       # both workers started and initialised
futures = [pool.submit(time.sleep, 600) for _ in range(2)]
print("ready", flush=True)
time.sleep(600)
"""


def running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (an orphan's zombie waits for init)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_workers_and_their_tracker_end_when_the_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    below: set[int] = set()
    try:
        assert parent.stdout.readline().strip() == "ready"
        below = descendants(parent.pid)
        assert len(below) >= 2, below  # two workers (and the resource tracker, if started)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while any(running(pid) for pid in below) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in below if running(pid)], "left running after the parent died"
    finally:
        parent.kill()
        parent.wait()
        for pid in below:  # whatever the assertion found still running
            if running(pid):
                os.kill(pid, signal.SIGKILL)


def dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_only_leftovers_of_ended_processes_are_stale(tmp_path):
    gone, alive = dead_pid(), os.getppid()
    for pid in (gone, alive, "x"):
        (tmp_path / f".s.tmp-{pid}").mkdir()
    assert not pid_alive(gone) and pid_alive(alive)
    assert stale_leftovers(tmp_path, ".s.tmp-") == [tmp_path / f".s.tmp-{gone}"]
