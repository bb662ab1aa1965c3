"""The published Curr-ReFT data (`grpo_data/`), read as it is laid out.

    reftbench eval --model PATH --data grpo_data --image-root grpo_data/images
    reftbench train curr-reft --data grpo_data --data_image_root grpo_data/images
    read_release("grpo_data", image_root="grpo_data/images")   # what both of them call

A `--data` folder is read this way when `train/` or `test/` holds data files in subfolders, or
files named `*_train`, `*_val` or `*_test`, or `.json` files (`is_release`); any other folder
follows reftbench/data/refdata.py's flat convention. The release looks like this:

    grpo_data/images/...                                     every image
    grpo_data/train/judge/judge_math_train.jsonl             stage files, nested by stage
    grpo_data/train/open/coco_3k_2task/detection_coco_test.jsonl
    grpo_data/test/Refgta/refgta_subsample_resize.json       out-of-domain sets
    grpo_data/test/superclever/superclevr_test200_counting_problems.jsonl

- **Split**, per file: everything under `test/` is out of domain (`ood`); under `train/`, a
  `*_test` file is the in-domain test (`id`) and every other file (`*_train`, `*_val`: the
  reference trains on both) is training data. Data files anywhere else are not read (a warning
  says so; `images/` is never searched).
- **Tier**, per file: the first stage word (judge, choice, open) in its folder names, outer
  first, then in its file name (`train/judge/...`, `choice_detection_coco_train.jsonl`). A
  file with none (the `test/` sets) infers the tier from each answer (refdata.infer_tier; a
  correct/incorrect answer is judge too). A judge answer may be yes/no, true/false or
  correct/incorrect.
- **Family**: the row's `task` (detection, classify, math); a row without one takes the first
  family word in its file name, then its folders, innermost first (FAMILY_WORDS: `refgta` is
  detection, `pascal` classification, `superclevr` math, ...).
- **Rows**: JSONL lines or the items of a `.json` array, with `problem`, `solution` and
  `image`. A string solution is the inside of its one `<answer>...</answer>` (a
  `<thinking>`/`<think>` block before it is dropped), or the whole string when it has no answer
  tags; an integer or number is its text (`4` -> "4"); a list of four numbers is a box
  (`[x1, y1, x2, y2]`), a list of strings a label list, and a detection answer written as JSON
  (`{"bbox_2d": [...]}`) becomes its one box. RefGTA's `normalized_solution` (0-1 coordinates)
  and `resize_solution` (the box in a resized copy of the image) are other frames of the same
  box, not other right answers: the gold is `solution`, in the pixels of the image the row
  names (the reference evaluation accepted any of the three, i.e. three tries).
- **Images** resolve under the image root (`--image-root`; default `DIR/images`, else DIR):
  a relative or absolute path from the authors' machine is tried by its trailing components,
  longest first (`/mnt/x/coco/train2014/a.jpg` -> `ROOT/coco/train2014/a.jpg`, then
  `ROOT/train2014/a.jpg`, then `ROOT/a.jpg`), then by file name when exactly one file under the
  root has it. A path with `..`, or one that resolves (through a link) outside the root, is
  refused.

A record's id is `<file path under DIR without suffix, / as ->-<line>` (`<item>` for a `.json`
array, counted from 1). Bad rows are skipped with a warning naming file and line, then a count,
or stop the run under `strict`, as in reftbench/data/refdata.py; every record must score 1 with its
own answer. A folder is read once per process (until its files change).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections import Counter
from pathlib import Path, PurePosixPath

from reftbench.errors import UserError
from reftbench.scoring.metrics import parse_box
from reftbench.data.refdata import (JUDGE_ANSWERS, KNOWN_TASKS, OPEN_METRICS, TASK_FAMILIES,
                                    BadRow, ImageChecks, _bad_row, _checked, _report,
                                    _report_notes, infer_tier, jsonl_rows)
from reftbench.scoring.rewards import extract_answer

log = logging.getLogger(__name__)

DATA_SUFFIXES = (".jsonl", ".json")
# File-name endings -> split, for files under train/ (everything under test/ is ood).
SUFFIX_SPLITS = {"_train": "train", "_val": "train", "_test": "id"}
# Words in file and folder names that name a tier or a family (split on non-letters/digits).
TIER_WORDS = {"judge": "judge", "choice": "choice", "open": "open"}
FAMILY_WORDS = {
    **TASK_FAMILIES,  # every family's own name (and the reference data's "classify")
    **{w: "detection" for w in ("detection", "det", "rec", "refcoco", "refgta", "grounding")},
    **{w: "classification" for w in ("classify", "classification", "cls", "pascal", "voc")},
    **{w: "math" for w in ("math", "geo", "geometry", "counting", "clevr", "superclevr",
                           "superclever")},
}
_THINKING = re.compile(r"<(think|thinking)>.*?</\1>", re.DOTALL)
# Files an image root's search by name looks at, at most: far more than a data release holds,
# and `--image-root /` would otherwise walk the whole file system.
MAX_INDEXED = 100_000

_cache: dict[tuple, list[dict]] = {}


def is_release(folder: Path) -> bool:
    """True when `folder` is laid out like the Curr-ReFT release (see the module docstring)."""
    for top in ("train", "test"):
        for path in _data_files(folder / top):
            if (len(path.relative_to(folder / top).parts) > 1 or path.suffix == ".json"
                    or _suffix_split(path) is not None):
                return True
    return False


def release_files(folder: Path) -> list[tuple[Path, str, str | None, str | None]]:
    """(file, split, tier or None, family or None) for every data file of a release folder."""
    found = []
    for top in ("train", "test"):
        for path in _data_files(folder / top):
            split = "ood" if top == "test" else (_suffix_split(path) or "train")
            inner = path.relative_to(folder / top)
            folders = [_words(part) for part in inner.parts[:-1]]
            stem = _words(path.stem)
            tier = _first_word([*folders, stem], TIER_WORDS)
            family = _first_word([stem, *reversed(folders)], FAMILY_WORDS)
            found.append((path, split, tier, family))
    return found


def read_release(data, strict: bool = False, image_root=None) -> list[dict]:
    """Every usable record of a release folder (cached while its files are unchanged)."""
    folder = Path(data).expanduser()
    root = image_root_of(folder, image_root)
    files = release_files(folder)
    key = (str(folder.resolve()), str(root), strict,
           tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f, *_ in files))
    if key not in _cache:
        _warn_unread(folder, strict)
        images, problems, records = ImageRoot(root), [], []
        checks = ImageChecks(root)  # the files' own checks: empty, corrupt, a bomb, a box outside
        for path, split, tier, family in files:
            stem = "-".join(path.relative_to(folder).with_suffix("").parts)
            retiered = Counter()
            for where, number, row in data_rows(path, problems, strict):
                try:
                    record = release_record(row, split, tier, family, images, f"{stem}-{number}")
                    records.append(checks.checked(record, where))
                except BadRow as exc:
                    _bad_row(problems, strict, where, exc)
                    continue
                if tier is None and record["tier"] != "open":
                    retiered[record["tier"]] += 1
            _report_retiered(path, retiered)
        _report_notes(checks.notes)
        _report(folder, problems)
        if not records:
            raise UserError(f"{folder} has no usable rows; see reftbench/data/release.py for the layout")
        _cache[key] = records
    return _cache[key]


def _report_retiered(path: Path, counts: Counter) -> None:
    """Say how many rows of a file without a stage folder were read as judge or choice
    questions from their answers: the default evaluation (open tier) does not score them."""
    for tier, count in sorted(counts.items()):
        log.warning("%s: %d row(s) answered like %s questions are read as that tier and scored "
                    "only with --tiers %s, not in the open-tier evaluation", path, count, tier, tier)


def image_root_of(folder: Path, image_root) -> Path:
    """The resolved image root: `image_root` if given (a folder), else DIR/images, else DIR."""
    if image_root:
        root = Path(image_root).expanduser()
        if not root.is_dir():
            raise UserError(f"image root {image_root} does not exist (or is not a folder)")
        return root.resolve()
    return (folder / "images" if (folder / "images").is_dir() else folder).resolve()


def release_record(row: dict, split: str, tier: str | None, family: str | None,
                   images: "ImageRoot", row_id: str) -> dict:
    """A reftbench record from one release row (BadRow if it cannot be used)."""
    for field in ("problem", "solution", "image"):
        if row.get(field) is None:
            raise BadRow(f"missing field {field}")
    if not isinstance(row["problem"], str):
        raise BadRow("field problem must be a string")
    task = row.get("task")
    if task is not None:
        family = TASK_FAMILIES.get(str(task).strip().lower())
        if family is None:
            raise BadRow(f"unknown task {task!r}; expected one of {KNOWN_TASKS}")
    elif family is None:
        raise BadRow("no task field, and the file and folder names name no family")
    answer = solution_text(row["solution"], family)
    question = re.sub(r"^\s*(?:<image>\s*)+", "", row["problem"]).replace("<image>", "").strip()
    image = _image_name(row["image"])
    record = {"id": row_id, "base_id": row_id, "family": family, "split": split,
              **_tiered(family, tier, question, answer),
              "image": image, "image_path": images.find(image)}
    think = solution_reasoning(row["solution"])
    if think:  # SFT targets keep the release's own reasoning (reftbench/training/datasets.py)
        record["think"] = think
    return _checked(record)


# Longest reasoning kept from a solution; a longer trace is cut at a word boundary.
MAX_THINK_CHARS = 2000


def solution_reasoning(solution) -> str:
    """The text of a string solution's `<thinking>`/`<think>` block (stage-3 rows carry the
    reasoning that led to the answer), whitespace-collapsed; "" when it has none."""
    if not isinstance(solution, str):
        return ""
    match = _THINKING.search(solution)
    if match is None:
        return ""
    inner = solution[match.start():match.end()]
    inner = re.sub(r"^<(?:think|thinking)>|</(?:think|thinking)>$", "", inner)
    text = " ".join(inner.split())
    if len(text) > MAX_THINK_CHARS:
        text = text[:MAX_THINK_CHARS].rsplit(" ", 1)[0]
    # Its own tags would break the target's format.
    return "" if any(tag in text for tag in ("<think>", "</think>", "<answer>", "</answer>")) else text


def solution_text(solution, family: str) -> str:
    """The answer text of a row's solution, whatever its JSON type (BadRow if there is none)."""
    if isinstance(solution, bool):
        raise BadRow(f"solution {solution!r} is not an answer")
    if isinstance(solution, (int, float)):
        if not math.isfinite(solution):
            raise BadRow(f"solution {solution!r} is not a finite number")
        return _number(solution)
    if isinstance(solution, list):
        if len(solution) == 4 and all(_is_number(v) for v in solution):
            return _box_text(solution)
        if solution and all(isinstance(v, str) for v in solution):
            return ", ".join(v.strip() for v in solution)
        raise BadRow("a list solution must be a box of four numbers or a list of labels")
    if not isinstance(solution, str):
        raise BadRow(f"solution must be text, a number or a list, not {type(solution).__name__}")
    text = _THINKING.sub("", solution).strip()
    if "<answer>" in text or "</answer>" in text:
        text = extract_answer(text)
        if text is None:
            raise BadRow("solution must hold exactly one <answer>...</answer>")
    text = text.strip()
    if not text:
        raise BadRow("solution has an empty answer")
    if family == "detection" and "{" in text:  # stage-3 JSON: {"bbox_2d": [...], ...}
        return _json_gold_box(text)
    return text


class ImageRoot:
    """Finds a row's image under one root folder, never outside it (see the module docstring)."""

    def __init__(self, root: Path):
        self.root = root
        self._found: dict[str, str] = {}
        self._by_name: dict[str, list[Path]] | None = None
        # Whether the search by name stopped at MAX_INDEXED files.
        self._cut_short = False

    def find(self, image: str) -> str:
        """The absolute path of `image` under the root; BadRow if unusable or not there."""
        if image not in self._found:
            self._found[image] = self._find(image)
        return self._found[image]

    def _find(self, image: str) -> str:
        if not image or "\x00" in image:
            raise BadRow(f"image path {image!r} is unusable")
        parts = [p for p in PurePosixPath(image.replace("\\", "/")).parts if p != "/"]
        if ".." in parts:
            raise BadRow(f"image path {image!r} leaves the image root")
        for start in range(len(parts)):
            found = self._inside(self.root.joinpath(*parts[start:]), image)
            if found:
                return found
        if parts and self.root.joinpath(*parts).is_dir():
            raise BadRow(f"image {image!r} is a folder, not a file")
        named = self._names().get(parts[-1], []) if parts else []
        if len(named) == 1:
            return self._inside(named[0], image)
        many = f" ({len(named)} files have its name)" if named else ""
        if self._cut_short and not named:
            raise BadRow(f"image {image!r} is not under {self.root} (its name was looked for "
                         f"among the first {MAX_INDEXED:,} files only); pass a narrower "
                         "--image-root")
        raise BadRow(f"image {image!r} is not under {self.root}{many}; pass --image-root")

    def _inside(self, candidate: Path, image: str) -> str | None:
        """The resolved file if it exists inside the root; BadRow if it resolves outside."""
        try:
            if not candidate.is_file():
                return None
            real = candidate.resolve()
        except (OSError, ValueError) as exc:  # a symlink loop, a name too long
            raise BadRow(f"image path {image!r} is unusable ({exc})") from None
        if self.root not in real.parents:
            raise BadRow(f"image path {image!r} leaves the image root")
        return str(real)

    def _names(self) -> dict[str, list[Path]]:
        """File name -> files under the root, built once on the first miss: the root's own
        folders only (links to folders are not followed, other file systems mounted inside it
        are not entered), and at most MAX_INDEXED files, so a root such as / is not searched
        whole."""
        if self._by_name is None:
            self._by_name, seen = {}, 0
            device = os.stat(self.root).st_dev
            for folder, dirs, files in os.walk(self.root):
                dirs[:] = sorted(d for d in dirs if _device(Path(folder) / d) == device)
                for name in sorted(files):
                    self._by_name.setdefault(name, []).append(Path(folder) / name)
                seen += len(files)
                if seen >= MAX_INDEXED:
                    self._cut_short = True
                    break
        return self._by_name


def _device(path: Path) -> int | None:
    """The file system a folder is on (None if it cannot be read)."""
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def _data_files(top: Path) -> list[Path]:
    return sorted(p for p in top.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file()) \
        if top.is_dir() else []


def _suffix_split(path: Path) -> str | None:
    return next((split for end, split in SUFFIX_SPLITS.items() if path.stem.endswith(end)), None)


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]


def _first_word(word_lists, table: dict) -> str | None:
    return next((table[w] for words in word_lists for w in words if w in table), None)


def _warn_unread(folder: Path, strict: bool) -> None:
    """Name the data files the layout does not read (outside train/ and test/)."""
    for path in sorted(folder.glob("*")):
        if path.suffix in DATA_SUFFIXES and path.is_file():
            message = f"{path}: not read: a release keeps its data in train/ and test/"
            if strict:
                raise UserError(message)
            log.warning(message)


def data_rows(path: Path, problems: list[str], strict: bool):
    """(where, number, row dict) for each row of a JSONL file or a JSON array file."""
    if path.suffix == ".json":
        try:
            items = json.loads(path.read_bytes().decode("utf-8-sig"))  # an editor's BOM
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            _bad_row(problems, strict, str(path), BadRow(f"not a valid JSON file ({exc})"))
            return
        if not isinstance(items, list):
            _bad_row(problems, strict, str(path), BadRow("a .json data file must hold an array"))
            return
        lines = ((number, item) for number, item in enumerate(items, 1))
    else:
        lines = jsonl_rows(path)
    for number, row in lines:
        where = f"{path}:{number}"
        if isinstance(row, BadRow) or not isinstance(row, dict):
            _bad_row(problems, strict, where,
                     row if isinstance(row, BadRow) else BadRow("a row must be a JSON object"))
        else:
            yield where, number, row


def _tiered(family: str, tier: str | None, question: str, answer: str) -> dict:
    """{"tier", "question", "answer", "metric"} (+ "options"): the file's tier, else inferred."""
    word = JUDGE_ANSWERS.get(answer.lower().removesuffix("."))
    if tier is None:
        return infer_tier(family, question, answer)
    if tier == "judge":
        if word is None:
            raise BadRow(f"judge answer {answer!r} is not yes/no, true/false or correct/incorrect")
        return {"tier": "judge", "question": question, "answer": word, "metric": "yes_no"}
    if tier == "choice":
        found = infer_tier(family, question, answer)
        if found["tier"] != "choice":
            raise BadRow(f"choice answer {answer!r} is not a set of option letters")
        return found
    return {"tier": "open", "question": question, "answer": answer, "metric": OPEN_METRICS[family]}


def _image_name(image) -> str:
    """The row's image path (a list of one path, as some chat datasets write it, is accepted)."""
    if isinstance(image, list) and len(image) == 1:
        image = image[0]
    if not isinstance(image, str):
        raise BadRow("field image must be a path")
    return image


def _json_gold_box(text: str) -> str:
    """The one box of a JSON detection answer, as "[x1, y1, x2, y2]"."""
    box = parse_box(text)
    if box is None:
        try:
            value = json.loads(text)
        except ValueError:
            raise BadRow(f"detection answer {text[:60]!r} is neither a box nor JSON") from None
        boxes = [v for v in (value.values() if isinstance(value, dict) else [])
                 if isinstance(v, list) and len(v) == 4 and all(_is_number(x) for x in v)]
        if len(boxes) != 1:
            raise BadRow(f"detection answer {text[:60]!r} does not hold exactly one box")
        box = boxes[0]
    return _box_text(box)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _box_text(box) -> str:
    return "[" + ", ".join(_number(v) for v in box) + "]"

