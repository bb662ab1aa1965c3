"""Shared training machinery the trainer plugins in `trainers/` call: configs, datasets,
TRL stage runners (GRPO, SFT), the rejection sampler and the resumable stage pipeline."""
