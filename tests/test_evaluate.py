"""The evaluator: output files, statistics, scoring wired to the gold answers, resuming, limits."""

import datetime
import json
import math
import os
import zlib
from dataclasses import asdict

import pytest
from conftest import N_TEST

from reftbench import fileio
from reftbench.errors import UserError
from reftbench.evaluation.evaluate import EvalConfig, evaluate, run_dir_for, select_samples
from reftbench.samples import FAMILIES, TEST_SPLITS, TIERS
from reftbench.evaluation.stats import aggregate

ALL_KEYS = {f"{f}/{s}/{t}" for f in FAMILIES for s in TEST_SPLITS for t in TIERS}


class Oracle:
    """Answers every sample with its gold answer, in the required format."""

    def generate(self, samples, sampling):
        return [[f"<think>easy</think><answer>{s['answer']}</answer>"] * sampling.n
                for s in samples]


class Garbage:
    """Well-formatted answers that are wrong for every metric."""

    def generate(self, samples, sampling):
        return [["<think>hmm</think><answer>qqq</answer>"] * sampling.n for _ in samples]


class HalfRight:
    """Gold for about half the samples (fixed by the id), garbage otherwise."""

    def generate(self, samples, sampling):
        return [Oracle().generate([s], sampling)[0] if zlib.crc32(s["id"].encode()) % 2
                else ["no idea"] * sampling.n for s in samples]


class Killed(BaseException):
    """Stands in for a SIGKILL or Ctrl-C in the middle of a run."""


class DiesAfter:
    """Wraps a backend and dies on the call after `calls` successful ones."""

    def __init__(self, inner, calls=1):
        self.inner, self.left = inner, calls

    def generate(self, samples, sampling):
        if self.left == 0:
            raise Killed
        self.left -= 1
        return self.inner.generate(samples, sampling)


def config(**kw):
    base = dict(model="random-micro", tiers=TIERS, n_test=N_TEST, batch_size=8, max_new_tokens=8)
    return EvalConfig(**{**base, **kw})


def rows_of(results_dir, run_id):
    return fileio.read_jsonl(results_dir / "runs" / run_id / "samples.jsonl")


def test_micro_model_run_writes_results_and_samples(tmp_path):
    cfg = config(tiers=("judge", "open"), limit=2, run_id="random-micro-run")
    results = evaluate(cfg, tmp_path)  # no backend given: loads the micro preset itself
    run = tmp_path / "runs" / "random-micro-run"
    on_disk = json.loads((run / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(results))
    assert set(on_disk["metrics"]) == {f"{f}/{s}/{t}" for f in FAMILIES for s in TEST_SPLITS
                                       for t in ("judge", "open")}
    for entry in on_disk["metrics"].values():
        assert entry["n"] == 2
        assert 0 <= entry["accuracy"] <= 1 and entry["accuracy_stderr"] >= 0
        assert 0 <= entry["format"] <= 1
    prov = on_disk["provenance"]
    assert prov["git_commit"] and prov["device"] == "cpu"
    assert datetime.datetime.fromisoformat(prov["date"]).tzinfo is not None
    assert on_disk["config"] == json.loads(json.dumps(asdict(cfg)))
    # --limit: exactly the first two samples of every family x split x tier, in split order.
    rows = rows_of(tmp_path, "random-micro-run")
    assert [r["id"] for r in rows] == [s["id"] for s in select_samples(cfg)]
    assert all(r["id"].endswith(("-000000-judge", "-000001-judge", "-000000-open", "-000001-open"))
               for r in rows)
    for row in rows:
        assert {"id", "completion", "format", "accuracy", "reward"} <= set(row)
        assert row["reward"] == row["format"] + row["accuracy"]


def test_aggregate_mean_and_stderr_exact():
    def row(family, accuracy, fmt, iou=None):
        out = {"family": family, "split": "id", "tier": "open", "accuracy": accuracy,
               "format": fmt, "reward": accuracy + fmt}
        return out if iou is None else {**out, "iou": iou}

    rows = [row("math", 1, 1), row("math", 0, 1), row("math", 1, 1), row("math", 1, 0),
            row("detection", 0.5, 1, iou=0.4), row("detection", 0.0, 0)]
    m = aggregate(rows)
    assert set(m) == {"math/id/open", "detection/id/open"}
    math_m = m["math/id/open"]
    assert math_m["n"] == 4
    assert math_m["accuracy"] == 0.75
    # Sample variance (1/16 * 3 + 9/16) / 3 = 1/4; standard error sqrt(1/4 / 4) = 1/4.
    assert math_m["accuracy_stderr"] == pytest.approx(0.25, abs=1e-12)
    assert math_m["format"] == 0.75 and math_m["reward"] == 1.5
    assert "iou" not in math_m
    det = m["detection/id/open"]
    assert det["accuracy"] == 0.25 and det["accuracy_stderr"] == pytest.approx(0.25)
    assert det["iou"] == 0.4 and det["iou_stderr"] == 0.0  # one row has an iou
    one = aggregate([row("math", 1, 1)])["math/id/open"]
    assert one["n"] == 1 and one["accuracy_stderr"] == 0.0 and not math.isnan(one["accuracy"])


def test_gold_answers_score_one_and_garbage_zero(tmp_path):
    gold = evaluate(config(run_id="oracle"), tmp_path, backend=Oracle())
    assert set(gold["metrics"]) == ALL_KEYS
    for key, m in gold["metrics"].items():
        assert (m["n"], m["accuracy"], m["format"], m["reward"]) == (N_TEST, 1.0, 1.0, 2.0), key
    bad = evaluate(config(run_id="garbage"), tmp_path, backend=Garbage())
    for key, m in bad["metrics"].items():
        assert (m["n"], m["accuracy"], m["format"]) == (N_TEST, 0.0, 1.0), key


def test_resume_after_kill_equals_an_uninterrupted_run(tmp_path):
    full = evaluate(config(run_id="full"), tmp_path, backend=HalfRight())
    assert 0.2 < sum(m["accuracy"] for m in full["metrics"].values()) / len(ALL_KEYS) < 0.8
    with pytest.raises(Killed):
        evaluate(config(run_id="cut"), tmp_path, backend=DiesAfter(HalfRight(), calls=1))
    assert len(rows_of(tmp_path, "cut")) == 8
    assert not (tmp_path / "runs" / "cut" / "results.json").exists()
    with pytest.raises(UserError, match="--resume"):
        evaluate(config(run_id="cut"), tmp_path, backend=HalfRight())
    done = []
    resumed = evaluate(config(run_id="cut"), tmp_path, resume=True, backend=HalfRight(),
                       progress=done.append)
    ids = [r["id"] for r in rows_of(tmp_path, "cut")]
    assert len(ids) == len(set(ids)), "no sample evaluated twice"
    assert set(ids) == {s["id"] for s in select_samples(config())}, "no sample lost"
    assert resumed["metrics"] == full["metrics"]
    assert resumed["timing"]["generated"] == len(ids) - 8
    assert done[0] == 8 and sum(done) == len(ids), "progress counts the samples already done"


@pytest.mark.parametrize("rows_before_cut", [8, 0])
def test_a_cut_last_line_is_tolerated_on_resume(tmp_path, rows_before_cut):
    calls = rows_before_cut // 8
    if calls:
        with pytest.raises(Killed):
            evaluate(config(run_id="r"), tmp_path, backend=DiesAfter(HalfRight(), calls=calls))
    log = tmp_path / "runs" / "r" / "samples.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:  # what a kill in the middle of a write leaves behind
        fh.write('{"id": "detection-id-000003-ju')
    resumed = evaluate(config(run_id="r"), tmp_path, resume=True, backend=HalfRight())
    full = evaluate(config(run_id="full"), tmp_path, backend=HalfRight())
    ids = [r["id"] for r in fileio.read_jsonl(log, tolerate_partial_tail=False)]
    assert len(ids) == len(set(ids)) == sum(m["n"] for m in full["metrics"].values())
    assert resumed["metrics"] == full["metrics"]


def test_resume_without_run_id_picks_this_models_newest_unfinished_run(tmp_path):
    runs = tmp_path / "runs"
    for name, finished in (("random-micro-20260101-000000", False),
                           ("random-micro-20260102-000000", False),
                           ("random-micro-20260103-000000", True),
                           ("random-micro-tuned-20260104-000000", False)):
        (runs / name).mkdir(parents=True)
        (runs / name / "samples.jsonl").write_text("")
        if finished:
            (runs / name / "results.json").write_text("{}")
    assert run_dir_for(config(), tmp_path, resume=True).name == "random-micro-20260102-000000"
    with pytest.raises(UserError, match="no unfinished run of 'other'"):
        run_dir_for(config(label="other"), tmp_path, resume=True)


def test_write_json_is_all_or_nothing(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    fileio.write_json(path, {"version": 1})
    real_fdopen = os.fdopen

    class HalfWriter:
        """A file that writes half of what it is given, then fails (disk full, kill)."""

        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, text):
            self.fh.write(text[:len(text) // 2])
            self.fh.flush()
            raise OSError("No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(OSError):
        fileio.write_json(path, {"version": 2, "metrics": {"x": list(range(1000))}})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"], "no temporary file left"


def test_limit_is_per_family_split_and_tier(tmp_path):
    res = evaluate(config(run_id="lim", limit=1), tmp_path, backend=Oracle())
    assert {k: m["n"] for k, m in res["metrics"].items()} == {k: 1 for k in ALL_KEYS}
    assert len(rows_of(tmp_path, "lim")) == len(ALL_KEYS)


def test_bad_settings_are_user_errors():
    with pytest.raises(UserError, match="did you mean detection"):
        EvalConfig(families=("detectoin",))
    for bad in (dict(batch_size=0), dict(limit=0), dict(n_test=-1), dict(tiers=())):
        with pytest.raises(UserError):
            EvalConfig(**bad)


def test_a_backend_that_drops_answers_is_caught(tmp_path):
    class Short:
        def generate(self, samples, sampling):
            return [["x"]] * (len(samples) - 1)

    with pytest.raises(RuntimeError, match="7 results for 8 prompts"):
        evaluate(config(run_id="short"), tmp_path, backend=Short())


@pytest.mark.parametrize("run_id", ["../../escaped", "/tmp/absolute", "a/b", "..", ".", "a\\b",
                                    "nul\x00byte", " padded"])
def test_a_run_id_is_one_folder_name(run_id):
    with pytest.raises(UserError, match="run-id must be a plain folder name"):
        config(run_id=run_id)


def test_a_label_cannot_lead_the_run_folder_out(tmp_path):
    run = run_dir_for(config(label="../../escaped"), tmp_path, resume=False)
    assert run.parent == tmp_path / "runs" and run.name.startswith("escaped-")


def test_resume_refuses_another_model_data_or_settings(tmp_path):
    with pytest.raises(Killed):
        evaluate(config(run_id="cut"), tmp_path, backend=DiesAfter(HalfRight(), calls=1))
    other = tmp_path / "other-model"
    other.mkdir()
    (other / "config.json").write_text("{}")
    (other / "model.safetensors").write_bytes(b"other weights")
    for change, named in (({"model": str(other)}, "model"), ({"seed": 1}, "seed"),
                          ({"tiers": ("open",)}, "tiers"),
                          ({"max_new_tokens": 9}, "max_new_tokens"),
                          ({"limit": 2}, "limit"), ({"samples": 2}, "samples"),
                          ({"dtype": "bfloat16"}, "dtype"), ({"max_pixels": 12544}, "max_pixels")):
        with pytest.raises(UserError, match=f"was started with a different {named} \\(") as err:
            evaluate(config(run_id="cut", **change), tmp_path, resume=True, backend=HalfRight())
        assert "\n" not in str(err.value)
    assert len(rows_of(tmp_path, "cut")) == 8, "a refused resume writes nothing"
    # Batch size and label do not change an answer: the run resumes under the new label.
    resumed = evaluate(config(run_id="cut", batch_size=5, label="renamed"), tmp_path, resume=True,
                       backend=HalfRight())
    assert resumed["label"] == "renamed"
    assert resumed["metrics"] == evaluate(config(run_id="full"), tmp_path,
                                          backend=HalfRight())["metrics"]


def test_two_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    import time

    from reftbench.evaluation.evaluate import claim_run_dir

    monkeypatch.setattr(time, "strftime", lambda *a: "20260101-000000")
    first = claim_run_dir(run_dir_for(config(), tmp_path, resume=False), named=False)
    second = claim_run_dir(run_dir_for(config(), tmp_path, resume=False), named=False)
    assert (first.name, second.name) == ("random-micro-20260101-000000",
                                         "random-micro-20260101-000000-2")
    (second / "samples.jsonl").write_text("")  # unfinished: --resume finds the newest
    assert run_dir_for(config(), tmp_path, resume=True) == second
