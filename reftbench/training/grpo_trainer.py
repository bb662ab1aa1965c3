"""TRL's GRPOTrainer with its rollouts under the run's mixed precision.

With bf16 under DDP or on one GPU the weights are fp32 masters and TRL runs the loss and the
reference model under `accelerator.autocast()`, but generates the rollouts outside it, in fp32:
the slowest part of a step at twice the memory traffic. This subclass wraps the one generation
method in the same autocast (a no-op without mixed precision, and for vLLM rollouts, which run
in the engine's own dtype). Nothing else of the trainer changes.
"""

from __future__ import annotations

from trl import GRPOTrainer


class MixedPrecisionRollouts(GRPOTrainer):
    """GRPOTrainer whose transformers rollouts run under the accelerator's autocast."""

    def _generate_single_turn(self, *args, **kwargs):
        with self.accelerator.autocast():
            return super()._generate_single_turn(*args, **kwargs)
