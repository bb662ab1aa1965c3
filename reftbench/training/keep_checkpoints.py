"""Keep loadable models along a stage: every K-th checkpoint and/or the last N.

A stage's resumable checkpoints (TRL's `trainer/checkpoint-*`, optimiser state included) are
removed when it ends, so only its final `model/` survives by default. With `keep_every K` or
`keep_last N` the callback copies each kept checkpoint's weights and processor files into
`stages/<stage>/checkpoints/step-<N>/`, an ordinary model folder: `reftbench eval --model` scores
it and `--model` of another run starts from it. Copies the rule no longer keeps are removed as
the stage goes on. Sharded checkpoints (DeepSpeed ZeRO-3, FSDP) hold no whole weights and are
not copied (a warning says so once).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from transformers import TrainerCallback

log = logging.getLogger(__name__)

# Files of a Trainer checkpoint that belong to the model (the rest is optimiser, scheduler and
# RNG state, needed only to resume).
MODEL_FILES = ("*.safetensors", "*.safetensors.index.json", "config.json",
               "generation_config.json", "*processor_config.json", "tokenizer*", "special_tokens_map.json",
               "chat_template.*", "vocab.json", "merges.txt")


def kept_steps(steps: list[int], every: int, last: int) -> set[int]:
    """The steps a stage keeps among `steps`: multiples of `every` (0 = none) and the `last`
    newest (0 = none)."""
    chosen = {s for s in steps if every and s % every == 0}
    return chosen | set(sorted(steps)[-last:] if last else ())


class KeepCheckpoints(TrainerCallback):
    """Copy kept checkpoints out of the Trainer's folder as model folders (main process only)."""

    def __init__(self, stage_dir: Path, every: int, last: int, source: str):
        self.folder = Path(stage_dir) / "checkpoints"
        self.every, self.last, self.source = every, last, Path(source)
        self.warned = False

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        step = state.global_step
        checkpoint = Path(args.output_dir) / f"checkpoint-{step}"
        if step in kept_steps([step], self.every, 0) or self.last:
            if not any(checkpoint.glob("*.safetensors")):
                if not self.warned:
                    log.warning("%s holds no whole weights (a sharded checkpoint): not kept as a "
                                "model folder", checkpoint)
                    self.warned = True
                return
            self._copy(checkpoint, self.folder / f"step-{step}")
        found = [int(p.name.removeprefix("step-")) for p in self.folder.glob("step-*")]
        for old in set(found) - kept_steps(found, self.every, self.last):
            shutil.rmtree(self.folder / f"step-{old}", ignore_errors=True)

    def _copy(self, checkpoint: Path, target: Path) -> None:
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for pattern in MODEL_FILES:
            for path in checkpoint.glob(pattern):
                shutil.copy2(path, tmp / path.name)
        marker = self.source / "reftbench.json"  # how reftbench loads its own processor
        if marker.exists():
            shutil.copy2(marker, tmp / marker.name)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
