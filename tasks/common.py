"""Write a task split to disk from a seed, hash it, and read the families' lmms-eval YAML.

A split folder holds `samples.jsonl` (three records per scene, tiers in the order judge, choice,
open) and `images/<index>.png` (one image per scene, shared by its three records):

    write_split("math", "ood", n=1000, seed=0, out_dir=Path("data/math/ood"))
    split_hash(Path("data/math/ood"))   # sha256 over the JSONL and every image, in order

Every scene draws from its own `random.Random`, seeded from (seed, family, split, index), so a
split is the same bytes on every run, any scene can be regenerated alone, and the train split
(its own seed stream) never shares a scene with the test splits.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path

from reftbench.errors import UserError
from reftbench.samples import SPLITS, TIERS

TASKS_DIR = Path(__file__).resolve().parent


def scene_rng(seed: int, family: str, split: str, index: int) -> random.Random:
    """The scene's private random stream.

    Hashing the whole key (not seed + index) keeps streams of neighbouring seeds, families and
    splits unrelated; train and test draw from differently named streams.
    """
    stream = "train" if split == "train" else "test"
    key = f"reftbench/{stream}/{seed}/{family}/{split}/{index}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def checked_fact(open_answer: str) -> str:
    """The gold reasoning of a judge or choice record: the open answer it checks, stated first.

    A yes/no verdict or a letter is one token that depends on comparing the image with the
    question; written after the fact it compares against, it becomes a lookup the model can
    learn (and RL can sharpen), instead of a guess.
    """
    return f"It is {open_answer}."


def scene_records(family: str, split: str, index: int, scene: dict, tiers: dict) -> list[dict]:
    """The three sample records of one scene (schema: reftbench/samples.py)."""
    base_id = f"{family}-{split}-{index:06d}"
    records = []
    for tier in TIERS:
        body = tiers[tier]
        record = {"id": f"{base_id}-{tier}", "base_id": base_id, "family": family,
                  "split": split, "tier": tier, "image": f"images/{index:06d}.png",
                  "question": body["question"], "answer": body["answer"]}
        if tier != "open":
            record["think"] = checked_fact(tiers["open"]["answer"])
        if "options" in body:
            record["options"] = body["options"]
        record["metric"] = body["metric"]
        record.update(scene.get("extras", {}))
        records.append(record)
    return records


# Scenes per worker task when a split is generated in parallel (and per resumable part).
CHUNK = 1000


def write_split(family: str, split: str, n: int, seed: int, out_dir: Path,
                workers: int | None = None, chunk: int = CHUNK) -> Path:
    """Generate `n` scenes of one family and split into `out_dir`, atomically; return it.

    Everything is written into a temporary sibling folder first and renamed into place at the
    end, so an interrupted run never leaves a half-written split that looks complete. Scenes are
    made in chunks of `chunk` on up to `workers` processes (default: one per CPU; they end if
    this process is killed); each scene has its own random stream, so the bytes are the same
    whatever the number of workers. Each finished chunk is kept as a part file, so a run that
    was killed is picked up where it stopped by the next one (its temporary folder, named by
    its dead pid, is taken over; see `_partial_dir`).
    """
    from tasks import DATA_VERSION, FAMILIES

    if family not in FAMILIES:
        raise UserError(f"unknown task family '{family}'; choose from {', '.join(FAMILIES)}")
    if split not in SPLITS:
        raise UserError(f"unknown split '{split}'; choose from {', '.join(SPLITS)}")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial_dir(out_dir, {"family": family, "split": split, "n": n, "seed": seed,
                                 "version": DATA_VERSION})
    jobs = [(family, split, seed, start, min(start + chunk, n), tmp)
            for start in range(0, n, chunk)]
    todo = [job for job in jobs if not _part(tmp, job).exists()]
    workers = min(workers or os.cpu_count() or 1, len(todo))
    if workers <= 1:
        for job in todo:
            _write_scenes(job)
    else:
        from reftbench.workers import process_pool

        with process_pool(workers) as pool:
            list(pool.map(_write_scenes, todo))
    with open(tmp / "samples.jsonl", "w", encoding="utf-8") as fh:
        for job in jobs:  # in chunk order
            fh.write(_part(tmp, job).read_text(encoding="utf-8"))
    shutil.rmtree(tmp / "parts")
    (tmp / "job.json").unlink()
    _replace_dir(tmp, out_dir)
    return out_dir


def drop_leftovers(out_dir: Path) -> None:
    """Remove what killed runs left beside `out_dir` (their `.tmp-PID` and `.old-PID` folders,
    the process gone): for a split that another run has since finished."""
    from reftbench.workers import stale_leftovers

    for kind in ("tmp", "old"):
        for stale in stale_leftovers(out_dir.parent, f".{out_dir.name}.{kind}-"):
            shutil.rmtree(stale, ignore_errors=True)


def _partial_dir(out_dir: Path, job: dict) -> Path:
    """This process's temporary folder for `out_dir`, holding `job.json` and `images/`: a
    killed run's folder for the same job (its pid no longer running) is taken over with the
    parts it finished; other leftovers of killed runs beside `out_dir` are removed."""
    from reftbench.workers import stale_leftovers

    mine = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(mine, ignore_errors=True)
    for stale in stale_leftovers(out_dir.parent, f".{out_dir.name}.old-"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in stale_leftovers(out_dir.parent, f".{out_dir.name}.tmp-"):
        if not mine.exists() and _job_of(stale) == job:
            stale.rename(mine)
        else:
            shutil.rmtree(stale, ignore_errors=True)
    (mine / "images").mkdir(parents=True, exist_ok=True)
    (mine / "parts").mkdir(exist_ok=True)
    (mine / "job.json").write_text(json.dumps(job))
    return mine


def _job_of(folder: Path) -> dict | None:
    """What a temporary folder was generating (None if it does not say)."""
    try:
        return json.loads((folder / "job.json").read_text())
    except (OSError, ValueError):
        return None


def _part(tmp: Path, job: tuple) -> Path:
    """The part file of one chunk: its JSONL lines, written once its images are saved."""
    start, stop = job[3], job[4]
    return tmp / "parts" / f"{start:09d}-{stop:09d}.jsonl"


def _write_scenes(job: tuple) -> None:
    """Make scenes [start, stop) of one split: save their images, then their part file."""
    from tasks import family_module

    family, split, seed, start, stop, tmp = job
    module = family_module(family)
    lines = []
    for index in range(start, stop):
        rng = scene_rng(seed, family, split, index)
        image, scene = module.make_scene(split, index, rng)
        tiers = module.make_tiers(scene, rng)
        image.save(tmp / "images" / f"{index:06d}.png", format="PNG")
        lines += [json.dumps(r) + "\n" for r in scene_records(family, split, index, scene, tiers)]
    part = _part(tmp, job)
    written = part.with_name(f"{part.name}.{os.getpid()}")
    written.write_text("".join(lines), encoding="utf-8")
    os.replace(written, part)  # a part exists whole or not at all


def _replace_dir(new: Path, target: Path) -> None:
    """Move `new` to `target`, replacing an older copy with two renames (no half state)."""
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def split_hash(out_dir: Path) -> str:
    """sha256 over samples.jsonl and every image (name and bytes), in sorted order."""
    out_dir = Path(out_dir)
    digest = hashlib.sha256((out_dir / "samples.jsonl").read_bytes())
    for path in sorted((out_dir / "images").glob("*.png")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_task_yaml(family: str, split: str = "id") -> dict:
    """A family's lmms-eval task config as lmms-eval reads it, as a plain dict.

    `split` "id" reads `<family>.yaml` (reftbench_<family>_id), "ood" `<family>_ood.yaml`.
    Each `include:` is read first and the including file's keys replace its keys (lmms-eval's
    rule); a `!function utils.f` becomes the dotted name of the function it points at, e.g.
    "tasks.math.utils.id_docs" (relative to the file that names it, as lmms-eval resolves
    it), and a local data file becomes its absolute path.
    """
    path = TASKS_DIR / family / (f"{family}.yaml" if split == "id" else f"{family}_{split}.yaml")
    if not path.exists():
        raise UserError(f"no task config {path}; is '{family}' a task family and '{split}' "
                        "a test split?")
    return _read_task_yaml(path)


def _read_task_yaml(path: Path) -> dict:
    """One task YAML with its includes merged in (see load_task_yaml)."""
    import yaml

    package = ".".join(path.parent.relative_to(TASKS_DIR.parent).parts)

    class TaskLoader(yaml.SafeLoader):
        """SafeLoader that turns lmms-eval's `!function` references into dotted names."""

    TaskLoader.add_constructor(
        "!function", lambda loader, node: f"{package}.{loader.construct_scalar(node)}")
    with open(path, encoding="utf-8") as fh:
        config = yaml.load(fh, Loader=TaskLoader)
    files = config.get("dataset_kwargs", {}).get("data_files", {})
    for name, file in files.items():
        files[name] = str((path.parent / file).resolve())
    includes = config.pop("include", [])
    merged = {}
    # lmms-eval reads a list of includes last to first, so the first one named wins.
    for include in reversed([includes] if isinstance(includes, str) else includes):
        merged.update(_read_task_yaml((path.parent / include).resolve()))
    return {**merged, **config}
