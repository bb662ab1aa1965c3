"""reftbench: Curr-ReFT and its baselines for small vision-language models.

The core package: the sample schema, strict rewards, the embedded model, generation,
evaluation, the leaderboard and the command line. Task families live in `tasks/`, trainers
in `trainers/`; both are found through lazy registries (`reftbench.registry`).
"""

__version__ = "0.1.0"
