"""The lmms-eval hooks every family's task shares (`!function lmms_utils.doc_to_text`, ...).

tasks/task_template.yaml names them, and every family's YAML includes that template; a
family's own `utils.py` holds only its `process_docs` hooks (`split_docs`). Prompt and score
come from reftbench itself (`reftbench.prompts`, `reftbench.scoring.rewards`): evaluation through
lmms-eval scores exactly as training rewards.

Data: lmms-eval must load *some* dataset before a task starts, so the template names a one-row
placeholder (`tasks/lmms_placeholder.jsonl`) and its `process_docs` hook (`split_docs`) swaps
it for the generated split, through `reftbench.data.generated.load_split` (generated on first use, cached
under `$REFTBENCH_HOME/data`). No path is written into the YAML, so the tasks work from any
folder and any install. Three environment variables choose which split and tiers:

    REFTBENCH_LMMS_SCENES   scenes per test split (default: reftbench.data.generated.DEFAULT_SIZES, 1000)
    REFTBENCH_LMMS_SEED     seed of the generated data (default 0)
    REFTBENCH_LMMS_TIERS    comma-separated tiers (default "open", what `reftbench eval` reports)

Images: a doc's `image_path` (absolute; `reftbench.data.generated.read_records` adds it) is used when
present. Otherwise `image` is taken relative to `$REFTBENCH_DATA_DIR/<family>/<split>/`
(default data dir: `reftbench.paths.data_dir()`).
"""

import os
from pathlib import Path

from reftbench import paths
from reftbench.errors import UserError

# The columns a doc keeps: everything prompting and scoring read (reftbench/samples.py).
DOC_FIELDS = ("id", "base_id", "family", "split", "tier", "image", "image_path", "question",
              "answer", "metric", "options")


def _env_int(name: str, default: int, minimum: int) -> int:
    """An integer environment setting (at least `minimum`), or a UserError naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < minimum:
        raise UserError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def split_settings(split: str) -> dict:
    """{"tiers", "n", "seed"} of a split from the REFTBENCH_LMMS_* settings, or a UserError."""
    from reftbench.data.generated import DEFAULT_SIZES
    from reftbench.registry import check_names
    from reftbench.samples import TIERS

    tiers = os.environ.get("REFTBENCH_LMMS_TIERS", "").strip() or "open"
    tiers = tuple(check_names("tier", [t.strip() for t in tiers.split(",")], TIERS))
    return {"tiers": tiers, "n": _env_int("REFTBENCH_LMMS_SCENES", DEFAULT_SIZES[split], 1),
            "seed": _env_int("REFTBENCH_LMMS_SEED", 0, 0)}


def split_docs(family: str, split: str):
    """A `process_docs` hook: ignores the placeholder and returns the generated split's docs."""

    def process_docs(placeholder):
        import datasets

        from reftbench.data.generated import load_split

        records = load_split(family, split, **split_settings(split))
        # Every doc gets every column (None where a record has none, e.g. options outside the
        # choice tier): Dataset.from_list takes its columns from the first row only.
        return datasets.Dataset.from_list([{k: r.get(k) for k in DOC_FIELDS} for r in records])

    process_docs.__name__ = process_docs.__qualname__ = f"{split}_docs"
    return process_docs


def sample(doc: dict) -> dict:
    """The reftbench sample behind a doc: its columns less the empty (None) ones."""
    return {key: value for key, value in doc.items() if value is not None}


def image_file(doc: dict) -> Path:
    """Where a doc's image is on disk (see the module docstring for the rule)."""
    if doc.get("image_path"):
        return Path(doc["image_path"])
    root = Path(os.environ.get("REFTBENCH_DATA_DIR") or paths.data_dir())
    return root / doc["family"] / doc["split"] / doc["image"]


def doc_to_visual(doc: dict) -> list:
    """The doc's image as a one-element list of RGB PIL images."""
    from reftbench.data.generated import load_image

    path = image_file(doc)
    if not path.exists():
        raise UserError(f"image {path} of {doc.get('id', '?')} does not exist; set "
                        "REFTBENCH_DATA_DIR to the folder holding <family>/<split>/, "
                        "or give the doc an absolute image_path")
    return [load_image(str(path))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The user text: question plus the one answer-format instruction."""
    from reftbench.prompts import prompt_text

    return prompt_text(sample(doc))


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    """Score the first generation with reftbench's strict scorer.

    Returns format, accuracy, reward and, where the scorer gives one (detection boxes), iou;
    lmms-eval averages each metric over the docs that report it.
    """
    from reftbench.scoring.rewards import score

    scores = score(sample(doc), results[0])
    # score() also returns the parsed "answer" text: metrics are the numeric entries only.
    return {name: float(value) for name, value in scores.items()
            if isinstance(value, (int, float))}
