"""Atomic file writes, crash-safe JSONL appends and folders built once.

Results files are written to a temporary sibling and renamed into place, so a killed process
never leaves a half-written file; the temporary file is made as `open()` makes a file, so what
lands follows the user's umask (a results folder shared by a team stays readable to it).
Per-sample logs are appended line by line and flushed; a reader drops a trailing partial line
(the one a kill may cut). `build_once` makes a folder (a built model) the same way: whole or
not at all, by one process at a time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path

from reftbench.errors import UserError


def ensure_writable_dir(path: Path) -> Path:
    """Create `path` (and parents) or raise a UserError naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", delete=True)
        probe.close()
    except OSError as exc:
        raise UserError(f"output folder {path} is not writable: {exc.strerror or exc}") from None
    return path


def check_writable_dir(path: Path) -> Path:
    """`path` if it is a writable folder or could be made as one; nothing is created (so a
    start that fails later leaves no folder behind). A UserError names it otherwise."""
    why = writable_problem(Path(path))
    if why:
        raise UserError(f"output folder {path} is not writable: {why}")
    return Path(path)


def writable_problem(path: Path) -> str | None:
    """Why `path` is not a writable folder and could not be made as one, or None (a name with
    a control character, a line break or a terminal escape, is refused too: it would print
    as something else)."""
    if CONTROL.search(str(path)):
        return "folder names may not hold control characters (a line break, a terminal escape)"
    too_long = [part for part in path.parts if len(os.fsencode(part)) > NAME_MAX]
    if too_long:  # before any stat, which would fail on it
        return f"its name is too long ({len(os.fsencode(too_long[0])):,} bytes in one part)"
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return "it is a file" if existing == path else f"{existing} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return "permission denied" if existing == path else f"{existing} is not writable"
    return None


# Longest file or folder name most file systems take, in bytes.
NAME_MAX = 255
# Control characters (C0, DEL, C1): never in a folder name reftbench makes, nor in a label.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (/proc), else set
    and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: Path, executable: bool = False) -> None:
    """Give `path` the mode `open()` (or mkdir, with `executable`) would have: for files that a
    library saved private (0600)."""
    Path(path).chmod((0o777 if executable else 0o666) & ~current_umask())


def follow_umask_tree(folder: Path) -> None:
    """follow_umask for every file under `folder` (a saved model: safetensors writes its weights
    0600 whatever the umask)."""
    for path in Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink():
            follow_umask(path)


def _new_sibling(path: Path) -> tuple[int, Path]:
    """A fresh temporary file beside `path`, opened for writing with mode 0666 less the umask
    (tempfile.mkstemp would make it 0600 whatever the umask)."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write `text` to `path` via a temp file and os.replace (all or nothing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(text, bytes) else "w"
    fd, tmp = _new_sibling(path)
    try:
        with os.fdopen(fd, mode) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj) -> None:
    """Atomically write `obj` as indented JSON."""
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def dumps_jsonl(rows: list[dict]) -> str:
    """Rows as JSONL text."""
    return "".join(json.dumps(row) + "\n" for row in rows)


def append_jsonl(path: Path, rows: list[dict]) -> None:
    """Append rows to a JSONL file and flush them to disk."""
    with open(path, "a") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: Path, tolerate_partial_tail: bool = True) -> list[dict]:
    """Read a JSONL file; a cut last line (from a kill) is dropped, other bad lines raise."""
    path = Path(path)
    if not path.exists():
        return []
    # split("\n"), not splitlines(): only a newline ends a row. The last piece is the text after
    # the final newline, which is empty unless a kill cut the row being written.
    lines = path.read_text().split("\n")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if tolerate_partial_tail and number == len(lines):
                break
            raise UserError(f"{path}:{number}: not valid JSON") from None
        except (ValueError, RecursionError):  # a number too long for an int, nesting too deep
            raise UserError(f"{path}:{number}: not a row reftbench writes") from None
    return rows


def build_once(target: Path, is_current, build) -> Path:
    """`target`, made by `build(folder)` unless `is_current(target)` already holds.

    A file lock keeps two processes from building at once, and the build is written to a
    temporary folder and renamed into place, so no reader ever sees half a model.
    """
    if is_current(target):
        return target
    from filelock import FileLock

    name = target.name
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{name}.lock")):
        if is_current(target):  # another process built it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-building-", dir=target.parent))
        follow_umask(tmp, executable=True)  # mkdtemp makes it private; the cache may be shared
        try:
            build(tmp)
            if target.exists():  # a build from an older builder version
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target
