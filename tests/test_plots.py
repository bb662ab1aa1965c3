"""The training-curves picture: what it draws from a run's metrics logs."""

from reftbench import fileio
from reftbench.training.plots import lay_end_to_end, moving_average, plot_curves


def test_moving_average_uses_a_trailing_window():
    assert moving_average([0, 2, 4, 6], window=2) == [0, 1, 3, 5]
    assert moving_average([1.0]) == [1.0]


def test_stages_are_laid_end_to_end():
    rows = [{"stage": "a", "step": 1}, {"stage": "a", "step": 5}, {"stage": "b", "step": 2}]
    lay_end_to_end(rows)
    assert [r["x"] for r in rows] == [1, 5, 7]


def test_grpo_and_sft_stages_give_a_png(tmp_path):
    grpo = tmp_path / "1-open" / "metrics.jsonl"
    sft = tmp_path / "2-rs" / "metrics.jsonl"
    grpo.parent.mkdir()
    sft.parent.mkdir()
    fileio.append_jsonl(grpo, [{"stage": "1-open", "step": i, "loss": 0.0,
                                "rewards/accuracy_reward/mean": i / 10, "entropy": 1 - i / 20,
                                "frac_reward_zero_std": 0.5} for i in range(1, 11)])
    fileio.append_jsonl(sft, [{"stage": "2-rs", "step": i, "loss": 1 / i} for i in range(1, 4)])
    out = plot_curves([grpo, sft], tmp_path / "curve.png")
    assert out is not None and out.stat().st_size > 1000
    assert plot_curves([tmp_path / "missing.jsonl"], tmp_path / "none.png") is None


def test_arm_shares_restart_at_each_stage_and_follow_the_draws():
    from reftbench.training.plots import arm_shares

    both = {"judge/math": 1, "judge/detection": 1}
    records = {"1-judge": {"arms": ["judge/math", "judge/detection"],
                           "chunks": [{"step": 1, "arms": {"judge/math": 2}},
                                      {"step": 2, "arms": both}]},
               "2-open": {"arms": ["open/math"], "chunks": [{"step": 1, "arms": {"open/math": 2}}]}}
    xs, shares = arm_shares(records, {"1-judge": 0, "2-open": 2})
    assert xs == [1, 2, 3]
    assert shares == {"judge/math": [1.0, 0.75, 0.0], "judge/detection": [0.0, 0.25, 0.0],
                      "open/math": [0.0, 0.0, 1.0]}


def test_a_stage_with_a_schedule_record_adds_the_arm_panel(tmp_path):
    import json

    from PIL import Image

    grpo = tmp_path / "1-bandit" / "metrics.jsonl"
    grpo.parent.mkdir()
    rows = [{"stage": "1-bandit", "step": i, "rewards/accuracy_reward/mean": 0.5, "entropy": 1.0,
             "frac_reward_zero_std": 0.5} for i in range(1, 5)]
    fileio.append_jsonl(grpo, rows)
    without = plot_curves([grpo], tmp_path / "without.png")
    arms = {"judge/math": 1, "open/math": 1}
    (grpo.parent / "schedule.json").write_text(json.dumps(
        {"arms": list(arms), "chunks": [{"step": i, "arms": arms} for i in range(1, 5)]}))
    with_panel = plot_curves([grpo], tmp_path / "with.png")
    # One more panel: the picture is wider by one panel's width.
    assert Image.open(with_panel).width > Image.open(without).width * 1.2
