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
