"""Real data: a folder of Curr-ReFT JSONL (or a `datasets` folder) read as reftbench records.

    reftbench eval --model PATH --data DIR [--strict]
    reftbench train curr-reft --data DIR
    load_records("DIR", "math", "id", tiers=("open",))   # what both of them call

Folder convention. A JSONL file's split is its name: `DIR/train.jsonl` (training), `DIR/id.jsonl`
or `DIR/test.jsonl` (in-domain test), `DIR/ood.jsonl` (out-of-domain test). A split may instead
be a folder of any number of JSONL files (`DIR/train/*.jsonl`, `DIR/id/`, `DIR/test/`,
`DIR/ood/`), so per-task files can be dropped in as they are. Any other `*.jsonl` directly in
DIR is not read (a warning says so). Image paths are relative to DIR, whichever file names them.

Row format (the reference Curr-ReFT data): `problem` (the question; every `<image>` tag is
removed, the prompt adds the image itself), `solution` (`<answer>...</answer>`; its inside is
the answer), `task` (`detection`, `classify` or `math`, or a reftbench family name) and `image`.
The tier is inferred from the answer:

- yes/no, true/false or correct/incorrect (any case)
                                  -> judge, answer "yes"/"no", metric yes_no
- letters such as "B", "A, C"     -> choice, answer "A,C", metric letters; the options are read
                                     from the problem ("A. x", "A) x", "(A) x", "A: x", one per
                                     line or inline) and must include every answer letter; a
                                     lower-case "b" is a choice too when the problem lists
                                     options; more than eight options (A to H) is a bad row
- anything else                   -> open, metric by family: detection box_iou (the answer must
                                     be a box "[x1, y1, x2, y2]"), classification label_set_iou,
                                     math math_equiv

A record's id is `<file>-<line>` (the file's path in DIR without `.jsonl`, `/` as `-`), e.g.
`train-12` or `id-math-3`; base_id is the id (real rows do not group into scenes).

A `datasets` folder (`datasets.load_from_disk(DIR)`: a Dataset or a DatasetDict) holds rows that
already have reftbench's record fields (reftbench/samples.py), `image` relative to DIR; each
row's own `split` field says which split it is in.

Bad rows. Invalid (or absurdly nested) JSON, a missing field, text that is not valid Unicode
(a lone surrogate), a number of over 4,300 digits, a question over MAX_QUESTION_CHARS, an
answer over MAX_ANSWER_CHARS, an unknown task, an answer its own metric would not score as
correct (an unparseable box, letters that are not among the options, ...), an image path
outside DIR, an image that does not exist or is a folder, is empty or corrupt, is larger than
MAX_IMAGE_PIXELS or has sides more than MAX_ASPECT times apart: each is logged with its file and line and skipped, and a count
ends the report; with `strict=True` (`--strict`) the first one stops the run with one UserError
line. A box answer outside its image is kept with a warning. Only regular files are read (a
folder or a pipe named `id.jsonl` is reported, not opened), and a UTF-8 byte-order mark is
ignored. A folder is read once per process (until its files change).
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import re
import sys
from pathlib import Path

from tasks import open_metrics

from reftbench.errors import UserError
from reftbench.scoring.rewards import MAX_ANSWER_CHARS, extract_answer, score
from reftbench.samples import FAMILIES, LETTERS, REQUIRED_FIELDS, SPLITS, TIERS

log = logging.getLogger(__name__)

# File or folder name in DIR -> split. "test" is the reference data's name for in-domain test.
SPLIT_NAMES = {"train": "train", "id": "id", "test": "id", "ood": "ood"}
# Reference `task` -> reftbench family: the reference data calls classification "classify";
# family names are accepted as they are.
TASK_FAMILIES = {"classify": "classification", **{family: family for family in FAMILIES}}
# What an unknown task is told to be instead.
KNOWN_TASKS = ", ".join(TASK_FAMILIES)
# Metric of an open-tier answer, per family (from the task registry).
OPEN_METRICS = open_metrics()
# Judge answers in the reference data's forms (its judge files also say correct/incorrect).
JUDGE_ANSWERS = {"yes": "yes", "true": "yes", "correct": "yes",
                 "no": "no", "false": "no", "incorrect": "no"}
ROW_FIELDS = ("problem", "solution", "task", "image")
# Bad rows listed one by one in the log; beyond this only the count is reported.
MAX_LISTED = 20
# Longest question kept, in characters: far beyond any real one, and short enough that a
# prompt never approaches a model's context (a 1 MB question would try to allocate terabytes).
MAX_QUESTION_CHARS = 20_000
# Largest image kept, in pixels (PIL's own decompression-bomb limit, about 89 megapixels).
MAX_IMAGE_PIXELS = 89_478_485
# Longest side over shortest side of an image kept: Qwen2-VL's processor raises beyond 200.
MAX_ASPECT = 200

# One letter set: "B", "A,C", "A, C", "(A) (C)", "A C." (any letter, so that a tenth option's
# "J" is not taken for an open answer; lower case only when the problem lists options, since
# "a" alone may be a variable).
_LETTER_ANSWER = re.compile(r"\(?[A-Z]\)?(?:(?:\s*,\s*|\s+)\(?[A-Z]\)?)*\.?")
# An option marker, at a line start or after whitespace: "(A)", "A:", or "A." / "A)" then space.
_OPTION = re.compile(r"(?:^|(?<=\s))(?:\(([A-Z])\)|([A-Z]):|([A-Z])[.)](?=\s))", re.MULTILINE)
# Every letter an option run may reach (only LETTERS, A to H, are scored).
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_cache: dict[tuple, list[dict]] = {}


class BadRow(Exception):
    """Why one row cannot be used (the caller adds file and line)."""


def load_records(data, family: str, split: str, tiers=TIERS, strict: bool = False) -> list[dict]:
    """The folder's records of one family and split at `tiers`, in file order."""
    return [dict(r) for r in read_folder(data, strict)
            if r["family"] == family and r["split"] == split and r["tier"] in tiers]


def data_folder(data) -> Path:
    """`data` as a folder Path, or a UserError."""
    folder = Path(data).expanduser()
    if not folder.is_dir():
        raise UserError(f"data folder {data} does not exist (or is not a folder)")
    return folder


def read_folder(data, strict: bool = False) -> list[dict]:
    """Every usable record in the folder (cached while its files are unchanged)."""
    folder = data_folder(data)
    is_dataset = (folder / "dataset_dict.json").exists() or (folder / "state.json").exists()
    pairs, strays = ([], []) if is_dataset else split_files(folder)
    files = sorted(folder.rglob("*")) if is_dataset else [path for path, _ in pairs]
    key = (str(folder.resolve()), strict,
           tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file()))
    if key not in _cache:
        for message in strays:
            if strict:
                raise UserError(message)
            log.warning(message)
        problems: list[str] = []
        records = _dataset_records(folder, problems, strict) if is_dataset \
            else _jsonl_records(folder, pairs, problems, strict)
        _report(folder, problems)
        if not records:
            raise UserError(f"{folder} has no usable rows; see reftbench/data/refdata.py for the format")
        _cache[key] = records
    return _cache[key]


def split_files(folder: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """(JSONL file, split) pairs by the folder convention, and why each other JSONL path is not
    read (a top-level file with another name; a folder, pipe or device named like a data file:
    opening a pipe would wait forever)."""
    found, strays = [], []
    for path in sorted(folder.glob("*.jsonl")):
        if not path.is_file():
            strays.append(f"{path}: not read: not a regular file")
        elif path.stem in SPLIT_NAMES:
            found.append((path, SPLIT_NAMES[path.stem]))
        else:
            strays.append(f"{path}: not read: name it train.jsonl, id.jsonl (or test.jsonl) or "
                          "ood.jsonl, or move it into a train/, id/ or ood/ folder")
    for name, split in SPLIT_NAMES.items():
        for path in sorted((folder / name).glob("*.jsonl")):
            if path.is_file():
                found.append((path, split))
            else:
                strays.append(f"{path}: not read: not a regular file")
    if not found:
        skipped = f" ({strays[0]})" if strays else ""
        raise UserError(f"data folder {folder} has no train.jsonl, id.jsonl, test.jsonl or ood.jsonl "
                        f"(nor such folders of JSONL files), and is not a `datasets` folder{skipped}")
    return found, strays


def _jsonl_records(folder: Path, pairs, problems: list[str], strict: bool) -> list[dict]:
    records, images = [], ImageChecks(folder)
    for path, split in pairs:
        stem = "-".join(path.relative_to(folder).with_suffix("").parts)
        for number, row in jsonl_rows(path):
            where = f"{path}:{number}"
            try:
                if isinstance(row, BadRow):
                    raise row
                record = convert_row(row, split, f"{stem}-{number}", images)
                records.append(images.checked(record, where))
            except BadRow as exc:
                _bad_row(problems, strict, where, exc)
    _report_notes(images.notes)
    return records


def jsonl_rows(path: Path):
    """(line number, row dict or the BadRow saying why it is not one) for each non-blank line
    of a JSONL file (both data readers use it: this one and reftbench/data/release.py)."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)  # an editor's byte-order mark
            if not line.strip():
                continue
            try:
                yield number, _json(line)
            except BadRow as exc:
                yield number, exc


def _dataset_records(folder: Path, problems: list[str], strict: bool) -> list[dict]:
    from datasets import DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(str(folder))
    except Exception as exc:  # a damaged folder: datasets' own reason, on one line
        raise UserError(f"cannot load the datasets folder {folder}: {exc}".replace("\n", " ")) from None
    parts = loaded.items() if isinstance(loaded, DatasetDict) else [("", loaded)]
    records, seen, images = [], set(), ImageChecks(folder)
    for name, dataset in parts:
        for number, row in enumerate(dataset.to_list()):
            where = f"{folder} ({f'{name!r}, ' if name else ''}row {number})"
            try:
                records.append(images.checked(native_record(row, seen, images), where))
            except BadRow as exc:
                _bad_row(problems, strict, where, exc)
    _report_notes(images.notes)
    return records


def _bad_row(problems: list[str], strict: bool, where: str, exc: BadRow) -> None:
    """Note why the row at `where` is unusable; under `strict`, stop the run instead."""
    if strict:
        raise UserError(f"{where}: {exc} (--strict stops at the first bad row)") from None
    problems.append(f"{where}: {exc}")


def _report(folder: Path, problems: list[str]) -> None:
    """Log the skipped rows (the first MAX_LISTED one by one), then their count."""
    for problem in problems[:MAX_LISTED]:
        log.warning("skipped %s", problem)
    if problems:
        more = f", {len(problems) - MAX_LISTED} not listed" if len(problems) > MAX_LISTED else ""
        log.warning("%s: skipped %d malformed row(s)%s; --strict stops at the first instead",
                    folder, len(problems), more)


def _report_notes(notes: list[str]) -> None:
    """Log the rows kept with a doubt (the first MAX_LISTED one by one), then their count."""
    for note in notes[:MAX_LISTED]:
        log.warning("kept %s", note)
    if len(notes) > MAX_LISTED:
        log.warning("%d more row(s) kept with a warning, not listed", len(notes) - MAX_LISTED)


def _json(line: bytes) -> dict:
    try:
        row = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRow("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadRow(f"not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise BadRow("JSON nested too deeply to be a row") from None
    except ValueError:  # Python's limit on turning digits into an int
        raise BadRow(f"a number in it has over {sys.get_int_max_str_digits():,} digits") from None
    if not isinstance(row, dict):
        raise BadRow("a row must be a JSON object")
    return row


def convert_row(row: dict, split: str, row_id: str, images: ImageChecks) -> dict:
    """A reftbench record from one reference Curr-ReFT row (BadRow if it cannot be used);
    `images`: the read's ImageChecks, which resolve image paths inside its folder."""
    _require(row, ROW_FIELDS)
    family = TASK_FAMILIES.get(row["task"].strip().lower())
    if family is None:
        raise BadRow(f"unknown task {row['task']!r}; expected one of {KNOWN_TASKS}")
    answer = extract_answer(row["solution"])
    if answer is None and row["solution"].count("<answer>") == 1 == row["solution"].count(
            "</answer>"):
        inside = row["solution"].split("<answer>", 1)[1].split("</answer>", 1)[0]
        if len(inside) > MAX_ANSWER_CHARS:
            raise BadRow(f"answer is {len(inside):,} characters long; at most "
                         f"{MAX_ANSWER_CHARS:,} are scored")
    if answer is None or not answer.strip():
        raise BadRow("solution must hold exactly one non-empty <answer>...</answer>")
    question = re.sub(r"^\s*(?:<image>\s*)+", "", row["problem"]).replace("<image>", "").strip()
    record = {"id": row_id, "base_id": row_id, "family": family, "split": split,
              **infer_tier(family, question, answer.strip()),
              "image": row["image"], "image_path": images.path(row["image"])}
    return _checked(record)


def infer_tier(family: str, question: str, answer: str) -> dict:
    """{"tier", "question", "answer", "metric"} (+ "options" for choice) from the answer's shape."""
    word = answer.lower().removesuffix(".")
    if word in JUDGE_ANSWERS:
        return {"tier": "judge", "question": question, "answer": JUDGE_ANSWERS[word],
                "metric": "yes_no"}
    options = parse_options(question)
    letters = answer.upper() if options else answer
    if _LETTER_ANSWER.fullmatch(letters):
        chosen = sorted(set(re.findall(r"[A-Z]", letters)))
        if not options and chosen[-1] not in LETTERS:  # "X", "V": an open answer, not a choice
            return {"tier": "open", "question": question, "answer": answer,
                    "metric": OPEN_METRICS[family]}
        if not options:
            raise BadRow(f"answer {answer!r} is a letter choice but the problem lists no options "
                         "(lines or items like 'A. ...', '(A) ...', 'A: ...')")
        if len(options) > len(LETTERS):
            raise BadRow(f"the problem lists {len(options)} options; at most {len(LETTERS)} "
                         f"(A to {LETTERS[-1]}) are scored")
        if ALPHABET.index(chosen[-1]) >= len(options):
            raise BadRow(f"answer {answer!r} names a letter beyond the {len(options)} options")
        return {"tier": "choice", "question": question, "answer": ",".join(chosen),
                "metric": "letters", "options": options}
    return {"tier": "open", "question": question, "answer": answer, "metric": OPEN_METRICS[family]}


def parse_options(question: str) -> list[str]:
    """Option texts of the last run of markers A, B, C, ... in the question ([] if under two)."""
    runs, run = [], []
    for match in _OPTION.finditer(question):
        letter = next(g for g in match.groups() if g)
        if letter == "A":
            run = [match]
            runs.append(run)
        elif run and len(run) < len(ALPHABET) and letter == ALPHABET[len(run)]:
            run.append(match)
    run = next((r for r in reversed(runs) if len(r) >= 2), [])
    ends = [m.start() for m in run[1:]] + [len(question)]
    texts = [question[m.end():end] for m, end in zip(run, ends)]
    # The last option ends at its line's end (an instruction may follow on the next line).
    texts[-1:] = [texts[-1].strip().split("\n")[0]] if texts else []
    return [t.strip().rstrip(";,").strip() for t in texts]


def native_record(row: dict, seen: set, images: ImageChecks) -> dict:
    """A record from a `datasets` row that already has reftbench's fields (BadRow if unusable)."""
    _require(row, REQUIRED_FIELDS)
    record = {k: v for k, v in row.items() if v is not None}  # columns other rows fill
    for field, valid in (("family", FAMILIES), ("split", SPLITS), ("tier", TIERS)):
        if record[field] not in valid:
            raise BadRow(f"{field} {record[field]!r} is not one of {', '.join(valid)}")
    if record["id"] in seen:
        raise BadRow(f"duplicate id {record['id']!r}")
    seen.add(record["id"])
    record.setdefault("base_id", record["id"])
    record["image_path"] = images.path(record["image"])
    return _checked(record)


def _require(row: dict, fields) -> None:
    missing = [f for f in fields if f not in row or row[f] is None]
    if missing:
        raise BadRow(f"missing field(s) {', '.join(missing)}")
    not_text = [f for f in fields if not isinstance(row[f], str)]
    if not_text:
        raise BadRow(f"field(s) {', '.join(not_text)} must be strings")
    for f in fields:
        _check_text(f, row[f])


def _check_text(field: str, text: str) -> None:
    """BadRow for text no tokenizer or file can hold: a lone UTF-16 surrogate ("\\ud800" in
    JSON parses, then fails when the prompt is encoded, in the middle of a run)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRow(f"field {field} holds {text[exc.start]!r}, a lone surrogate, not a "
                     "character") from None


def _checked(record: dict) -> dict:
    """The record, if its text can be encoded and its own answer scores as correct: a row no
    answer can win is a data error."""
    for field in ("question", "answer"):
        _check_text(field, record[field])
    if len(record["question"]) > MAX_QUESTION_CHARS:
        raise BadRow(f"question is {len(record['question']):,} characters long; at most "
                     f"{MAX_QUESTION_CHARS:,} are read")
    try:
        accuracy = score(record, f"<answer>{record['answer']}</answer>")["accuracy"]
    except UserError as exc:  # an unknown metric name
        raise BadRow(str(exc)) from None
    if accuracy < 1.0:
        what = "a box [x1, y1, x2, y2]" if record["metric"] == "box_iou" else "a valid answer"
        raise BadRow(f"{record['tier']} answer {record['answer']!r} is not {what} "
                     f"for metric {record['metric']}")
    return record


class ImageChecks:
    """The image checks of one folder read: paths resolved with the folder resolved once (and
    each image folder once), each file opened once however many rows name it; rows kept with a
    doubt (a box outside its image) are noted in `notes`."""

    def __init__(self, folder: Path):
        self.folder = folder
        # The folder resolved once for the whole read (every row's image_path is inside it).
        self.root = str(folder.resolve())
        self.notes: list[str] = []
        self._sizes: dict[str, tuple[int, int] | BadRow] = {}
        self._dirs: dict[str, str] = {}

    def path(self, image: str) -> str:
        """The real path of an image named relative to the folder; BadRow if it leaves the folder
        (through "..", an absolute path or a symlink) or is not a file."""
        try:
            head, tail = os.path.split(os.path.join(self.root, image))
            if head not in self._dirs:
                self._dirs[head] = os.path.realpath(head)
            path = os.path.join(self._dirs[head], tail)
            if tail in ("", ".", "..") or os.path.islink(path):
                path = os.path.realpath(path)
        except (OSError, ValueError) as exc:  # a NUL byte, a symlink loop
            raise BadRow(f"image path {image!r} is unusable ({exc})") from None
        if not path.startswith(self.root + os.sep):
            raise BadRow(f"image path {image!r} leaves the data folder")
        if os.path.isdir(path):
            raise BadRow(f"image {image!r} is a folder, not a file")
        if not os.path.isfile(path):
            raise BadRow(f"image {image!r} does not exist in {self.folder}")
        return path

    def checked(self, record: dict, where: str) -> dict:
        """The record, if its image is readable (BadRow otherwise); a doubt goes to notes."""
        path = record["image_path"]
        if path not in self._sizes:
            try:
                self._sizes[path] = image_size(path)
            except BadRow as exc:
                self._sizes[path] = exc
        size = self._sizes[path]
        if isinstance(size, BadRow):
            raise BadRow(str(size))
        doubt = box_outside(record, size)
        if doubt:
            self.notes.append(f"{where}: {doubt}")
        return record


def image_size(path: str) -> tuple[int, int]:
    """(width, height) of an image file that opens and passes PIL's integrity check; BadRow if
    it is empty, corrupt, not an image, or over MAX_IMAGE_PIXELS (a decompression bomb)."""
    import warnings

    from PIL import Image

    name = Path(path).name
    bomb = BadRow(f"image {name} has over {MAX_IMAGE_PIXELS:,} pixels (a decompression bomb, "
                  "or far larger than any model reads)")
    if os.path.getsize(path) == 0:
        raise BadRow(f"image {name} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                size = img.size
                if size[0] * size[1] <= MAX_IMAGE_PIXELS:
                    img.verify()  # reads the data (PNG: every chunk's checksum), decodes nothing
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise bomb from None
    except Exception as exc:  # noqa: BLE001 (PIL reports damage as OSError, SyntaxError, ...)
        reason = str(exc).replace(str(path), name).splitlines()[0] if str(exc) else ""
        raise BadRow(f"image {name} is corrupt or not an image "
                     f"({reason or type(exc).__name__})") from None
    if size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise bomb
    if max(size) > MAX_ASPECT * min(size):
        raise BadRow(f"image {name} is {size[0]}x{size[1]} pixels: its sides are more than "
                     f"{MAX_ASPECT} times apart, which Qwen2-VL's processor refuses")
    return size


def box_outside(record: dict, size: tuple[int, int]) -> str | None:
    """Why a box answer lies outside its image (pixel coordinates), or None."""
    from reftbench.scoring.metrics import parse_box

    box = parse_box(record["answer"]) if record.get("metric") == "box_iou" else None
    width, height = size
    if box and (min(box) < 0 or box[0] > width or box[2] > width or box[1] > height
                or box[3] > height):
        return (f"box {record['answer']} lies outside its {width}x{height} image "
                f"{Path(record['image_path']).name}")
    return None
