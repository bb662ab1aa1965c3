"""Where reftbench keeps generated data and built models.

`REFTBENCH_HOME` (default `~/.cache/reftbench`) holds `data/` (generated task splits) and
`models/` (built embedded models). Tests point it at a temporary folder.
"""

import os
from pathlib import Path


def home() -> Path:
    """The cache root, from $REFTBENCH_HOME or ~/.cache/reftbench."""
    return Path(os.environ.get("REFTBENCH_HOME", Path.home() / ".cache" / "reftbench"))


def data_dir() -> Path:
    """Folder of generated task splits."""
    return home() / "data"


def models_dir() -> Path:
    """Folder of built embedded models."""
    return home() / "models"
