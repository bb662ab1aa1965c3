"""The schedules inside TRL 1.16's GRPOTrainer, through the two hooks it offers for data and
rewards (docs/schedules.md says why these):

- `_get_train_sampler()` builds the sampler the training dataloader draws prompt indices from
  (TRL's RepeatSampler: each prompt G times in a row, each generation batch repeated
  num_iterations x steps_per_generation times). ScheduleSampler keeps that structure and asks a
  Draws which prompts each generation batch holds. The fixed schedule (and plateau without
  skip_zero_spread) keeps TRL's own sampler.
- `_calculate_rewards()` returns the rewards of the generation batch gathered from every
  process. After TRL's own, every process gathers the rows' tier, family and id; the main process
  summarises each group (reward spread, mean |advantage|, accuracy) and broadcasts the summary,
  which every process's Draws then observes: the schedule is decided once and shared.

The Draws state is written into each checkpoint folder (before TRL's own files, so a checkpoint
never lacks it) and read back by `train()` on resume: the draws replay from it, so the Trainer's
own fast-forward past the batches already trained (and its restoring of the random state after
it) works as with TRL's sampler. Nothing of the loss, generation or optimiser step is overridden.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch
from torch.utils.data import Sampler
from transformers import TrainerCallback

from reftbench import fileio
from reftbench.errors import UserError
from reftbench.training.grpo_trainer import MixedPrecisionRollouts
from reftbench.training.schedule import record
from reftbench.training.schedule.draws import Draws
from reftbench.training.schedule.policy import group_gain, plateau_reached
from reftbench.training.schedule.stages import ScheduleSpec

# The schedule's state inside a checkpoint folder, next to TRL's trainer_state.json.
STATE_FILE = "schedule_state.json"


def repeat_sampler_order(n: int, seed: int):
    """The row order of TRL's RepeatSampler, pass by pass: its generator is seeded once and
    draws one permutation per pass over the data."""
    generator, passes = torch.Generator(), []
    generator.manual_seed(seed)

    def order(epoch: int) -> list[int]:
        while len(passes) <= epoch:
            passes.append(torch.randperm(n, generator=generator).tolist())
        return passes[epoch]
    return order


class ScheduleSampler(Sampler):
    """Dataset indices in RepeatSampler's structure, each generation batch's prompts chosen by
    the Draws (a resumed run's first chunks are the replayed ones, which the Trainer skips)."""

    def __init__(self, draws: Draws, generations: int, repeat: int, chunks: int):
        self.draws, self.generations, self.repeat, self.chunks = draws, generations, repeat, chunks

    def __len__(self) -> int:
        return self.chunks * self.draws.settings.prompts * self.generations * self.repeat

    def __iter__(self):
        for k in range(self.chunks):
            rows = self.draws.draw(k)
            for _ in range(self.repeat):
                for row in rows:
                    yield from [row] * self.generations


class _StopOnPlateau(TrainerCallback):
    """Ends the stage at the end of a generation batch once the plateau rule says so. No
    checkpoint is written at that step (the stage's model is saved as it ends): a run killed
    before its stage record is written resumes from the checkpoint before, and the replay
    ends the stage at the same step."""

    def __init__(self, trainer: "ScheduledGRPOTrainer"):
        self.trainer = trainer

    def on_step_end(self, args, state, control, **kwargs):
        if self.trainer.plateaued(state.global_step):
            control.should_training_stop = True
            control.should_save = False


class ScheduledGRPOTrainer(MixedPrecisionRollouts):
    """TRL's GRPOTrainer with a schedule deciding (or only counting) each step's prompts."""

    def __init__(self, *args, schedule: ScheduleSpec, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = schedule
        # Optimiser steps each generation batch is trained for (GRPO's mu; one micro-batch each).
        self.steps_per_chunk = self.num_iterations
        settings = schedule.settings
        settings.prompts = self.args.generation_batch_size // self.num_generations
        order = repeat_sampler_order(len(schedule.row_arms), self.args.seed)
        self.draws = Draws(schedule.row_arms, settings, pool_order=order, arms=schedule.arms,
                           favoured=self._favoured)
        self.unobserved_steps = 0
        if schedule.plateau:
            self.add_callback(_StopOnPlateau(self))

    def _favoured(self, chunk: int) -> set[str]:
        """The arms of the tier the fixed schedule trains at this chunk's first step."""
        tiers = self.spec.prior_tiers
        step = min(chunk * self.steps_per_chunk, len(tiers) - 1)
        return {a for a in self.draws.arms if tiers and a.split("/")[0] == tiers[step]}

    # -- the sampler hook --------------------------------------------------------------------
    def _get_train_sampler(self, dataset=None):
        if self.draws.settings.mode == "observe":
            return super()._get_train_sampler(dataset)
        chunks = math.ceil(self.args.max_steps / self.steps_per_chunk)
        return ScheduleSampler(self.draws, self.num_generations,
                               self.num_iterations * self.args.steps_per_generation, chunks)

    # -- the reward hook ---------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self.model.training:
            self._observe(inputs, rewards)
        return rewards

    def _observe(self, inputs, rewards_per_func) -> None:
        from accelerate.utils import broadcast_object_list, gather_object

        rows = gather_object([[r.get("tier"), r.get("family"), r.get("id")] for r in inputs])
        groups = self._summarise(rows, rewards_per_func) if self.accelerator.is_main_process \
            else None
        if self.accelerator.num_processes > 1:
            groups = broadcast_object_list([groups], from_process=0)[0]
        self.draws.observe(len(self.draws.observations), groups)

    def _summarise(self, rows: list, rewards_per_func: torch.Tensor) -> list[list]:
        """[row, arm, spread, mean |advantage|, accuracy] per group, as TRL computes them
        (sum of the weighted rewards; advantages scaled as `scale_rewards` says)."""
        g = self.num_generations
        weights = self.reward_weights.to(rewards_per_func.device)
        total = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)
        total[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan
        names = list(self.reward_func_names)
        accuracy = rewards_per_func[:, names.index("accuracy_reward")] \
            if "accuracy_reward" in names else total
        k = len(self.draws.observations)
        drawn = self.draws.drawn[k] if self.draws.settings.mode != "observe" else None
        if drawn is not None and [r[2] for r in rows[::g]] != [self.spec.row_ids[i] for i in drawn]:
            raise RuntimeError(f"generation batch {k} scored other prompts than the schedule drew")
        scale = self.scale_rewards
        batch_std = float(torch.std(total[~torch.isnan(total)])) if scale == "batch" else 1.0
        groups = []
        for i in range(len(rows) // g):
            part = slice(i * g, (i + 1) * g)
            spread, gain = group_gain(total[part].tolist(), "group" if scale == "group" else "none")
            if scale == "batch":
                gain /= batch_std + 1e-4
            acc = accuracy[part][~torch.isnan(accuracy[part])]
            tier, family, _ = rows[i * g]
            groups.append([drawn[i] if drawn is not None else -1, f"{tier}/{family}", int(spread),
                           round(gain, 6), round(float(acc.mean()) if len(acc) else 0.0, 6)])
        return groups

    def plateaued(self, step: int) -> bool:
        """Whether the stage should end after optimiser step `step` (plateau schedule only)."""
        plateau = self.spec.plateau
        if not plateau or step % self.steps_per_chunk:
            return False
        accuracies = [sum(g[4] for g in groups) / len(groups)
                      for groups in self.draws.observations if groups]
        return plateau_reached(accuracies, plateau["window"], plateau["min_gain"],
                               plateau["mastery"],
                               math.ceil(plateau["min_steps"] / self.steps_per_chunk))

    # -- checkpoints and the record ----------------------------------------------------------
    def _save_checkpoint(self, model, trial):
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        if self.args.should_save:
            fileio.write_json(folder / STATE_FILE, self.draws.state_dict())
        super()._save_checkpoint(model, trial)

    def train(self, resume_from_checkpoint=None, **kwargs):
        if resume_from_checkpoint:
            self._restore(Path(resume_from_checkpoint))
        out = super().train(resume_from_checkpoint=resume_from_checkpoint, **kwargs)
        self._check_ranks_agree()
        if self.accelerator.is_main_process:
            self.write_record()
        return out

    def _restore(self, checkpoint: Path) -> None:
        path = checkpoint / STATE_FILE
        if path.exists():
            self.draws.load_state(json.loads(path.read_text()))
        elif self.draws.settings.mode != "observe":
            raise UserError(f"--resume: {checkpoint} has no {STATE_FILE}, so its schedule cannot "
                            "continue where it stopped; pass --output to start a new run")
        else:  # a checkpoint from before schedules were recorded: count from here on
            state = json.loads((checkpoint / "trainer_state.json").read_text())
            self.unobserved_steps = int(state["global_step"])

    def _check_ranks_agree(self) -> None:
        """Every process must have drawn and observed the same chunks (one consistent record)."""
        from accelerate.utils import gather_object

        seen = len(self.draws.observations)
        digest = hashlib.sha256(json.dumps([self.draws.drawn[:seen],
                                            self.draws.observations]).encode()).hexdigest()
        if len(set(gather_object([digest]))) > 1:
            raise RuntimeError("the processes drew different prompts: the schedule diverged")

    def write_record(self) -> dict:
        """The stage's schedule.json (see reftbench/training/schedule/record.py)."""
        first = self.unobserved_steps // self.steps_per_chunk
        rows = record.chunk_rows(self.draws.observations, self.draws.probs,
                                 self.steps_per_chunk, first)
        budget = record.stage_budget(rows, self.state.global_step, self.num_generations,
                                     self.draws.passed_over, self.unobserved_steps)
        out = {**self.spec.meta, "mode": self.draws.settings.mode, "arms": self.draws.arms,
               "processes": self.accelerator.num_processes, "ranks_agree": True,
               "budget": budget, "chunks": rows}
        fileio.write_json(self.spec.record_path, out)
        return out
