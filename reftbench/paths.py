"""Where reftbench keeps generated data, built models and results.

`REFTBENCH_HOME` (default `~/.cache/reftbench`) holds `data/` (generated task splits) and
`models/` (built embedded models). Tests point it at a temporary folder.

Results live apart by who made them: a user's runs go under `outputs/` (git-ignored, so a
first `reftbench eval` or `make demo` changes no tracked file), and the committed reference
runs stay in `results/`. Every command that writes or reads results takes `--results-dir`;
`reftbench leaderboard --results-dir results` shows the reference table.
"""

import os
from pathlib import Path

# The user's folder (git-ignored): results, training runs and the demo's, each under its own name.
OUTPUTS = Path("outputs")
# Default results folder of eval, train's final evaluation, compare, chance and leaderboard.
RESULTS = OUTPUTS / "results"
# Default results folder of `reftbench demo` (kept apart from the user's other runs).
DEMO_RESULTS = OUTPUTS / "demo-results"
# Default training folder of `reftbench demo`.
DEMO_RUNS = OUTPUTS / "demo"
# Default training-runs folder of `reftbench compare`.
COMPARE_RUNS = OUTPUTS / "compare"


def home() -> Path:
    """The cache root, from $REFTBENCH_HOME or ~/.cache/reftbench."""
    return Path(os.environ.get("REFTBENCH_HOME", Path.home() / ".cache" / "reftbench"))


def data_dir() -> Path:
    """Folder of generated task splits."""
    return home() / "data"


def models_dir() -> Path:
    """Folder of built embedded models."""
    return home() / "models"
