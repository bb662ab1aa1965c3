"""One evaluation protocol per table: results record how they were scored, and the leaderboard
keeps rows scored another way out of the base's table unless told otherwise."""

import json
import logging

from reftbench.evaluation import protocol
from reftbench.reports.leaderboard import build, collect


def write_run(results_dir, run_id, label, recorded, seed=None):
    metrics = {f"{f}/{s}/open": {"n": 10, "accuracy": 0.5, "strict": 0.5}
               for f in ("detection", "classification", "math") for s in ("id", "ood")}
    res = {"label": label, "run_id": run_id, "metrics": metrics,
           "config": {"extra": {} if seed is None else {"seed": seed}, "max_new_tokens": 64},
           "protocol": recorded, "provenance": {"date": "2026-01-01"}}
    (results_dir / "runs" / run_id).mkdir(parents=True)
    (results_dir / "runs" / run_id / "results.json").write_text(json.dumps(res))


BASE = {"max_new_tokens": 256, "min_pixels": 3136, "max_pixels": 401408, "dtype": "bfloat16",
        "samples": 0, "sample_temperature": None, "prompt": protocol.prompt_digest(),
        "data": "folder /data", "limit": 500, "questions": "abc", "box_frame": "model"}


def test_rows_under_another_protocol_are_left_out_with_the_reason(tmp_path, caplog):
    write_run(tmp_path, "base", "base", dict(BASE, questions="all-tiers"))
    write_run(tmp_path, "grpo-0", "grpo", BASE, seed=0)
    write_run(tmp_path, "grpo-1", "grpo", dict(BASE, dtype="float32"), seed=1)
    write_run(tmp_path, "sft-0", "sft", dict(BASE, max_new_tokens=64, max_pixels=12845056))
    with caplog.at_level(logging.WARNING, logger="reftbench.reports.leaderboard"):
        grouped = collect(tmp_path)
    assert set(grouped) == {"base", "grpo"} and len(grouped["grpo"]) == 1
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "sft: left out" in said and "max_new_tokens 64 vs 256" in said
    assert "max_pixels 12845056 vs 401408" in said
    assert "grpo: left out" in said and "1 of its 2 run(s)" in said and "dtype float32" in said
    assert set(collect(tmp_path, mixed_protocols=True)) == {"base", "grpo", "sft"}
    _, rows = build(tmp_path)
    assert [r[0] for r in rows] == ["base", "grpo"]


def test_results_without_a_recorded_protocol_compare_on_what_their_config_says(tmp_path):
    old = {"config": {"max_new_tokens": 40, "samples": 0}}
    assert protocol.of_results(old)["max_new_tokens"] == 40
    assert protocol.of_results(old)["dtype"] is None
    # Unknown fields never count as a difference; known ones do.
    assert protocol.same_protocol(protocol.of_results(old), dict(BASE, max_new_tokens=40))
    assert not protocol.same_protocol(protocol.of_results(old), BASE)


def recorded_protocol(cli, tmp_path, *options) -> dict:
    """The protocol a one-question detection evaluation of random-micro records."""
    from conftest import N_TEST

    code, _, err = cli("eval", "--model", "random-micro", "--n-test", str(N_TEST), "--limit", "1",
                       "--tasks", "detection", *options, "--results-dir", tmp_path, "--run-id", "r")
    assert code == 0, err
    return json.loads((tmp_path / "runs" / "r" / "results.json").read_text())["protocol"]


def test_an_evaluation_records_its_protocol(cli, tmp_path, micro):
    recorded = recorded_protocol(cli, tmp_path, "--max-new-tokens", "9")
    assert recorded["max_new_tokens"] == 9 and recorded["box_frame"] == "model"
    assert recorded["dtype"] == "float32" and recorded["max_pixels"] > 0
    assert recorded["prompt"] == protocol.prompt_digest()
    assert recorded["data"].startswith("generated v")


def test_the_reference_box_metric_is_an_eval_option_recorded_in_the_protocol(cli, tmp_path, micro):
    recorded = recorded_protocol(cli, tmp_path, "--box-metric", "box_iou_reference")
    assert recorded["box_metric"] == "box_iou_reference"
    code, _, err = cli("eval", "--model", "random-micro", "--box-metric", "lenient",
                       "--results-dir", tmp_path)
    assert code == 2 and "unknown box metric 'lenient'" in err
