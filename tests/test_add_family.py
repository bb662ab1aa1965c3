"""Adding a task family is its folder plus one registry line (docs/tasks.md).

A throwaway family, `dots`, made the way the docs say (a copy of tasks/math/ and one entry in
tasks.FAMILIES, here added at run time), is generated, listed by the CLI and evaluated like
the shipped families, with nothing else edited.
"""

import shutil
import sys
from pathlib import Path

import pytest

import tasks
from reftbench.data.generated import load_split
from reftbench.evaluation.evaluate import EvalConfig, evaluate
from tasks.common import TASKS_DIR

N_TEST = 5


@pytest.fixture
def dots(tmp_path, monkeypatch):
    """tasks/math copied to <tmp>/dots (its YAML renamed) and registered as family `dots`."""
    folder = tmp_path / "dots"
    shutil.copytree(TASKS_DIR / "math", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for old in folder.glob("math*.yaml"):
        text = old.read_text().replace("math", "dots")
        (folder / old.name.replace("math", "dots")).write_text(text)
        old.unlink()
    # The copy lives outside the repository: make `tasks.dots` importable from there.
    monkeypatch.setattr(tasks, "__path__", [*tasks.__path__, str(tmp_path)])
    monkeypatch.setitem(tasks.FAMILIES, "dots", tasks.Family("tasks.dots.generate", "math_equiv"))
    yield "dots"
    for name in [m for m in sys.modules if m.startswith("tasks.dots")]:
        del sys.modules[name]


class EveryOtherRight:
    """A backend that answers the gold answer for every other sample, a wrong one otherwise."""

    def generate(self, samples, sampling):
        answers = [s["answer"] if i % 2 == 0 else "-1" for i, s in enumerate(samples)]
        return [[f"<think>x</think><answer>{a}</answer>"] * sampling.n for a in answers]


def test_a_copied_family_is_generated_from_its_own_files(dots):
    records = load_split(dots, "ood", n=N_TEST)
    assert [r["base_id"] for r in records[::3]] == [f"dots-ood-{i:06d}" for i in range(N_TEST)]
    assert {r["family"] for r in records} == {"dots"}
    assert [r["metric"] for r in records[:3]] == ["yes_no", "letters", "math_equiv"]
    # Its generator reads its own copy of the out-of-domain scenes, not tasks/math's.
    assert Path(sys.modules["tasks.dots.ood"].__file__).parent.parent.name != "tasks"


def test_a_registered_family_is_listed_and_accepted_by_the_cli(dots, cli):
    code, out, _ = cli("data", "--list")
    assert code == 0 and "dots" in out and "math_equiv" in out
    code, _, err = cli("eval", "--tasks", "dotz", "--model", "no/such-model")
    assert code == 2 and "did you mean dots" in err


def test_a_registered_family_is_evaluated_and_scored(dots, tmp_path):
    cfg = EvalConfig(model="crafted", families=(dots,), n_test=N_TEST, limit=4,
                     tiers=("judge", "open"), run_id="dots", device="cpu")
    results = evaluate(cfg, tmp_path / "results", backend=EveryOtherRight())
    metrics = results["metrics"]
    assert set(metrics) == {f"dots/{s}/{t}" for s in ("id", "ood") for t in ("judge", "open")}
    for entry in metrics.values():
        assert entry["n"] == 4 and entry["strict"] == pytest.approx(0.5)
