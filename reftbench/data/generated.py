"""Generated task splits on disk: create on first use, load with validation.

Splits live in `<REFTBENCH_HOME>/data/<family>/<split>-n<N>-s<seed>/` as `samples.jsonl` plus
`images/`. `ensure_split` generates a split once (the generator writes atomically, so a killed
run leaves nothing half-made); `load_split` reads it back, checks every row and resolves
`image_path`. `task_records` is what evaluation and training call: it reads a real-data folder
(`--data DIR`: the Curr-ReFT release layout, reftbench/data/release.py, or the flat convention of
reftbench/data/refdata.py) instead when one is given.
"""

from __future__ import annotations

import json
from pathlib import Path

from reftbench import paths
from reftbench.errors import UserError
from reftbench.samples import REQUIRED_FIELDS, SPLITS, TIERS

# Scenes per split by default (each scene gives three tier records), close to the paper's sizes.
DEFAULT_SIZES = {"train": 3000, "id": 1000, "ood": 1000}
# Scenes per split for `--small` runs and tests.
SMALL_SIZES = {"train": 300, "id": 100, "ood": 100}


def split_dir(family: str, split: str, n: int, seed: int) -> Path:
    """Cache folder of one generated split."""
    from tasks import DATA_VERSION

    # The generator version is part of the name: a changed generator never reuses old splits.
    return paths.data_dir() / family / f"{split}-n{n}-s{seed}-v{DATA_VERSION}"


def ensure_split(family: str, split: str, n: int | None = None, seed: int = 0) -> Path:
    """Generate the split if it is not cached yet; return its folder."""
    from tasks.common import drop_leftovers, write_split

    from reftbench.registry import check_names, families

    check_names("task family", [family], families())
    check_names("split", [split], SPLITS)
    n = DEFAULT_SIZES[split] if n is None else n
    out = split_dir(family, split, n, seed)
    if (out / "samples.jsonl").exists():
        drop_leftovers(out)  # a killed run's partial copy of a split finished since
        return out
    from filelock import FileLock

    paths.make_cache_dir(out.parent)
    # Two processes (a training run and an eval) may want the same split: one generates it.
    with FileLock(str(out.parent / f".{out.name}.lock")):
        if not (out / "samples.jsonl").exists():
            write_split(family, split, n, seed, out)
    return out


def load_split(family: str, split: str, n: int | None = None, seed: int = 0,
               tiers: tuple[str, ...] = TIERS) -> list[dict]:
    """Records of one split (generating it if needed), filtered to `tiers`."""
    folder = ensure_split(family, split, n, seed)
    return [r for r in read_records(folder / "samples.jsonl") if r["tier"] in tiers]


def task_records(family: str, split: str, tiers: tuple[str, ...] = TIERS, *, data: str = "",
                 strict: bool = False, n: int | None = None, seed: int = 0,
                 image_root: str = "") -> list[dict]:
    """Records of one family and split at `tiers`: from the real-data folder `data` when set
    (families or splits it lacks give []; `strict` stops at a bad row; `image_root` is where a
    Curr-ReFT release's images are), else generated (`n`, `seed`).
    """
    if data:  # real questions rarely say what goes inside <answer>: the prompt adds it
        return [{**r, "ask_answer_form": True}
                for r in real_records(data, family, split, tiers, strict, image_root)]
    return load_split(family, split, n=n, seed=seed, tiers=tiers)


def real_records(data: str, family: str, split: str, tiers: tuple[str, ...], strict: bool,
                 image_root: str = "") -> list[dict]:
    """A real-data folder's records: the Curr-ReFT release layout (reftbench/data/release.py) or
    the flat convention (reftbench/data/refdata.py)."""
    from reftbench.data.refdata import data_folder, load_records
    from reftbench.data.release import is_release, read_release

    folder = data_folder(data)
    if not is_release(folder) and is_release(folder / "grpo_data"):
        raise UserError(f"{data} holds the Curr-ReFT release in grpo_data/: pass --data "
                        f"{folder / 'grpo_data'}")
    if is_release(folder):
        return [dict(r) for r in read_release(data, strict, image_root)
                if r["family"] == family and r["split"] == split and r["tier"] in tiers]
    if image_root:
        raise UserError(f"--image-root is for the Curr-ReFT release layout, and {data} is not "
                        "one: name images relative to the folder (reftbench/data/refdata.py)")
    return load_records(data, family, split, tiers, strict)


def read_records(path: Path) -> list[dict]:
    """Read and validate a samples.jsonl, adding `image_path`; bad rows raise a UserError."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist")
    records = []
    with open(path) as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            records.append(_validated(_parse(line, path, number), path, number))
    return records


def _parse(line: str, path: Path, number: int) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    except (ValueError, RecursionError):  # a number too long for an int, nesting too deep
        raise UserError(f"{path}:{number}: not a row a generator writes") from None
    if not isinstance(row, dict):
        raise UserError(f"{path}:{number}: a row must be a JSON object")
    return row


def _validated(row: dict, path: Path, number: int) -> dict:
    missing = [f for f in REQUIRED_FIELDS if f not in row]
    if missing:
        raise UserError(f"{path}:{number}: missing field(s) {', '.join(missing)}")
    not_text = [f for f in REQUIRED_FIELDS if not isinstance(row[f], str)]
    if not_text:
        raise UserError(f"{path}:{number}: field(s) {', '.join(not_text)} must be strings")
    image = (path.parent / row["image"]).resolve()
    if path.parent.resolve() not in image.parents:
        raise UserError(f"{path}:{number}: image path {row['image']!r} leaves the data folder")
    row["image_path"] = str(image)
    return row


def load_image(path: str):
    """Open an image as 8-bit RGB (see `to_rgb`), or raise a UserError naming the file."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return to_rgb(img)
    except FileNotFoundError:
        raise UserError(f"image {path} does not exist") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # PIL's own message often repeats the path; the reason alone is enough after ours.
        reason = str(exc).replace(f"'{path}'", "").replace(str(path), "").strip(" :")
        raise UserError(f"image {path} is corrupt or not an image ({reason or type(exc).__name__}); "
                        "replace it (or, for a generated split, delete its split folder to "
                        "regenerate it)") from None


# PIL modes with more than 8 bits per pixel, which `convert("RGB")` clips instead of scaling.
WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def to_rgb(img):
    """An 8-bit RGB copy of a PIL image. 16-bit, 32-bit and float greyscale images are scaled to
    0..255 first (by their type's range: 16-bit / 257, float in [0, 1] * 255; other ranges are
    stretched from their minimum to their maximum): PIL's own `convert("RGB")` clips them, so a
    16-bit PNG comes out almost all white and a float TIFF all black."""
    if img.mode not in WIDE_MODES:
        return img.convert("RGB")
    import numpy as np
    from PIL import Image

    values = np.nan_to_num(np.asarray(img, dtype=np.float64))
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if img.mode == "F" and low >= 0 and high <= 1:
        values = values * 255
    elif img.mode.startswith("I;16") or (low >= 0 and 255 < high <= 65535 and img.mode == "I"):
        values = values / 257
    elif not (low >= 0 and high <= 255):
        values = (values - low) * (255 / (high - low)) if high > low else values * 0
    gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return Image.fromarray(gray, "L").convert("RGB")
