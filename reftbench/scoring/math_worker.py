"""Maths equivalence with a hard time limit per call: math-verify runs in a child process.

    from reftbench.scoring.math_worker import equivalent
    equivalent("3/4", "0.75")          # True
    equivalent("(a+b+c+d+e)^{30}", "1")  # None: took longer than MATH_TIMEOUT_S, scored 0

sympy can take minutes on a 17-character expression (`(a+b+c+d+e)^{30}` expands to 46k terms),
and math-verify's own timeouts use signals, which only work in the main thread of the main
interpreter. So the parse-and-compare runs in one long-lived child (`python -m
reftbench.scoring.math_worker`, one per scoring process, started on first use) that reads a JSON line
per question on stdin and answers one line on stdout. The parent waits at most MATH_TIMEOUT_S
for the answer; past it the child is killed, the call returns None (the scorer gives 0 and
counts it), and a fresh child is started for the next call. This works the same in worker
threads, under `accelerate launch` (each rank has its own child) and in data-loader workers.

The child exits when its stdin closes or its parent dies (it checks its parent every second),
so a killed run leaves no process behind.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time

# Seconds one comparison may take. Honest answers take milliseconds (a few hundred on a busy
# machine); past this the answer scores 0.
MATH_TIMEOUT_S = 2.0
# Seconds the child may take to import math-verify and sympy before its first answer.
STARTUP_TIMEOUT_S = 120.0

_log = logging.getLogger(__name__)


class _Worker:
    """One child process and the lock that serialises calls to it from several threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._ready = False
        self._buffer = b""
        # Comparisons that ran past the limit, in this process.
        self.timeouts = 0

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "reftbench.scoring.math_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self._ready, self._buffer = False, b""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def _readline(self, deadline: float) -> bytes | None:
        """One line from the child, or None if the deadline passes or the child dies first."""
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def ask(self, pred: str, gold: str, timeout: float) -> bool | None:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            if not self._ready:
                if self._readline(time.monotonic() + STARTUP_TIMEOUT_S) != b"ready":
                    self.stop()
                    raise RuntimeError("the maths scoring process did not start")
                self._ready = True
            try:
                self._proc.stdin.write(json.dumps([pred, gold]).encode() + b"\n")
                self._proc.stdin.flush()
            except OSError:  # the child died between calls: start again next time
                self.stop()
                return False
            line = self._readline(time.monotonic() + timeout)
            if line is None:
                self.timeouts += 1
                _log.warning("maths answer %r took over %.1f s to check: scored 0", pred[:40], timeout)
                self.stop()
                self._start()  # warm the next one up while the caller goes on
                return None
            return bool(json.loads(line))


_worker = _Worker()
atexit.register(_worker.stop)


def equivalent(pred: str, gold: str, timeout: float | None = None) -> bool | None:
    """True/False: math-verify's verdict on `pred` against `gold`; None if it ran out of time
    (`timeout` seconds, MATH_TIMEOUT_S by default)."""
    return _worker.ask(pred, gold, MATH_TIMEOUT_S if timeout is None else timeout)


def timeouts() -> int:
    """How many comparisons this process has cut off so far."""
    return _worker.timeouts


# ------------------------------------------------------------------------- the child side


def _watch_parent(parent: int) -> None:
    """Exit as soon as the parent is gone (its pid changes when it dies and we are re-parented)."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _serve() -> None:
    import warnings
    from functools import lru_cache

    from math_verify import parse, verify
    from sympy.utilities.exceptions import SymPyDeprecationWarning

    # Odd but harmless answers ("(1)(2)^x") make sympy warn at length; the answer scores 0 anyway.
    warnings.filterwarnings("ignore", category=SymPyDeprecationWarning)
    # The parent bounds the time; math-verify's warning about its own timeouts being off is noise.
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    @lru_cache(maxsize=4096)
    def parsed(text: str) -> list:
        return parse(f"${text}$", parsing_timeout=None)

    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    out = sys.stdout.buffer
    out.write(b"ready\n")
    out.flush()
    for line in sys.stdin.buffer:
        try:
            pred, gold = json.loads(line)
            target = parsed(pred)
            equal = bool(target) and bool(verify(parsed(gold), target, timeout_seconds=None))
        except Exception:  # odd input to math-verify / sympy: not equal, never a crash
            equal = False
        out.write(b"true\n" if equal else b"false\n")
        out.flush()


if __name__ == "__main__":
    _serve()
