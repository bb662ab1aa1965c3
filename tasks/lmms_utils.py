"""The lmms-eval hooks every family's YAML points at (`!function utils.doc_to_text`, ...).

Each family's `utils.py` re-exports these, so lmms-eval finds them beside the YAML while the
code lives once. Prompt and score come from reftbench itself (`reftbench.prompts`,
`reftbench.rewards`): evaluation through lmms-eval scores exactly as training rewards.

Images: a doc's `image_path` (absolute; `reftbench.data.read_records` adds it) is used when
present. Otherwise `image` is taken relative to the split folder
`$REFTBENCH_DATA_DIR/<family>/<split>/` (default data dir: `reftbench.paths.data_dir()`), the
layout the YAML's `data_files` use.
"""

import os
from pathlib import Path

from reftbench import paths
from reftbench.errors import UserError


def image_file(doc: dict) -> Path:
    """Where a doc's image is on disk (see the module docstring for the rule)."""
    if doc.get("image_path"):
        return Path(doc["image_path"])
    root = Path(os.environ.get("REFTBENCH_DATA_DIR") or paths.data_dir())
    return root / doc["family"] / doc["split"] / doc["image"]


def doc_to_visual(doc: dict) -> list:
    """The doc's image as a one-element list of RGB PIL images."""
    from PIL import Image

    path = image_file(doc)
    if not path.exists():
        raise UserError(f"image {path} of {doc.get('id', '?')} does not exist; set "
                        "REFTBENCH_DATA_DIR to the folder holding <family>/<split>/, "
                        "or give the doc an absolute image_path")
    with Image.open(path) as img:
        return [img.convert("RGB")]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The user text: question plus the one answer-format instruction."""
    from reftbench.prompts import prompt_text

    return prompt_text(doc)


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    """Score the first generation with reftbench's strict scorer.

    Returns format, accuracy, reward and, where the scorer gives one (detection boxes), iou;
    lmms-eval averages each metric over the docs that report it.
    """
    from reftbench.rewards import score

    scores = score(doc, results[0])
    # score() also returns the parsed "answer" text: metrics are the numeric entries only.
    return {name: float(value) for name, value in scores.items()
            if isinstance(value, (int, float))}
