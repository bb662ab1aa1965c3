"""Trainer callbacks: metrics to JSONL, a rich progress line, checkpoints that follow the
umask, and a wall-clock limit.

These plug into transformers' Trainer (and so TRL's GRPOTrainer and SFTTrainer). Under
`accelerate launch` every process runs them: only process 0 writes, and the time limit is
rank 0's decision for all, so every process stops at the same step.
"""

from __future__ import annotations

import time
from pathlib import Path

from transformers import TrainerCallback

from reftbench import fileio


class MetricsLog(TrainerCallback):
    """Append every log event, tagged with the stage name, to a JSONL file."""

    def __init__(self, path: Path, stage: str):
        self.path, self.stage = Path(path), stage
        self.last: dict = {}

    def on_train_begin(self, args, state, control, **kwargs):
        """On resume, drop the rows logged after the checkpoint: those steps are redone."""
        if state.is_world_process_zero and self.path.exists():
            rows = fileio.read_jsonl(self.path)
            kept = [r for r in rows if r.get("step", 0) <= state.global_step]
            if len(kept) < len(rows):
                fileio.write_atomic(self.path, fileio.dumps_jsonl(kept))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        row = {"stage": self.stage, "step": state.global_step,
               **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
        self.last = row
        fileio.append_jsonl(self.path, [row])


class ProgressLine(TrainerCallback):
    """Advance a rich progress task each optimiser step, showing the latest reward/loss, the
    seconds per step and completion tokens per second.

    When the console is not a terminal (nohup, SLURM, `> log`), rich draws nothing until the
    stage ends; then a plain line (step, reward, s/step, ETA) is printed every `plain_every`
    seconds instead, so a log file shows a job's progress while it runs."""

    def __init__(self, progress, stage: str, total: int, metrics: MetricsLog,
                 plain_every: float = 30.0):
        self.progress, self.metrics = progress, metrics
        self.task = progress.add_task(stage, total=total) if progress else None
        self.stage, self.total = stage, total
        self.plain = progress is not None and not progress.console.is_terminal
        self.plain_every = plain_every
        self.started = self.last_plain = None
        self.first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = self.last_plain = time.monotonic()
        self.first_step = state.global_step  # a resumed stage counts its speed from here

    def speed(self, state, batch: int) -> tuple[float | None, float | None]:
        """(seconds per step, completion tokens per second) since this stage (re)started."""
        done = state.global_step - self.first_step
        if self.started is None or done <= 0:
            return None, None
        per_step = (time.monotonic() - self.started) / done
        length = self.metrics.last.get("completions/mean_length")
        return per_step, (length * batch / per_step if length and per_step > 0 else None)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is None:
            return
        last = self.metrics.last
        per_step, tokens = self.speed(state, args.per_device_train_batch_size * args.world_size)
        shown = [f"{k}={last[k]:.3g}" for k in ("reward", "loss") if k in last]
        if per_step is not None:
            shown.append(f"{per_step:.2f} s/step")
        if tokens is not None:
            shown.append(f"{tokens:.0f} tok/s")
        self.progress.update(self.task, completed=state.global_step,
                             description=" ".join([self.stage, *shown]))
        now = time.monotonic()
        finished = state.global_step >= self.total
        if self.plain and per_step is not None and (now - self.last_plain >= self.plain_every
                                                    or finished):
            self.last_plain = now
            eta = per_step * max(0, self.total - state.global_step)
            self.progress.console.print(
                f"{self.stage} step {state.global_step}/{self.total} {' '.join(shown)} "
                f"ETA {eta / 60:.1f} min", markup=False, highlight=False)


class ReadableCheckpoints(TrainerCallback):
    """Give a saved checkpoint's files the umask's modes (safetensors writes weights 0600)."""

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            fileio.follow_umask_tree(folder)


class TimeLimit(TrainerCallback):
    """Stop training (cleanly, so the model is still saved) after `minutes` of wall time."""

    def __init__(self, minutes: float):
        self.seconds = minutes * 60
        self.start = time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if not self.seconds:
            return
        over = time.monotonic() - self.start > self.seconds
        if args.world_size > 1:  # one clock decides, or one rank stops while the others wait
            from accelerate.utils import broadcast_object_list

            over = broadcast_object_list([over])[0]
        if over:
            control.should_training_stop = True
