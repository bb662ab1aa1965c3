"""One process per run folder: a second `reftbench eval` or `train` on a folder in use stops.

    with hold(run_dir, "evaluation"):   # UserError naming the holder if another process has it
        ...                             # append to samples.jsonl, write results.json

Two processes appending to one samples.jsonl double its rows (an eval resumed while the first
was still running left 1,536 rows for 900 samples). The lock is an OS file lock (flock) on
`<run>/.reftbench.lock`, which holds the holder's pid, host, start time and command for the
message: the OS drops it when the holder exits however it exits, so a lock left by a killed
process never blocks `--resume`. Under `accelerate launch` the main process takes it for the job.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from reftbench.errors import UserError

LOCK_NAME = ".reftbench.lock"


class RunLock:
    """An exclusive, non-blocking lock on one run folder."""

    def __init__(self, folder: Path, what: str = "run"):
        self.path = Path(folder) / LOCK_NAME
        self.what = what
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise a UserError naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise UserError(f"{self.path.parent} is in use by {describe(holder)}; wait for it "
                                "to finish (or stop it), or choose another run folder") from None
            # The holder we waited behind may have removed the file: lock the file on disk.
            if _same_file(fd, self.path):
                break
            os.close(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "what": self.what,
                "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        self.fd = fd

    def release(self) -> None:
        """Remove the lock file and let go (a no-op when not held)."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def describe(holder: dict) -> str:
    """'evaluation process 123 on host (since 2026-11-30 16:45:04: reftbench eval ...)'."""
    if not holder:
        return "another process"
    command = holder.get("command", "")
    return (f"{holder.get('what', 'run')} process {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')} (since {holder.get('started', '?')}"
            + (f": {command[:120]}" if command else "") + ")")


@contextlib.contextmanager
def hold(folder: Path, what: str = "run"):
    """Hold `folder`'s lock for the block: in the main process of a launched job (the other
    ranks get the same UserError when it is taken), or in the only process."""
    from reftbench.distributed import main_decides

    lock = RunLock(folder, what)
    main_decides(lock.acquire)
    try:
        yield lock
    finally:
        lock.release()


def _read(fd: int) -> dict:
    """The holder's record (empty if it has not written it yet or it is unreadable)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _same_file(fd: int, path: Path) -> bool:
    """True when `fd` is still the file at `path` (not one a previous holder removed)."""
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
