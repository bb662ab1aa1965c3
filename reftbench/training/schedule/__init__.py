"""Curriculum schedules that read the training signal (docs/schedules.md).

    policy.py   the rules, as pure functions: the bandit's softmax with its floor and prior, the
                TD(0) value update, the plateau test, a group's spread and mean |advantage|
    draws.py    which dataset rows each generation batch trains on: deterministic given the
                seed and the rewards seen two batches earlier, so it resumes and shards exactly
    trainer.py  the TRL glue: GRPOTrainer's sampler hook and reward hook, checkpointed state
    record.py   what a run writes: per-batch arm shares, the budget spent, steps to a target
"""
