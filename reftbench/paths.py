"""Where reftbench keeps generated data, built models and results.

`REFTBENCH_HOME` (default `~/.cache/reftbench`; empty means unset, a leading `~` is expanded)
holds `data/` (generated task splits) and `models/` (built embedded models); one that is a file
or cannot be written is a one-line error naming the variable. Tests point it at a temporary
folder.

Results live apart by who made them: a user's runs go under `outputs/` (git-ignored, so a
first `reftbench eval` or `make demo` changes no tracked file), and the committed reference
runs stay in `results/`. Every command that writes or reads results takes `--results-dir`;
`reftbench leaderboard --results-dir results` shows the reference table.
"""

import os
from pathlib import Path

from reftbench.errors import UserError
from reftbench.fileio import writable_problem

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


# The cache root when REFTBENCH_HOME is unset or empty.
DEFAULT_HOME = "~/.cache/reftbench"


def home() -> Path:
    """The cache root, from $REFTBENCH_HOME (a leading ~ expanded; empty means unset) or
    ~/.cache/reftbench; a UserError naming the variable when it is not a usable folder."""
    given = os.environ.get("REFTBENCH_HOME", "").strip()
    root = Path(given or DEFAULT_HOME).expanduser()
    why = writable_problem(root)
    if why:
        name = f"REFTBENCH_HOME={given}" if given else f"the cache folder {root}"
        raise UserError(f"{name} is not a usable folder: {why}; point REFTBENCH_HOME at a "
                        "writable folder")
    return root


def make_cache_dir(folder: Path) -> Path:
    """Create a folder under the cache root, or a UserError naming REFTBENCH_HOME."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write the cache folder {folder} ({exc.strerror or exc}); "
                        "point REFTBENCH_HOME at a writable folder") from None
    return folder


def data_dir() -> Path:
    """Folder of generated task splits."""
    return home() / "data"


def models_dir() -> Path:
    """Folder of built embedded models."""
    return home() / "models"
