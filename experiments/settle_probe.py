"""Does a short plain stretch of the general mixture undo a candidate's classification collapse?

Candidates built with comparison text (a comparison phase and rehearsals) compare boxes and
numbers inside the image questions but name three shapes whatever the classification image.
This script continues such a base for `--steps` steps on the base build's own general mixture
(the same scenes, repeats and batch; `--chat N` keeps N chat-form rehearsal questions per step,
`reftbench/base_build/compare_rehearsal.py`), at a low learning rate, and saves the result, so the existing
probes can score it on held-back train scenes:

    python experiments/settle_probe.py --model /tmp/cand --steps 200 --lr 1e-4 --output /tmp/settled
    python experiments/compare_probe.py --model /tmp/settled --no-append
    python experiments/rl_probe.py --trainer none --model /tmp/settled --no-append

It prints its training loss at the start and the end and the wall time; it writes nothing to
results/ (the scoring scripts do).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def settle(model: str, steps: int, lr: float, chat: int, output: Path) -> Path:
    """Continue `model` on the general mixture for `steps` steps; the saved model's folder."""
    from dataclasses import replace

    from reftbench.base_build.recipe import BASE_PRESETS, BaseConfig, _sft_trainer, base_mixture
    from reftbench.data.generated import load_split
    from reftbench.training.datasets import sft_dataset

    # The shipped (tiny preset) build's mixture settings; one checkpoint, at the end.
    cfg = replace(BaseConfig(**BASE_PRESETS["tiny"]), save_steps=steps, logging_steps=10,
                  compare_rehearsal=0, compare_chat=chat)
    samples = load_split("general", "train", n=cfg.n_general, seed=cfg.data_seed)
    data = sft_dataset(base_mixture(samples, cfg.box_repeat, cfg.label_repeat,
                                    cfg.math_repeat)).shuffle(seed=cfg.seed)
    work = train_into(cfg, model, data, steps, lr, "settle", output, _sft_trainer(cfg, samples))
    rows = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in rows if "loss" in row]
    if losses:
        print(f"loss first {losses[0]:.3f}, last {losses[-1]:.3f}")
    return output


def train_into(cfg, model: str, data, steps: int, lr: float, stage: str, output: Path,
               trainer_cls=None) -> Path:
    """TRL SFT of `model` on `data` at cfg's batch size, in a fresh `OUTPUT.work` folder; the
    model is moved to `output` (replacing it) and the work folder (its metrics) returned."""
    from reftbench.training.sft_stage import run_sft

    work = output.with_name(output.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    saved = run_sft(cfg, model, data, work, steps, lr, cfg.sft_batch_size, stage, None,
                    trainer_cls)
    shutil.rmtree(output, ignore_errors=True)
    Path(saved).rename(output)
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="base model folder or name")
    parser.add_argument("--steps", type=int, default=200, help="mixture steps")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (cosine)")
    parser.add_argument("--chat", type=int, default=0,
                        help="chat-form rehearsal questions per step (0: none)")
    parser.add_argument("--output", type=Path, required=True, help="where the model is saved")
    args = parser.parse_args()
    start = time.time()
    print(settle(args.model, args.steps, args.lr, args.chat, args.output))
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
