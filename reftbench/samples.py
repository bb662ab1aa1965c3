"""The sample record every task produces and every trainer and evaluator consumes.

A sample is a plain JSON-serialisable dict (one JSONL row):

    id        str   unique within its family and split, the same across tiers plus a tier
                    suffix, e.g. "detection-id-000042-open"
    base_id   str   the id shared by the three tier versions of one scene, e.g. "detection-id-000042"
    family    str   a benchmark family of the task registry (tasks/__init__.py):
                    "detection" | "classification" | "math" as shipped
    split     str   "train" | "id" (in-domain test) | "ood" (out-of-domain test)
    tier      str   "judge" | "choice" | "open"
    image     str   path of the image, relative to the split folder ("images/000042.png");
                    loaders add "image_path", the absolute path
    question  str   everything the model must read besides the image (choice options are
                    rendered into it); the answer-format instruction is added by
                    `reftbench.prompts`, in one place
    answer    str   canonical text expected inside <answer>...</answer>:
                    "yes"/"no"; "B" or "A,C"; "[x1, y1, x2, y2]"; "circle, square"; "12"
    options   list[str]  choice tier only: option texts, lettered A, B, C, ... in order
    think     str   optional: the reasoning of the gold completion (generated judge and choice
                    records: "It is <the open answer>.", the fact the verdict checks); SFT
                    targets put it inside <think>, scoring never reads it
    metric    str   name of a registered accuracy function (`reftbench.scoring.rewards.registered_metrics`:
                    "yes_no", "letters", "box_iou", "label_set_iou", "math_equiv", or one a
                    plugin adds through the `reftbench.scoring.metrics` entry points)

Families may add fields (e.g. "box", "labels") for analysis; scoring reads only the above.
"""

from tasks import benchmark_families

# The benchmark families, read from the task registry once, at import (the defaults and
# listings use this; checks of a given name ask the registry, so a family registered at run
# time is accepted too).
FAMILIES = benchmark_families()
SPLITS = ("train", "id", "ood")
TEST_SPLITS = ("id", "ood")
TIERS = ("judge", "choice", "open")
LETTERS = "ABCDEFGH"
REQUIRED_FIELDS = ("id", "family", "split", "tier", "image", "question", "answer", "metric")
