"""Standard lmms-eval benchmarks (AI2D, MathVista, MMMU, ...) for `reftbench eval --lmms-tasks`.

    metrics = run_lmms_tasks("results/run1/final", ["ai2d", "mathvista_testmini"], limit=100)
    # {"lmms/ai2d": {"n": 100, "exact_match": 0.41, "exact_match_stderr": 0.049}, ...}

The same `ReftbenchLMM` class as `lmms-eval --model reftbench` runs them in-process, with the
lmms-eval CLI's defaults (so its `--reasoning_tags` default strips <think> blocks before a
benchmark scores an answer, as the CLI would). reftbench's own tasks (`reftbench_math_ood`, ...)
are found too. The metrics come back in the shape of results.json's `metrics` entries (a dict
per name, with `n`), keyed "lmms/<task>", so `reftbench eval` stores them beside its own.

Cheap checks come first: every task name, then every dataset the tasks load (a local file or
folder, or a hub dataset that is cached or reachable), each failure one UserError line, before
any model loads. Importing this module does not import lmms-eval.
"""

from __future__ import annotations

import os
import socket
import sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from reftbench.errors import UserError
from reftbench.lmms import MODEL_ID

# Dataset builders that read local files named in data_files (no hub access).
LOCAL_BUILDERS = {"json", "csv", "parquet", "text", "pandas", "arrow", "imagefolder"}
# Seconds to wait for the hub before calling it unreachable.
HUB_TIMEOUT_S = 3.0
INSTALL_HINT = ("pip install -e '.[lmms]', then pip uninstall torchvision on a CPU-only machine "
                "(README, section lmms-eval)")


def check_lmms_tasks(tasks, include_path=()):
    """Check task names and datasets (UserError on the first problem); return the task index.

    Cheap next to a model load: call it first, then hand its result to `run_lmms_tasks`.
    """
    manager = task_manager(include_path)
    if not list(tasks):
        raise UserError("no lmms-eval tasks given; e.g. --lmms-tasks ai2d,mathvista_testmini")
    check_tasks(manager, list(dict.fromkeys(tasks)))
    return manager


def run_lmms_tasks(model, tasks, limit: int | None = None, batch_size: int = 16,
                   device: str = "cpu", include_path=(), manager=None) -> dict[str, dict]:
    """Run lmms-eval `tasks` on `model`; {"lmms/<task>": {"n", <metric>, <metric>_stderr}}.

    `model`: a preset, checkpoint folder or hub id, a `TransformersBackend` (its model is
    reused, nothing loads twice) or a `ReftbenchLMM`. `limit`: docs per task (None = all).
    `include_path`: extra folders of task YAMLs, beside reftbench's own `tasks/`. `manager`:
    what `check_lmms_tasks` returned (else the tasks are checked here, before any model loads).
    """
    names = list(dict.fromkeys(tasks))
    manager = check_lmms_tasks(names, include_path) if manager is None else manager
    from lmms_eval.evaluator import simple_evaluate

    from reftbench.lmms.model import ReftbenchLMM

    if isinstance(model, ReftbenchLMM):
        lm = model
    elif isinstance(model, (str, Path)):
        lm = ReftbenchLMM(pretrained=str(model), batch_size=batch_size, device=device)
    else:
        lm = ReftbenchLMM(backend=model, batch_size=batch_size)
    results = simple_evaluate(model=lm, tasks=names, limit=limit, task_manager=manager,
                              log_samples=False, cli_args=cli_defaults(), verbosity="WARNING")
    return collect_metrics(results)


def task_manager(include_path=()):
    """lmms-eval's task index: its own tasks, reftbench's `tasks/` and `include_path`."""
    try:
        from lmms_eval.tasks import TaskManager
    except ImportError as err:
        raise UserError(f"lmms-eval is not installed ({err}); {INSTALL_HINT}") from None
    from tasks.common import TASKS_DIR

    paths = [str(TASKS_DIR), *(str(Path(p)) for p in include_path)]
    return TaskManager("WARNING", include_path=paths, model_name=MODEL_ID)


def check_tasks(manager, names: list[str]) -> None:
    """UserError unless every task is known and every dataset it loads can be had."""
    from reftbench.registry import suggest

    for name in names:
        if name not in manager.task_index:
            raise UserError(f"unknown lmms-eval task '{name}'{suggest(name, manager.all_tasks)}; "
                            "`lmms-eval --tasks list` lists them")
        for task, config in leaf_configs(manager, name).items():
            check_dataset(task, config)


def leaf_configs(manager, name: str, depth: int = 0) -> dict[str, dict]:
    """{task: its YAML config} for a task, or for every task under a group or tag."""
    from lmms_eval.utils import load_yaml_config

    entry = manager.task_index.get(name)
    if entry is None or depth > 8:
        return {}
    if entry["type"] == "task":
        return {name: load_yaml_config(entry["yaml_path"], mode="simple")}
    if entry["type"] != "group" and entry["type"] != "tag":
        return {}  # a Python task class: its data is its own business
    members = entry["task"]
    if members == -1:  # a group file lists its members
        members = load_yaml_config(entry["yaml_path"], mode="simple").get("task", [])
    found = {}
    for member in members if isinstance(members, list) else [members]:
        if isinstance(member, str):
            found.update(leaf_configs(manager, member, depth + 1))
        elif isinstance(member, dict) and isinstance(member.get("task"), str):
            base = leaf_configs(manager, member["task"], depth + 1).get(member["task"], {})
            found[member["task"]] = {**base, **member}
    return found


def check_dataset(task: str, config: dict) -> None:
    """UserError when `task` loads a hub dataset that is neither cached nor reachable."""
    path = config.get("dataset_path")
    kwargs = config.get("dataset_kwargs") or {}
    if not isinstance(path, str) or path in LOCAL_BUILDERS or Path(path).expanduser().exists():
        return
    if kwargs.get("load_from_disk"):
        raise UserError(f"lmms-eval task {task} loads its dataset from {path}, which does not "
                        "exist; save it there with datasets' save_to_disk first")
    if hub_cached(path) or hub_reachable():
        return
    raise UserError(f"lmms-eval task {task} needs its dataset {path} from the Hugging Face hub, "
                    "which cannot be reached; run it once where the hub is reachable (datasets "
                    "then caches it) or leave the task out")


def hub_cached(repo: str) -> bool:
    """True when a hub dataset has a copy in the datasets or hub cache."""
    import datasets.config
    from datasets.naming import camelcase_to_snakecase
    from huggingface_hub import constants

    owner, _, name = repo.partition("/")
    names = {f"{owner}___{name}".lower(), f"{owner}___{camelcase_to_snakecase(name)}".lower()}
    roots = [os.environ.get("LMMS_EVAL_DATASETS_CACHE", ""), str(datasets.config.HF_DATASETS_CACHE)]
    for root in filter(None, roots):
        folder = Path(root).expanduser()
        if folder.is_dir() and any(p.name.lower() in names for p in folder.iterdir()):
            return True
    return (Path(constants.HF_HUB_CACHE) / f"datasets--{owner}--{name}").is_dir()


@lru_cache(maxsize=1)
def hub_reachable() -> bool:
    """True when the hub's host answers within HUB_TIMEOUT_S (and offline mode is off)."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_DATASETS_OFFLINE", "") in ("1", "true"):
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=HUB_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def cli_defaults():
    """The lmms-eval CLI's default arguments, so in-process runs score as `lmms-eval` does."""
    from lmms_eval.__main__ import parse_eval_args

    argv, sys.argv = sys.argv, ["lmms-eval"]
    try:
        return parse_eval_args()[1]
    finally:
        sys.argv = argv


def collect_metrics(results: dict | None) -> dict[str, dict]:
    """lmms-eval's results as {"lmms/<task>": {"n", metric, metric_stderr, ...}}.

    Metrics reported under a filter other than lmms-eval's "none" keep it: "exact_match/flexible".
    """
    if not results:
        return {}
    counts = results.get("n-samples", {})
    out = {}
    for task, values in results.get("results", {}).items():
        entry = {}
        if isinstance(counts.get(task), dict) and "effective" in counts[task]:
            entry["n"] = counts[task]["effective"]
        for key, value in values.items():
            metric, _, filter_name = key.partition(",")
            if not filter_name or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # "alias", "N/A" standard errors, ...
            entry[metric if filter_name == "none" else f"{metric}/{filter_name}"] = value
        out[f"lmms/{task}"] = entry
    return out
