"""The base build's comparison phase: text-only training of the language model, in stages."""

from pathlib import Path

import pytest
from safetensors.torch import load_file

from reftbench import fileio
from reftbench.base_build import compare_pretrain
from reftbench.model.names import resolve_model


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_stages_train_the_language_model_and_leave_the_vision_tower_alone(tmp_path):
    start = Path(resolve_model("random-micro"))
    rows = []
    last = compare_pretrain.pretrain_compare(start, tmp_path, [(("number",), 2), (("box",), 2)],
                                             1e-3, 2, 2, 0, log=rows.append, held_out=5)
    assert last == tmp_path / "stage1" and (tmp_path / "stage0" / "config.json").exists()
    before, after = _weights(start), _weights(last)
    visual = [k for k in before if ".visual." in k or k.startswith("visual.")]
    language = [k for k in before if k not in visual]
    assert visual and language
    assert all((before[k] == after[k]).all() for k in visual)
    assert any((before[k] != after[k]).any() for k in language)
    # One log row before training and one at each scoring point, per stage, tagged by stage.
    assert [(r["stage"], r["step"]) for r in rows] == [
        ("compare0", 1), ("compare0", 2), ("compare1", 1), ("compare1", 2)]
    assert rows[0]["kinds"] == ["number"] and 0 <= rows[-1]["heldout_judge"] <= 100


def test_a_finished_stage_is_reused_not_retrained(tmp_path, monkeypatch):
    start = Path(resolve_model("random-micro"))
    compare_pretrain.pretrain_compare(start, tmp_path, [(("number",), 1)], 1e-3, 2, 2, 0,
                                      held_out=2)
    saved = (tmp_path / "stage0" / "model.safetensors").read_bytes()

    def refuse(*args, **kwargs):
        raise AssertionError("a finished stage was trained again")

    monkeypatch.setattr(compare_pretrain, "train", refuse)
    with pytest.raises(AssertionError):  # the new second stage does train
        compare_pretrain.pretrain_compare(start, tmp_path, [(("number",), 1), (("box",), 1)],
                                          1e-3, 2, 2, 0, held_out=2)
    assert (tmp_path / "stage0" / "model.safetensors").read_bytes() == saved
    assert not (tmp_path / "stage1").exists()



def test_a_stage_killed_midway_leaves_no_log_rows_behind(tmp_path, monkeypatch):
    start = Path(resolve_model("random-micro"))
    real_train = compare_pretrain.train

    def killed(*args, log, **kwargs):
        log(1, 0.0, 9.9, 50.0, 20.0)  # the first scoring point is logged, then the kill
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_pretrain, "train", killed)
    with pytest.raises(KeyboardInterrupt):
        compare_pretrain.pretrain_compare(start, tmp_path, [(("number",), 2)], 1e-3, 2, 2, 0,
                                          held_out=2)
    monkeypatch.setattr(compare_pretrain, "train", real_train)
    compare_pretrain.pretrain_compare(start, tmp_path, [(("number",), 2)], 1e-3, 2, 2, 0,
                                      held_out=2)
    rows = fileio.read_jsonl(tmp_path / "metrics.jsonl")
    assert [(r["stage"], r["step"]) for r in rows] == [("compare0", 1), ("compare0", 2)]
    assert 9.9 not in [r["loss"] for r in rows]


def test_changing_the_forms_retrains_only_the_stage_of_every_form(tmp_path):
    from dataclasses import replace

    from reftbench.base_build.recipe import BaseConfig, _compare_phase

    cfg = BaseConfig(model="random-micro", compare_number_steps=1, compare_steps=1,
                     compare_sequences=2, compare_lines=2)
    start = resolve_model("random-micro")
    last = _compare_phase(cfg, tmp_path, start, None)
    stages = tmp_path / "compare"
    numbers = (stages / "stage0" / "model.safetensors").stat().st_mtime_ns
    forms = fileio.read_jsonl(last / compare_pretrain.STAGE_LOG)
    assert last == stages / "stage1" and forms[0]["kinds"] == ["box", "number", "shapes"]
    # Other forms: the numbers stage is reused, the stage of every form trained again.
    last = _compare_phase(replace(cfg, compare_kinds="box,number"), tmp_path, start, None)
    assert (stages / "stage0" / "model.safetensors").stat().st_mtime_ns == numbers
    assert fileio.read_jsonl(last / compare_pretrain.STAGE_LOG)[0]["kinds"] == ["box", "number"]
    rows = fileio.read_jsonl(stages / "metrics.jsonl")
    assert {tuple(r["kinds"]) for r in rows} == {("number",), ("box", "number")}
    # A setting of the numbers stage: both stages are trained again.
    _compare_phase(replace(cfg, compare_kinds="box,number", compare_number_steps=2), tmp_path,
                   start, None)
    assert (stages / "stage0" / "model.safetensors").stat().st_mtime_ns != numbers
    assert [r["step"] for r in fileio.read_jsonl(stages / "stage0" / "metrics.jsonl")][-1] == 2
