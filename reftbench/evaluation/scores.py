"""Per-question scores of a run: `scores.json` beside its results.json, small enough to commit.

    write(run_dir, rows)       # the evaluator, from the rows it scored (samples.jsonl's shape)
    cells = read(run_dir)      # {"math/id/open": Cell(ids, digest, values)}, or None if absent
    rebuild(run_dir, results)  # from a run's local samples.jsonl (git ignores those), if any

results.json keeps each cell's mean; a difference between two models needs their scores
question by question (reftbench.reports.paired), and every method is scored on the same test
questions, so these pair. A cell holds its questions sorted by id, a digest of their ids and gold
answers (two runs pair on a cell only when the digests agree: same ids from other data would
not be the same questions), and one list per score: "strict" always, "sampled" and "pass_k" for
a run evaluated with --samples K. Ids are stored once per cell as their common prefix and
suffix around the part that varies, and as a range when that part counts up (generated data):
a base evaluated on 500 questions x 3 tiers x 6 cells plus 500 general ones is about 20 kB.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from reftbench import fileio

log = logging.getLogger(__name__)

FILE = "scores.json"
VERSION = 1
# The per-question scores kept: the reported one, and the --samples K ones where measured.
FIELDS = ("strict", "sampled", "pass_k")


@dataclass
class Cell:
    """One family x split x tier of a run: its questions (sorted by id) and their scores."""

    ids: list[str]
    # 12 hex digits over the (id, gold answer) pairs: which questions these are.
    digest: str
    # Score name -> one value per question, in `ids` order.
    values: dict[str, list[float]] = field(default_factory=dict)


def digest(pairs: list[tuple[str, str]]) -> str:
    """12 hex digits of sha256 over sorted (id, gold answer) pairs."""
    text = json.dumps(sorted([str(i), str(g)] for i, g in pairs))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]


def cells_of(rows: list[dict]) -> dict[str, Cell]:
    """Group scored rows (id, family, split, tier, gold, strict, ...) into cells; a row logged
    twice counts once (the last one), as in results.json."""
    unique = {row["id"]: row for row in rows}
    grouped: dict[str, list[dict]] = {}
    for row in sorted(unique.values(), key=lambda r: str(r["id"])):
        grouped.setdefault(f"{row['family']}/{row['split']}/{row['tier']}", []).append(row)
    cells = {}
    for key in sorted(grouped):
        members = grouped[key]
        values = {name: [float(r[name]) for r in members] for name in FIELDS
                  if all(r.get(name) is not None for r in members)}
        cells[key] = Cell([str(r["id"]) for r in members],
                          digest([(r["id"], r.get("gold", "")) for r in members]), values)
    return cells


def write(run_dir: Path, rows: list[dict]) -> None:
    """Write `run_dir`/scores.json (atomically) from scored rows."""
    fileio.write_atomic(Path(run_dir) / FILE, dumps(cells_of(rows)))


def dumps(cells: dict[str, Cell]) -> str:
    """The file's text: one line per cell, so that a diff shows which cells changed."""
    lines = [json.dumps(key) + ": " + json.dumps(
        {"ids": encode_ids(cell.ids), "digest": cell.digest,
         **{name: [_number(v) for v in cell.values[name]] for name in cell.values}},
        separators=(",", ":")) for key, cell in cells.items()]
    return ('{"version": %d,\n"cells": {\n' % VERSION) + ",\n".join(lines) + "\n}}\n"


def read(run_dir: Path) -> dict[str, Cell] | None:
    """A run's cells, or None when it has no readable scores.json."""
    path = Path(run_dir) / FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        cells = {}
        for key, entry in data["cells"].items():
            ids = decode_ids(entry["ids"])
            values = {name: [float(v) for v in entry[name]] for name in FIELDS if name in entry}
            if any(len(v) != len(ids) for v in values.values()) or "strict" not in values:
                raise ValueError(f"{key}: scores and ids differ in length")
            cells[key] = Cell(ids, str(entry["digest"]), values)
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        log.warning("%s: ignored: not a scores file (%s)", path, exc)
        return None
    return cells


def rebuild(run_dir: Path, results: dict) -> dict[str, Cell] | None:
    """scores.json from the run's samples.jsonl, when that log is here and agrees with
    results.json (the same questions in every cell); written, and returned. None otherwise."""
    log_path = Path(run_dir) / "samples.jsonl"
    if not log_path.is_file():
        return None
    cells = cells_of(fileio.read_jsonl(log_path))
    # results.json's own cells (lmms-eval benchmarks, which have no per-question rows, aside).
    counted = {key: m.get("n") for key, m in (results.get("metrics") or {}).items()
               if isinstance(m, dict) and key.count("/") == 2}
    if not counted or any(key not in cells or len(cells[key].ids) != n
                          for key, n in counted.items()):
        log.warning("%s: does not match its results.json; scores.json not rebuilt", log_path)
        return None
    cells = {key: cells[key] for key in counted}
    try:
        fileio.write_atomic(Path(run_dir) / FILE, dumps(cells))
    except OSError as exc:  # a read-only copy still gets its scores for this report
        log.warning("%s: could not write %s: %s", run_dir, FILE, os.strerror(exc.errno or 0))
    return cells


def encode_ids(ids: list[str]) -> dict:
    """Sorted ids as {"prefix", "suffix"} around the varying part: {"first", "count", "width"}
    when that part is a run of consecutive zero-padded numbers, else {"keys": [...]}."""
    prefix = os.path.commonprefix(ids) if ids else ""
    rest = [i[len(prefix):] for i in ids]
    suffix = os.path.commonprefix([r[::-1] for r in rest])[::-1] if rest else ""
    keys = [r[:len(r) - len(suffix)] for r in rest]
    out = {"prefix": prefix, "suffix": suffix}
    width = len(keys[0]) if keys else 0
    if keys and width and all(k.isdigit() and len(k) == width for k in keys) \
            and [int(k) for k in keys] == list(range(int(keys[0]), int(keys[0]) + len(keys))):
        return {**out, "first": int(keys[0]), "count": len(keys), "width": width}
    return {**out, "keys": keys}


def decode_ids(enc: dict) -> list[str]:
    """The ids `encode_ids` stored."""
    if "keys" in enc:
        keys = [str(k) for k in enc["keys"]]
    else:
        keys = [str(n).zfill(int(enc["width"]))
                for n in range(int(enc["first"]), int(enc["first"]) + int(enc["count"]))]
    return [f"{enc['prefix']}{k}{enc['suffix']}" for k in keys]


def _number(value: float) -> int | float:
    """0 and 1 as ints (most scores), other values to 4 decimals: the file stays small."""
    return int(value) if float(value).is_integer() else round(value, 4)
