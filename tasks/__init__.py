"""Task families: one folder per family (generator, lmms-eval YAML, utils), shared code beside.

`FAMILIES` maps a family name to its generator module as a plain string, so listing families
imports nothing heavy (no PIL, numpy or torch); `family_module` imports one on demand. Every
generator module exposes the same two functions (see `tasks/common.py` for how they are used):

    make_scene(split, index, rng) -> (PIL image, scene dict)
    make_tiers(scene, rng)        -> {"judge": {...}, "choice": {...}, "open": {...}}

To add a family: copy `tasks/math/`, rename, and add a line here.
"""

import importlib

# Bump when any generator's output changes: cached splits are keyed by it.
DATA_VERSION = 8

FAMILIES = {
    "detection": "tasks.detection.generate",
    "classification": "tasks.classification.generate",
    "math": "tasks.math.generate",
    # Not a benchmark family: the embedded base model's general mixture (and replay data).
    "general": "tasks.general.generate",
}


def family_module(family: str):
    """The generator module of `family` (imported on first use)."""
    return importlib.import_module(FAMILIES[family])
