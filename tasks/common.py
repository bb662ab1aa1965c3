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


# Scenes per worker task when a split is generated in parallel.
CHUNK = 1000


def write_split(family: str, split: str, n: int, seed: int, out_dir: Path,
                workers: int | None = None, chunk: int = CHUNK) -> Path:
    """Generate `n` scenes of one family and split into `out_dir`, atomically; return it.

    Everything is written into a temporary sibling folder first and renamed into place at the
    end, so an interrupted run never leaves a half-written split that looks complete. Scenes are
    made in chunks of `chunk` on up to `workers` processes (default: one per CPU); each scene
    has its own random stream, so the bytes are the same whatever the number of workers.
    """
    from tasks import FAMILIES

    if family not in FAMILIES:
        raise UserError(f"unknown task family '{family}'; choose from {', '.join(FAMILIES)}")
    if split not in SPLITS:
        raise UserError(f"unknown split '{split}'; choose from {', '.join(SPLITS)}")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    starts = range(0, n, chunk)
    jobs = [(family, split, seed, start, min(start + chunk, n), tmp) for start in starts]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    with open(tmp / "samples.jsonl", "w", encoding="utf-8") as fh:
        if workers <= 1:
            parts = map(_write_scenes, jobs)
            _write_parts(fh, parts)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn, not fork: the caller may hold torch's threads, which fork does not survive.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                _write_parts(fh, pool.map(_write_scenes, jobs))
    _replace_dir(tmp, out_dir)
    return out_dir


def _write_parts(fh, parts) -> None:
    """Append each chunk's JSONL lines, in chunk order."""
    for lines in parts:
        fh.writelines(lines)


def _write_scenes(job: tuple) -> list[str]:
    """Make scenes [start, stop) of one split: save their images, return their JSONL lines."""
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
    return lines


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
