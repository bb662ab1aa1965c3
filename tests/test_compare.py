"""`reftbench compare`: refuses to resume work another base model produced; hands each trainer
only the overrides its config has."""

import pytest

from reftbench.compare import FINGERPRINT, _same_base
from reftbench.errors import UserError
from reftbench.provenance import model_fingerprint


def _base(folder, weights: bytes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(weights)
    return str(folder)


def test_fresh_folders_record_the_base(tmp_path):
    base = _base(tmp_path / "base", b"v1")
    fingerprint = _same_base(base, tmp_path / "out", tmp_path / "results/runs/compare-base")
    assert fingerprint == f"fingerprint {model_fingerprint(base)}"
    assert (tmp_path / "out" / FINGERPRINT).read_text().strip() == fingerprint


def test_runs_from_another_base_are_refused(tmp_path):
    out, base_run = tmp_path / "out", tmp_path / "results/runs/compare-base"
    base = _base(tmp_path / "base", b"v1")
    _same_base(base, out, base_run)
    (out / "timings.json").write_text('{"sft-seed0": 100}')
    _same_base(base, out, base_run)  # same base: resumes
    _base(tmp_path / "base", b"v2")  # the base is rebuilt in place
    with pytest.raises(UserError, match="another base model.*--output"):
        _same_base(base, out, base_run)
    # A base evaluation with no recorded fingerprint (or another one) is not reused either.
    base_run.mkdir(parents=True)
    (base_run / "results.json").write_text("{}")
    with pytest.raises(UserError, match="not recorded.*--results-dir"):
        _same_base(base, tmp_path / "new-out", base_run)


PROTOCOL_FIELDS = ("families", "n_test", "limit", "seed", "general", "data", "image_root",
                   "max_pixels", "min_pixels", "samples", "max_new_tokens", "dtype")


@pytest.mark.parametrize("preset", ["tiny", "qwen2.5-vl-3b"])
def test_the_base_and_every_method_are_scored_under_one_protocol(preset):
    from reftbench.compare import METHODS, base_eval_config
    from reftbench.config import resolve
    from reftbench.registry import load_trainer
    from reftbench.training.run import final_eval_config

    overrides = ["--model", "random-micro", "--max_pixels", "401408", "--eval_limit", "7"]
    base = base_eval_config("sft", preset, overrides, run_id="compare-base")
    for name in METHODS:
        plugin = load_trainer(name)
        cfg = resolve(plugin.config_cls, plugin.presets, preset,
                      overrides={"model": "random-micro", "max_pixels": 401408, "eval_limit": 7})
        trained = final_eval_config(cfg, "outputs/x/final", name, run_id="r")
        for field in PROTOCOL_FIELDS:
            assert getattr(trained, field) == getattr(base, field), (name, field)
    assert base.max_pixels == 401408 and base.limit == 7 and base.label == "base"
    assert base.model.endswith("random-micro")


def test_the_base_protocol_follows_an_override_and_refuses_a_bad_one():
    from reftbench.compare import base_eval_config

    cfg = base_eval_config("grpo", "tiny", ["--eval_max_new_tokens", "12"], run_id="b")
    assert cfg.max_new_tokens == 12
    for bad in (["--eval_max_new_tokens", "0"], ["--eval_max_new_tokens", "many"]):
        with pytest.raises(UserError, match="eval_max_new_tokens"):
            base_eval_config("grpo", "tiny", bad, run_id="b")
    with pytest.raises(UserError, match="preset"):
        base_eval_config("grpo", "huge", [], run_id="b")


def test_compare_scores_its_own_start_model_data_and_families(cli, tmp_path, micro):
    """The base row is the comparison's --model on its --data and --families, not the
    embedded base on every family."""
    import json
    from pathlib import Path

    fixture = Path(__file__).parent / "fixtures" / "refdata"
    code, out, err = cli("compare", "--trainers", "sft", "--seeds", "0", "--eval-limit", "2",
                         "--general", "0", "--output", tmp_path / "out",
                         "--results-dir", tmp_path / "res", "--model", "random-micro",
                         "--data", fixture, "--families", "math", "--sft_steps", "1",
                         "--sft_batch_size", "2", "--n_test", "4")
    assert code == 0, err
    runs = {p.parent.name: json.loads(p.read_text())
            for p in (tmp_path / "res" / "runs").glob("*/results.json")}
    base, trained = runs.pop("compare-base"), next(iter(runs.values()))
    assert base["label"] == "base@refdata" and trained["label"] == "sft@refdata"
    assert base["config"]["model"].endswith("random-micro")
    assert base["config"]["data"] == str(fixture.resolve())
    assert base["config"]["families"] == ["math"]
    assert {key.split("/")[0] for key in base["metrics"]} == {"math"}
    assert base["protocol"] == trained["protocol"] | {"questions": base["protocol"]["questions"]}
    # Its leaderboard sets the trained row beside that base row, not beside a missing "base".
    board = (tmp_path / "res" / "LEADERBOARD.md").read_text()
    assert "## Difference from base@refdata" in board and "| sft@refdata | " in board


def test_a_comparison_of_schedules_reads_against_the_fixed_schedule(tmp_path):
    """Its leaderboard, as compare writes it and as `reftbench leaderboard` rebuilds it, sets
    every schedule beside the fixed row its compare.json names; other comparisons beside the
    base row."""
    import json

    from crafted import draw, write

    from reftbench.reports.leaderboard import build, default_against

    def folder(name, labels, trainers):
        world = draw({}, labels=labels)
        write(tmp_path / name, world)
        (tmp_path / name / "compare.json").write_text(json.dumps({"config": {
            "trainers": trainers}}))
        return tmp_path / name, {label: [{}] for label in labels}

    path, grouped = folder("sched", ("base", "curr-rl", "curr-rl:bandit"),
                           ["curr-rl", "curr-rl:bandit"])
    assert default_against(path, grouped) == "curr-rl"
    build(path)
    assert "## Difference from curr-rl\n" in (path / "LEADERBOARD.md").read_text()
    build(path, "base")  # named: the base after all
    assert "## Difference from base\n" in (path / "LEADERBOARD.md").read_text()
    # A schedule without its fixed run beside it, or no schedule at all: the base.
    assert default_against(*folder("alone", ("base", "curr-rl:bandit"),
                                   ["curr-rl:bandit"])) == "base"
    assert default_against(*folder("paper", ("base", "sft", "curr-rl"),
                                   ["sft", "curr-rl"])) == "base"
    # A real-data comparison's rows: its own fixed row, or its base@ row.
    assert default_against(*folder("mine", ("base@mydata", "curr-rl@mydata",
                                            "curr-rl:bandit@mydata"),
                                   ["curr-rl", "curr-rl:bandit"])) == "curr-rl@mydata"
    assert default_against(*folder("mine-sft", ("base@mydata", "sft@mydata"),
                                   ["sft"])) == "base@mydata"


def test_overrides_go_only_to_trainers_that_have_them():
    from reftbench.compare import trainer_overrides

    common = ["--eval_limit", "5", "--accuracy_reward", "strict", "--grpo_lr=3e-5"]
    trainers = ("sft", "grpo")
    assert trainer_overrides("grpo", trainers, common) == [
        "--eval_limit", "5", "--accuracy_reward", "strict", "--grpo_lr", "3e-5"]
    assert trainer_overrides("sft", trainers, common) == ["--eval_limit", "5"]
    with pytest.raises(UserError, match="--acuracy_reward is not a setting"):
        trainer_overrides("sft", trainers, ["--acuracy_reward", "strict"])
    # a GRPO-only key with no GRPO trainer compared is a mistake, not a silent no-op
    with pytest.raises(UserError, match="--accuracy_reward"):
        trainer_overrides("sft", ("sft",), ["--accuracy_reward", "strict"])


def test_the_committed_results_refuse_a_checkout_with_uncommitted_code(tmp_path, monkeypatch):
    from reftbench import provenance
    from reftbench.compare import check_tree

    committed = provenance.COMMITTED_RESULTS
    monkeypatch.setattr(provenance, "changed_files", lambda: ["reftbench/x.py"])
    for folder in (committed, committed / "ablations" / "new"):
        with pytest.raises(UserError, match=r"uncommitted changes \(reftbench/x.py\).*--allow-dirty"):
            check_tree(folder, allow_dirty=False)
    check_tree(committed, allow_dirty=True)
    check_tree(tmp_path / "results", allow_dirty=False)    # a user's own folder: no question
    monkeypatch.setattr(provenance, "changed_files", lambda: [])
    check_tree(committed, allow_dirty=False)


def test_compare_stops_before_any_work_and_the_record_says_which(tmp_path, monkeypatch, cli):
    import json

    from reftbench import provenance
    from reftbench.compare import CompareConfig, _write_record

    monkeypatch.setattr(provenance, "changed_files", lambda: ["a.py", "b.py", "c.py", "d.py"])
    code, out, err = cli("compare", "--results-dir", provenance.COMMITTED_RESULTS,
                         "--output", tmp_path / "runs")
    assert code == 2 and "a.py, b.py, c.py and 1 more" in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()
    _write_record(CompareConfig(allow_dirty=True), {"sft-seed0": 1.0}, tmp_path)
    record = json.loads((tmp_path / "compare.json").read_text())
    assert record["config"]["allow_dirty"] is True and record["provenance"]["dirty"] is True


def test_plan_says_what_an_effect_needs_from_a_finished_comparison(tmp_path, cli):
    from crafted import draw, write

    write(tmp_path, draw({"sft": {"id": .03}}))
    code, out, err = cli("compare", "--plan", "1.5", "--results-dir", tmp_path)
    assert code == 0, err
    assert "sft - base" in out and "curr-reft - curr-rl" in out
    flat = " ".join(out.split())
    assert "to detect 1.5 points" in flat and "500 questions per cell and 3 runs" in flat
    pilot = tmp_path / "pilot"                 # one run per method: seeds cannot be planned
    write(pilot, draw({}, seeds=1, questions=100))
    code, out, err = cli("compare", "--plan", "3", "--results-dir", pilot)
    assert code == 0 and "One run per row: the seed-to-seed noise is not measured" in out
    assert "100 questions per cell and 1 runs" not in out
    code, out, err = cli("compare", "--plan", "0", "--results-dir", tmp_path)
    assert code == 2 and "--plan takes a difference in points above 0" in err
    code, out, err = cli("compare", "--plan", "2", "--results-dir", tmp_path / "empty")
    assert code == 2 and "run a pilot first" in err


def test_planned_counts_are_the_fewest_that_reach_the_effect():
    from crafted import draw
    from test_paired import rows_from

    from reftbench.reports.paired import detectable
    from reftbench.reports.power import MAX_QUESTIONS, questions_needed, seeds_needed

    rows = rows_from(draw({"sft": {"id": .02}}, labels=("base", "sft")))
    parts = rows.estimate([("sft", "avg/id", 1), ("base", "avg/id", -1)]).parts
    now = detectable(parts)
    # More questions shrink it only down to what the seeds leave.
    floor = detectable(parts, questions=MAX_QUESTIONS)
    assert questions_needed(parts, floor * 0.9) is None
    target = (now + floor) / 2
    n = questions_needed(parts, target)
    assert n > 500 and detectable(parts, questions=n) <= target < detectable(parts, questions=n - 1)
    s = seeds_needed(parts, now * 0.8)
    assert s > 3 and detectable(parts, runs=s) <= now * 0.8 < detectable(parts, runs=s - 1)
    assert seeds_needed(parts, now * 2) == 2


def test_a_trainer_named_with_a_schedule_runs_under_it():
    from reftbench.compare import run_name, split_variant, trainer_overrides

    assert split_variant("curr-rl") == ("curr-rl", [])
    assert split_variant("curr-rl:bandit") == ("curr-rl", ["--schedule", "bandit"])
    assert split_variant("curr-reft:fixed+skip") == (
        "curr-reft", ["--schedule", "fixed", "--skip_zero_spread", "true"])
    assert run_name("curr-rl:fixed+skip") == "curr-rl-fixed-skip"
    with pytest.raises(UserError, match="did you mean bandit"):
        split_variant("curr-rl:bandid")
    with pytest.raises(UserError, match="grpo has no schedule"):
        split_variant("grpo:bandit")
    with pytest.raises(UserError, match="only 'skip'"):
        split_variant("curr-rl:bandit+fast")
    # Overrides are checked against the trainer behind a variant.
    assert trainer_overrides("curr-rl", ("curr-rl", "curr-rl:bandit"), ["--bandit_lr", "0.5"]) \
        == ["--bandit_lr", "0.5"]


def fake_run(folder, schedule: str, chunks: list[tuple[str, float]], steps_per_chunk=1):
    """A finished run folder with one GRPO stage whose chunks scored `chunks` (tier, reward)."""
    import json

    stage = folder / "stages" / "1-x"
    stage.mkdir(parents=True)
    rows = [{"step": i * steps_per_chunk + 1, "groups": 2, "signal": 1, "accuracy": acc,
             "tier_accuracy": {tier: acc}, "arms": {f"{tier}/math": 2}}
            for i, (tier, acc) in enumerate(chunks)]
    budget = {"steps": len(chunks) * steps_per_chunk, "generation_batches": len(chunks),
              "completions": 4 * len(chunks), "groups": 2 * len(chunks),
              "groups_with_signal": len(chunks), "prompts_passed_over": 0}
    (stage / "schedule.json").write_text(json.dumps({"budget": budget, "chunks": rows}))
    (folder / "budget.json").write_text(json.dumps({"schedule": schedule, "total": {
        **budget, "signal_share": 0.5}}))


def test_schedules_table_counts_steps_to_the_fixed_schedule_s_final_reward(tmp_path):
    from reftbench.reports.schedules import write_schedules

    # fixed: 20 judge chunks, then 20 open chunks ending at 0.5 (its final 10-chunk average).
    fake_run(tmp_path / "fixed", "fixed", [("judge", 0.9)] * 20 + [("open", 0.5)] * 20)
    # bandit: open-tier reward at 0.5 from its 11th open chunk on (the average reaches 0.5 at
    # the 20th open chunk), judge chunks in between do not count for the open tier.
    fake_run(tmp_path / "bandit", "bandit",
             [("open", 0.0)] * 10 + [("judge", 0.9), ("open", 0.5)] * 10 + [("open", 0.6)] * 20)
    path = write_schedules({"curr-rl": {0: tmp_path / "fixed"},
                            "curr-rl:bandit": {0: tmp_path / "bandit"}}, tmp_path / "results")
    lines = [line for line in path.read_text().splitlines() if line.startswith("| curr-rl")]
    rows = {cells[0]: cells for cells in
            ([c.strip() for c in line.strip("| ").split(" | ")] for line in lines)}
    # fixed is at its own final open-tier average from its first open chunk (step 21) on.
    assert rows["curr-rl"][7] == "21 (1/1)"
    assert rows["curr-rl:bandit"][2] == "50" and rows["curr-rl:bandit"][7] == "30 (1/1)"
    assert rows["curr-rl:bandit"][8] == "120"  # 4 completions a chunk, 30 chunks
    # Where each open-tier reward started (its first 10 open chunks) and ended.
    assert rows["curr-rl"][5:7] == ["0.500", "0.500"]
    assert rows["curr-rl:bandit"][5:7] == ["0.000", "0.600"]
    # Beside the table, the picture of both runs' open-tier reward, linked from it.
    from PIL import Image

    assert "![open-tier training reward by schedule](schedules.png)" in path.read_text()
    with Image.open(tmp_path / "results" / "schedules.png") as picture:
        assert picture.width > 600
    # Runs without records: a table without rows and no picture.
    empty = write_schedules({"curr-rl": {0: tmp_path / "none"}}, tmp_path / "empty")
    assert "schedules.png" not in empty.read_text()
    assert not (tmp_path / "empty" / "schedules.png").exists()
