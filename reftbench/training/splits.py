"""The training and test samples a run uses, shared by every trainer (same data, same seed).

They come from the generated splits, or from a real-data folder when the config's `data` is set
(the Curr-ReFT release, reftbench/data/release.py, or reftbench/data/refdata.py's flat convention): its
train rows for training, its id/ood rows as the test splits. Replay rows for Curr-ReFT's SFT
stage come from the general mixture or the config's `replay_data` file.

Every gold box is in the frame the model sees (reftbench/scoring/frames.py): the run's start
model's processor under the run's pixel bounds, so SFT targets, GRPO rewards and rejection
sampling all read boxes the way the evaluation scores them.
"""

from __future__ import annotations

import random
from functools import lru_cache

from reftbench.data.generated import load_split, task_records
from reftbench.errors import UserError
from reftbench.samples import TEST_SPLITS, TIERS
from reftbench.scoring.frames import BOX_METRICS, in_model_frame, resize_of


@lru_cache(maxsize=8)
def _resize(model: str, min_pixels: int | None, max_pixels: int | None):
    from reftbench.model.load import load_processor
    from reftbench.model.names import resolve_model
    from reftbench.model.processor import set_image_pixels

    return resize_of(set_image_pixels(load_processor(resolve_model(model)), min_pixels, max_pixels))


def in_run_frame(cfg, samples: list[dict]) -> list[dict]:
    """`samples` with their gold boxes in the frame the run's model sees (the processor is only
    read when some sample is scored by a box)."""
    if not any(s.get("metric") in BOX_METRICS for s in samples):
        return samples
    return in_model_frame(samples, _resize(cfg.model, cfg.min_pixels, cfg.max_pixels))[0]


def train_samples(cfg, tiers: tuple[str, ...] = TIERS, limit_per_family: int | None = None,
                  shuffle_seed: int | None = None) -> list[dict]:
    """Train-split samples of the configured families at the given tiers (less those that
    appear in a test split, with `drop_overlap`)."""
    out = _train_rows(cfg, tiers, limit_per_family, shuffle_seed)
    if getattr(cfg, "drop_overlap", False):
        leaked = {train_id for train_id, _ in overlap(cfg)}
        out = [s for s in out if s["id"] not in leaked]
    return in_run_frame(cfg, out)


def overlap(cfg) -> list[tuple[str, str]]:
    """(train id, test id) pairs of the run's data that share image and question."""
    from reftbench.training.overlap import find_overlap

    return find_overlap(_train_rows(cfg, TIERS), test_samples(cfg), perceptual=bool(cfg.data))


def _train_rows(cfg, tiers: tuple[str, ...], limit_per_family: int | None = None,
                shuffle_seed: int | None = None) -> list[dict]:
    out = []
    for family in cfg.families:
        rows = task_records(family, "train", tiers, data=cfg.data, strict=cfg.data_strict,
                            n=cfg.n_train, seed=cfg.data_seed, image_root=cfg.data_image_root)
        if not rows and not cfg.data:  # a real-data folder need not hold every family and tier
            raise UserError(f"the {family} train split has no samples at tier(s) {', '.join(tiers)}")
        if shuffle_seed is not None:
            rows = rows[:]
            random.Random(shuffle_seed).shuffle(rows)
        out.extend(rows[:limit_per_family] if limit_per_family else rows)
    if cfg.data and not out:
        raise UserError(f"{cfg.data} has no train rows of {', '.join(cfg.families)} "
                        f"at tier(s) {', '.join(tiers)}")
    return out


def test_samples(cfg) -> list[dict]:
    """Every test-split sample of the configured families, all tiers."""
    return [r for family in cfg.families for split in TEST_SPLITS
            for r in task_records(family, split, data=cfg.data, strict=cfg.data_strict,
                                  n=cfg.n_test, seed=cfg.data_seed,
                                  image_root=cfg.data_image_root)]


def replay_samples(cfg, n: int) -> list[dict]:
    """`n` replay examples: rows of the config's `replay_data` file when set (reftbench/
    training/replay.py), else of the base model's general mixture (its own train split)."""
    if n <= 0:
        return []
    if cfg.replay_data:
        from reftbench.training.replay import load_replay

        rows = load_replay(cfg.replay_data, cfg.replay_image_root, cfg.data_strict)
    else:
        rows = load_split("general", "train", seed=cfg.data_seed)
    rows = rows[:]
    random.Random(cfg.seed).shuffle(rows)
    return in_run_frame(cfg, rows[:n])
