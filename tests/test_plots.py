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
