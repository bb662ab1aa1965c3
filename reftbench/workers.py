"""Worker processes that never outlive their parent, and what a killed process left behind.

    with process_pool(4) as pool:        # spawn workers that end when this process ends
        lines = list(pool.map(make_scenes, jobs))
    stale_leftovers(folder, ".x.tmp-")   # ".x.tmp-<pid>" entries whose process is gone

A `kill -9` of `reftbench data` or `reftbench base` used to leave its spawn workers running for
ever (parent PID 1, ~200 MB each): each waits on a pipe that it holds open itself, so the dead
parent never ends it, and the resource tracker beside them waits on them in turn. Every worker
now asks the kernel to kill it when its parent dies (Linux `prctl(PR_SET_PDEATHSIG)`; elsewhere
a thread watches the parent's pid), so the tracker ends with them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
import time
from pathlib import Path

# prctl option: the signal this process gets when the thread that made it exits (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def process_pool(workers: int):
    """A ProcessPoolExecutor of `workers` spawn processes that end when this process ends.

    spawn, not fork: the caller may hold torch's threads, which fork does not survive. The pool
    must be used from the thread that made it (the kernel's parent-death signal follows that
    thread).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_parent, initargs=(os.getpid(),))


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this process as soon as process `parent` ends."""
    armed = False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)
    if not armed:  # not Linux: poll instead
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def stale_leftovers(folder: Path, prefix: str) -> list[Path]:
    """Entries of `folder` named `<prefix><pid>` whose process no longer runs: what a killed run
    left (a process still running keeps its own)."""
    found = []
    for path in sorted(Path(folder).glob(f"{prefix}*")):
        pid = path.name[len(prefix):]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            found.append(path)
    return found
