"""The training and test samples a run uses, shared by every trainer (same data, same seed).

They come from the generated splits, or from a real-data folder when the config's `data` is set
(the Curr-ReFT release, reftbench/data/release.py, or reftbench/data/refdata.py's flat convention): its
train rows for training, its id/ood rows as the test splits. Replay rows for Curr-ReFT's SFT
stage come from the general mixture or the config's `replay_data` file.
"""

from __future__ import annotations

import random

from reftbench.data.generated import load_split, task_records
from reftbench.errors import UserError
from reftbench.samples import TEST_SPLITS, TIERS


def train_samples(cfg, tiers: tuple[str, ...] = TIERS, limit_per_family: int | None = None,
                  shuffle_seed: int | None = None) -> list[dict]:
    """Train-split samples of the configured families at the given tiers."""
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
    return rows[:n]
