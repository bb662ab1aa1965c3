"""Trainer plugins on the micro model: settings reach TRL, stages chain, runs resume."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from reftbench.config import resolve
from reftbench.errors import UserError
from reftbench.registry import load_trainer
from reftbench.training.run import train

# Small enough for seconds per stage on two cores.
FAST = {"model": "random-micro", "n_train": "12", "n_test": "8", "eval_limit": "2",
        "prompts_per_step": "2", "num_generations": "2", "max_completion_length": "8",
        "sft_batch_size": "4", "logging_steps": "1", "save_steps": "1", "rs_prompts": "3",
        "eval_max_new_tokens": "6"}


def fast(name: str, **extra) -> dict:
    """FAST overrides restricted to the fields trainer `name` has, plus `extra`."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(load_trainer(name).config_cls)}
    return {**{k: v for k, v in FAST.items() if k in fields}, **extra}


def weights(model_dir: Path) -> dict:
    return load_file(str(Path(model_dir) / "model.safetensors"))


def test_grpo_settings_reach_trl(tmp_path):
    from reftbench.training.grpo_stage import grpo_args

    plugin = load_trainer("curr-rl")
    cfg = resolve(plugin.config_cls, plugin.presets, "qwen2.5-vl-3b",
                  overrides=["--temperature", "0.7", "--beta", "0.02", "--grpo_lr", "3e-6",
                             "--max_completion_length", "99", "--num_iterations", "2",
                             "--epsilon", "0.3"])
    args = grpo_args(cfg, tmp_path, steps=7, num_generations=2)
    assert (args.num_iterations, args.epsilon) == (2, 0.3)
    assert args.temperature == 0.7
    assert args.beta == 0.02
    assert args.learning_rate == 3e-6
    assert args.max_completion_length == 99
    assert args.num_generations == 2
    assert args.per_device_train_batch_size == 8 * 2  # the preset's global 8 prompts, one process
    assert args.max_steps == 7
    assert args.seed == cfg.seed
    # Explicit, so a checkpoint's generation_config (top_k=1, ...) cannot narrow the rollouts.
    assert (args.top_p, args.top_k, args.min_p, args.repetition_penalty) == (1.0, 0, 0.0, 1.0)
    tuned = resolve(plugin.config_cls, plugin.presets, "tiny",
                    overrides=["--top_p", "0.9", "--top_k", "20", "--min_p", "0.05",
                               "--repetition_penalty", "1.1"])
    args = grpo_args(tuned, tmp_path, steps=1, num_generations=2)
    assert (args.top_p, args.top_k, args.min_p, args.repetition_penalty) == (0.9, 20, 0.05, 1.1)


def test_sft_settings_reach_trl(tmp_path):
    from reftbench.training.sft_stage import sft_args

    plugin = load_trainer("sft")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny", overrides=["--seed", "5"])
    args = sft_args(cfg, tmp_path, steps=3, lr=2e-7, batch_size=6)
    assert (args.learning_rate, args.per_device_train_batch_size, args.max_steps) == (2e-7, 6, 3)
    assert args.seed == 5 and not args.bf16


def test_reference_preset_matches_the_paper():
    plugin = load_trainer("curr-reft")
    cfg = resolve(plugin.config_cls, plugin.presets, "qwen2.5-vl-3b")
    assert (cfg.grpo_lr, cfg.beta, cfg.max_completion_length) == (1e-6, 0.04, 256)
    plain = load_trainer("grpo")
    assert resolve(plain.config_cls, plain.presets, "qwen2.5-vl-3b").num_generations == 4
    assert cfg.stage_generations == (4, 2, 4) and cfg.temperature == 1.0
    assert cfg.rs_sft_lr == 2e-7 and cfg.dtype == "bfloat16"


def test_curriculum_stage_order():
    plugin = load_trainer("curr-reft")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny")
    names = [s.name for s in plugin.plan(cfg)]
    assert names == ["1-judge", "2-choice", "3-open", "4-rejection-sft"]


def test_bad_curriculum_is_refused():
    plugin = load_trainer("curr-rl")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny", overrides=["--stages", "judge,opne",
                                                                          "--stage_steps", "1,1",
                                                                          "--stage_generations",
                                                                          "2,2"])
    with pytest.raises(UserError, match="did you mean open"):
        plugin.plan(cfg)


def length_reward(completions, **kwargs):
    """A reward with spread even for a random model (GRPO learns nothing from equal rewards)."""
    return [float(len(str(c))) for c in completions]


def test_curr_rl_chains_stages(tmp_path, monkeypatch):
    import reftbench.training.trl_rewards

    monkeypatch.setattr(reftbench.training.trl_rewards, "make_reward_funcs", lambda *args: [length_reward])
    out = train("curr-rl", overrides=fast("curr-rl", stage_steps="1,1,1",
                                          stage_generations="2,2,2", evaluate="false"),
                output=tmp_path / "run", results_dir=tmp_path / "results")
    records = [json.loads((tmp_path / "run" / "stages" / n / "stage.json").read_text())
               for n in ("1-judge", "2-choice", "3-open")]
    assert records[0]["input_model"].endswith("random-micro")
    assert records[1]["input_model"] == records[0]["model"]
    assert records[2]["input_model"] == records[1]["model"]
    assert out["model"] == records[2]["model"]
    # Each stage trained: its weights differ from its input's.
    w1, w2 = weights(records[0]["model"]), weights(records[1]["model"])
    assert any(not torch.equal(w1[k], w2[k]) for k in w1)
    from reftbench.model.names import preset_path

    w0 = weights(preset_path("random-micro"))
    assert any(not torch.equal(w0[k], w1[k]) for k in w0)
    logged = [json.loads(line)["stage"] for n in ("1-judge", "2-choice", "3-open")
              for line in (tmp_path / "run" / "stages" / n
                           / "metrics.jsonl").read_text().splitlines()]
    assert logged[0] == "1-judge" and logged[-1] == "3-open"
    assert (tmp_path / "run" / "reward_curve.png").exists()


@pytest.mark.parametrize("name", ["sft", "grpo"])
def test_single_stage_trainers_train_and_evaluate(tmp_path, name):
    steps = {"sft_steps": "2"} if name == "sft" else {"grpo_steps": "2"}
    out = train(name, overrides=fast(name, **steps), output=tmp_path / "run",
                results_dir=tmp_path / "results")
    res = out["results"]
    assert res["label"] == name and res["config"]["extra"]["trainer"] == name
    # Every method is scored with the same room, whatever its own completion length.
    assert res["config"]["max_new_tokens"] == 6
    assert set(res["metrics"]) == {f"{f}/{s}/open" for f in ("detection", "classification", "math")
                                   for s in ("id", "ood")}
    saved = json.loads((Path(out["model"]) / "reftbench_run.json").read_text())
    assert saved["provenance"]["git_commit"] and saved["config"]["seed"] == 0


def test_killed_run_resumes_without_redoing_finished_work(tmp_path, monkeypatch):
    from reftbench.training import callbacks

    class Kill(Exception):
        pass

    def kill_after_checkpoint(self, args, state, control, **kw):
        # A kill right after stage 2 saved its step-2 checkpoint.
        if self.stage == "2-choice" and state.global_step == 2:
            raise Kill

    monkeypatch.setattr(callbacks.MetricsLog, "on_save", kill_after_checkpoint, raising=False)
    overrides = fast("curr-rl", stage_steps="1,3,1", stage_generations="2,2,2",
                     evaluate="false")
    with pytest.raises(Kill):
        train("curr-rl", overrides=overrides, output=tmp_path / "run")
    first = json.loads((tmp_path / "run/stages/1-judge/stage.json").read_text())
    assert not (tmp_path / "run/stages/2-choice/stage.json").exists()
    monkeypatch.undo()

    with pytest.raises(UserError, match="--resume"):
        train("curr-rl", overrides=overrides, output=tmp_path / "run")
    train("curr-rl", overrides=overrides, output=tmp_path / "run", resume=True)
    # Stage 1 was not redone, stage 2 continued from its step-2 checkpoint, stage 3 ran.
    assert json.loads((tmp_path / "run/stages/1-judge/stage.json").read_text()) == first
    steps = [json.loads(line)["step"] for line in
             (tmp_path / "run/stages/2-choice/metrics.jsonl").read_text().splitlines()]
    assert steps[:2] == [1, 2] and steps[2] == 3 and 1 not in steps[2:]
    assert (tmp_path / "run/stages/3-open/stage.json").exists()


def test_bad_config_fails_before_work(tmp_path):
    with pytest.raises(UserError, match="unknown config key 'grpo_stepz'"):
        train("grpo", overrides=["--grpo_stepz", "3"], output=tmp_path / "x")
    with pytest.raises(UserError, match="expects int"):
        train("grpo", overrides=["--grpo_steps", "three"], output=tmp_path / "x")
    with pytest.raises(UserError, match="neither a preset"):
        train("grpo", overrides=["--model", str(tmp_path / "nope")], output=tmp_path / "x")
    with pytest.raises(UserError, match="unknown task family"):
        train("grpo", overrides=["--model", "random-micro", "--families", "detection,maths"],
              output=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_bf16_trains_fp32_weights_under_autocast(tmp_path):
    """Under DDP (or one device) bf16 must not mean bf16 weights: at lr 1e-6 every update is
    far below a bf16 step of the weights and would round away. The weights stay fp32 and the
    updates survive."""
    from reftbench.model.names import preset_path
    from reftbench.training.sft_stage import sft_args

    plugin = load_trainer("sft")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny", overrides=["--dtype", "bfloat16"])
    assert sft_args(cfg, tmp_path, steps=1, lr=1e-6, batch_size=2).bf16  # autocast on
    out = train("sft", overrides=fast("sft", dtype="bfloat16", sft_steps="2", sft_lr="1e-6",
                                      evaluate="false"), output=tmp_path / "run")
    before, after = weights(preset_path("random-micro")), weights(out["model"])
    assert all(t.dtype == torch.float32 for t in after.values())
    changed = sum(int((before[k] != after[k]).sum()) for k in before)
    total = sum(before[k].numel() for k in before)
    assert changed > total / 2, "two steps at lr 1e-6 changed almost nothing"
    # Yet in bf16 nearly all of it rounds back to the start: bf16 weights would not have moved.
    same_in_bf16 = sum(int((before[k].bfloat16() == after[k].bfloat16()).sum()) for k in before)
    assert same_in_bf16 > 0.9 * total


def test_report_to_reaches_trl_and_needs_its_package(tmp_path, monkeypatch):
    import importlib.util

    from reftbench.training.sft_stage import sft_args

    plugin = load_trainer("sft")

    def args_for(*names):
        cfg = resolve(plugin.config_cls, plugin.presets, "tiny",
                      overrides=["--report_to", ",".join(names)])
        return sft_args(cfg, tmp_path, steps=1, lr=1e-5, batch_size=2)

    assert args_for().report_to == [] and args_for("none").report_to == []  # off by default
    monkeypatch.delenv("WANDB_MODE", raising=False)
    if importlib.util.find_spec("wandb"):
        assert args_for("wandb").report_to == ["wandb"]
        assert os.environ["WANDB_MODE"] == "offline" and os.environ["WANDB_DIR"] == str(tmp_path)
    with pytest.raises(UserError, match="unknown report_to 'tensorbord'.*did you mean tensorboard"):
        args_for("tensorbord")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(UserError, match="report_to tensorboard needs the tensorboard package"):
        args_for("tensorboard")
    with pytest.raises(UserError, match="pip install tensorboard"):  # before any work
        train("sft", overrides=fast("sft", report_to="tensorboard"), output=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_resume_refuses_a_changed_setting_and_records_a_harmless_one(tmp_path):
    from reftbench.training.run import _run_meta, check_run_folder, prepare

    run = tmp_path / "run"
    # What a crashed run leaves: its config.json and a stage folder.
    _, cfg, _, _, model = prepare("grpo", "tiny", None, fast("grpo"), run, resume=False)
    first = _run_meta(run, "grpo", "tiny", cfg, False, model)
    (run / "stages" / "1-open").mkdir(parents=True)
    with pytest.raises(UserError) as err:
        _, changed, _, _, _ = prepare("grpo", "tiny", None, fast("grpo", grpo_lr="0.001",
                                                                 beta="0.1"), run, resume=True)
        check_run_folder(run, "grpo", model, True, changed)
    message = str(err.value)
    assert "\n" not in message and "was started with other settings" in message
    assert "grpo_lr 3e-05 -> 0.001" in message and "beta 0.0 -> 0.1" in message
    # Logging, saving and the time limit may change; config.json then records the new values.
    _, cfg, _, _, _ = prepare("grpo", "tiny", None, fast("grpo", logging_steps="7"), run,
                              resume=True)
    check_run_folder(run, "grpo", model, True, cfg)
    _run_meta(run, "grpo", "tiny", cfg, True, model)
    saved = json.loads((run / "config.json").read_text())
    assert saved["config"]["logging_steps"] == 7 and saved["started"] == first["started"]
    assert saved["resumes"][0]["changed"] == {"logging_steps": [1, 7]}


def test_a_start_that_fails_leaves_no_run_folder(tmp_path, monkeypatch):
    import reftbench.training.grpo_stage

    def fails(*args, **kwargs):
        raise UserError("image x.png is corrupt")

    monkeypatch.setattr(reftbench.training.grpo_stage, "run_grpo", fails)
    with pytest.raises(UserError, match="corrupt"):
        train("grpo", overrides=fast("grpo", grpo_steps="1"), output=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # A folder holding something else is refused before anything is written into it.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="is not empty and holds no reftbench training run"):
        train("grpo", overrides=fast("grpo", grpo_steps="1"), output=tmp_path / "mine")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_a_resumed_stage_starts_from_its_checkpoint_weights(tmp_path, monkeypatch):
    """transformers' own reload matches keys verbatim; a saved Qwen2.5-VL (visual.*,
    model.layers.*) matches none of the live model's keys, so it used to resume from the
    stage's input weights with a warning. The checkpoint's weights must be the ones trained on."""
    from reftbench.model.load import load_model
    from reftbench.model.names import preset_path
    from reftbench.training import callbacks

    class Kill(Exception):
        pass

    log_row = callbacks.MetricsLog.on_log

    def kill_after_logging_step_3(self, args, state, control, **kw):
        log_row(self, args, state, control, **kw)
        if state.global_step == 3:  # the checkpoint is step 2's: step 3 will be redone
            raise Kill

    monkeypatch.setattr(callbacks.MetricsLog, "on_log", kill_after_logging_step_3)
    overrides = fast("sft", sft_steps="4", save_steps="2", sft_lr="1e-3", evaluate="false")
    with pytest.raises(Kill):
        train("sft", overrides=overrides, output=tmp_path / "run")
    monkeypatch.undo()
    saved, _ = load_model(str(next((tmp_path / "run").rglob("checkpoint-2"))))
    at_kill = {k: v.clone() for k, v in saved.state_dict().items()}
    start, _ = load_model(str(preset_path("random-micro")))
    assert any(not torch.equal(at_kill[k], v) for k, v in start.state_dict().items())

    resumed_from = {}

    def record_start(self, args, state, control, model=None, **kw):
        if not resumed_from:
            resumed_from.update({k: v.detach().clone() for k, v in model.state_dict().items()})

    monkeypatch.setattr(callbacks.ProgressLine, "on_step_begin", record_start, raising=False)
    train("sft", overrides=overrides, output=tmp_path / "run", resume=True)
    assert resumed_from.keys() == at_kill.keys()
    assert all(torch.equal(resumed_from[k], at_kill[k]) for k in at_kill)
    rows = [json.loads(line) for line in
            next((tmp_path / "run").rglob("metrics.jsonl")).read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]  # step 3 logged once


def test_a_resumed_stage_keeps_its_input_model_as_the_kl_reference(tmp_path, monkeypatch):
    """With beta > 0 TRL builds the reference model from the policy's `_name_or_path`; after a
    resume from a full-weight checkpoint that was the checkpoint (KL 0 at the first step)."""
    import trl.trainer.grpo_trainer as grpo_trainer

    from reftbench.model.names import preset_path
    from reftbench.training import callbacks

    class Kill(Exception):
        pass

    log_row = callbacks.MetricsLog.on_log

    def kill_after_logging_step_3(self, args, state, control, **kw):
        log_row(self, args, state, control, **kw)
        if state.global_step == 3:
            raise Kill

    references = []
    build = grpo_trainer.create_model_from_path
    monkeypatch.setattr(grpo_trainer, "create_model_from_path",
                        lambda model_id, *a, **k: references.append(model_id) or build(model_id, *a, **k))
    monkeypatch.setattr(callbacks.MetricsLog, "on_log", kill_after_logging_step_3)
    overrides = fast("grpo", grpo_steps="4", save_steps="2", beta="0.04", evaluate="false")
    with pytest.raises(Kill):
        train("grpo", overrides=overrides, output=tmp_path / "run")
    monkeypatch.setattr(callbacks.MetricsLog, "on_log", log_row)
    train("grpo", overrides=overrides, output=tmp_path / "run", resume=True)
    start = str(preset_path("random-micro"))
    assert len(references) == 2 and all(Path(r) == Path(start) for r in references), references


def test_checkpoints_along_a_stage_are_kept_as_model_folders(tmp_path):
    from reftbench.model.load import load_model
    from reftbench.training.keep_checkpoints import kept_steps

    assert kept_steps([1, 2, 3, 4, 5, 6], every=3, last=2) == {3, 5, 6}
    assert kept_steps([1, 2, 3], every=0, last=0) == set()
    overrides = fast("sft", sft_steps="5", save_steps="1", keep_every="2", keep_last="1",
                     evaluate="false")
    result = train("sft", overrides=overrides, output=tmp_path / "run")
    kept = tmp_path / "run" / "stages" / "1-sft" / "checkpoints"
    assert sorted(p.name for p in kept.iterdir()) == ["step-2", "step-4", "step-5"]
    model, processor = load_model(str(kept / "step-5"))
    assert processor.image_processor is not None
    final = weights(result["model"])
    assert all(torch.equal(final[k], v) for k, v in weights(kept / "step-5").items())
    assert any(not torch.equal(final[k], v) for k, v in weights(kept / "step-2").items())
    with pytest.raises(UserError, match="keep_every.*multiple of save_steps"):
        train("sft", overrides=fast("sft", save_steps="2", keep_every="3"), output=tmp_path / "x")


def test_each_stage_gets_its_own_wandb_run_grouped_under_the_training_run(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    overrides = fast("curr-rl", stages="judge,open", stage_steps="1,1", stage_generations="2,2",
                     report_to="wandb", evaluate="false")
    train("curr-rl", overrides=overrides, output=tmp_path / "myrun")
    for stage in ("1-judge", "2-open"):
        runs = list((tmp_path / "myrun" / "stages" / stage / "wandb").glob("offline-run-*/*.wandb"))
        assert len(runs) == 1, (stage, runs)
        data = runs[0].read_bytes()
        assert f"myrun-{stage}".encode() in data  # the run's name
        other = "2-open" if stage == "1-judge" else "1-judge"
        assert f"myrun-{other}".encode() not in data


def test_the_paper_preset_means_eight_prompts_a_step_on_any_process_count(monkeypatch):
    from reftbench.training import config as config_module
    from reftbench.training.config import prompts_per_process

    plugin = load_trainer("grpo")
    paper = resolve(plugin.config_cls, plugin.presets, "qwen2.5-vl-3b")
    assert paper.lr_scheduler == "linear"
    assert [prompts_per_process(paper, n) for n in (1, 2, 4, 8)] == [8, 4, 2, 1]
    with pytest.raises(UserError, match="does not divide among 3 processes"):
        prompts_per_process(paper, 3)
    tiny = resolve(plugin.config_cls, plugin.presets, "tiny")
    assert prompts_per_process(tiny, 4) == tiny.prompts_per_step  # per process, as documented
    monkeypatch.setattr("reftbench.distributed.world_size", lambda: 2)
    assert config_module.batch_record(paper) == {"processes": 2, "prompts_per_process": 4,
                                                 "prompts_per_step": 8}


def test_bf16_rollouts_run_under_autocast_and_stages_record_their_dtype(tmp_path, monkeypatch):
    import json

    import transformers

    seen = []
    generate = transformers.GenerationMixin.generate

    def recording(self, *args, **kwargs):
        seen.append(torch.is_autocast_enabled("cpu") and
                    torch.get_autocast_dtype("cpu") == torch.bfloat16)
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(transformers.GenerationMixin, "generate", recording)
    result = train("grpo", overrides=fast("grpo", grpo_steps="1", dtype="bfloat16",
                                          evaluate="false"), output=tmp_path / "run")
    assert seen and all(seen)
    saved = Path(result["model"])
    assert json.loads((saved / "config.json").read_text())["dtype"] == "bfloat16"
    # The weights keep the fp32 master copy, so the next stage does not lose small updates.
    assert {t.dtype for t in weights(saved).values()} == {torch.float32}


@pytest.mark.parametrize("trainer,key,nearest", [("curr-rl", "grpo_steps", "stage_steps"),
                                                 ("curr-rl", "num_generations", "stage_generations"),
                                                 ("curr-reft", "sft_steps", "rs_sft_steps"),
                                                 ("curr-reft", "sft_lr", "rs_sft_lr")])
def test_a_curriculum_refuses_the_plain_runs_budget_and_names_its_own(trainer, key, nearest):
    plugin = load_trainer(trainer)
    with pytest.raises(UserError, match=f"unknown config key '{key}'.*use {nearest}"):
        resolve(plugin.config_cls, plugin.presets, "tiny", overrides=[f"--{key}", "5"])


def test_sft_stages_take_the_gradient_checkpointing_setting(tmp_path):
    from reftbench.training.sft_stage import sft_args

    for name in ("sft", "curr-reft"):
        plugin = load_trainer(name)
        cfg = resolve(plugin.config_cls, plugin.presets, "qwen2.5-vl-3b")
        assert sft_args(cfg, tmp_path, steps=1, lr=1e-6, batch_size=1).gradient_checkpointing
        cfg = resolve(plugin.config_cls, plugin.presets, "tiny")
        assert not sft_args(cfg, tmp_path, steps=1, lr=1e-6, batch_size=1).gradient_checkpointing
