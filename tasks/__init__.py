"""Task families: one folder per family (generator, lmms-eval YAML, utils), shared code beside.

`FAMILIES` is the one list of families: what every other list of them (the CLI's choices,
the evaluator's defaults, the leaderboard's columns, the real-data readers' metrics, the
general mixture's borrowed questions) is read from. Each entry names its generator module as a
plain string, so listing families imports nothing heavy (no PIL, numpy or torch);
`family_module` imports one on demand. Every generator module exposes the same two functions
(see `tasks/common.py` for how they are used):

    make_scene(split, index, rng) -> (PIL image, scene dict)
    make_tiers(scene, rng)        -> {"judge": {...}, "choice": {...}, "open": {...}}

and may set `GENERAL_SCENE_ARGS`, keyword arguments the general mixture passes to its
`make_scene` (tasks/math: the half of the handwritten digits the test splits never use).

To add a family: copy `tasks/math/` to `tasks/<name>/`, rename its two YAML files and the task
names in them, and add a line here. docs/tasks.md walks through it.
"""

import importlib
from dataclasses import dataclass

# Bump when any generator's output changes: cached splits are keyed by it. Adding a benchmark
# family changes the general mixture (it borrows questions from every benchmark family).
DATA_VERSION = 9


@dataclass(frozen=True)
class Family:
    """One task family: where its scenes come from and how its open answers are scored."""

    # Generator module, imported only when scenes are made.
    generator: str
    # The `reftbench.scoring.rewards` metric of its open-tier answers (the same one its generator
    # writes into each record): what real-data rows of this family are scored by. None for
    # the general mixture, whose questions each name their own.
    open_metric: str | None
    # A benchmark family is evaluated, trained on, shown on the leaderboard and borrowed by
    # the general mixture; the general mixture itself is not one.
    benchmark: bool = True
    # Its leaderboard heading, one short word so an 80-column table never splits it ("" = the
    # name itself).
    short: str = ""


FAMILIES = {
    "detection": Family("tasks.detection.generate", "box_iou", short="det"),
    "classification": Family("tasks.classification.generate", "label_set_iou", short="cls"),
    "math": Family("tasks.math.generate", "math_equiv"),
    # Not a benchmark family: the embedded base model's general mixture (and replay data).
    "general": Family("tasks.general.generate", None, benchmark=False, short="gen"),
}


def benchmark_families() -> tuple[str, ...]:
    """The benchmark families' names, in registry order."""
    return tuple(name for name, family in FAMILIES.items() if family.benchmark)


def open_metrics() -> dict[str, str]:
    """Benchmark family -> the metric of its open-tier answers."""
    return {name: FAMILIES[name].open_metric for name in benchmark_families()}


def family_module(family: str):
    """The generator module of `family` (imported on first use)."""
    return importlib.import_module(FAMILIES[family].generator)
