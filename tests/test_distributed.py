"""Two-process data-parallel runs under `accelerate launch`, on CPU (gloo), micro model.

The launch uses the shipped DDP config with --num_processes 2: without CUDA, accelerate's
multi-GPU launcher starts two CPU processes and reftbench's trainer arguments (use_cpu) make
them talk over gloo. This file is also the launched script (see the bottom): it swaps in a
reward with spread, so a step changes the weights, logs which sample ids each rank generates
for, and leaves one marker file per rank.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reftbench.model.names import ensure_preset

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "reftbench" / "configs" / "accelerate"


def free_port() -> int:
    """A TCP port nobody listens on now (a second test run must not collide on 29500)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(tmp_path, *args) -> subprocess.CompletedProcess:
    """`accelerate launch --num_processes 2 <this file> ARGS` with the DDP config, on CPU."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           "--config_file", str(CONFIGS / "ddp.yaml"), "--num_processes", "2",
           "--mixed_precision", "no", "--main_process_port", str(free_port()), __file__, *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MARKERS": str(tmp_path)}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def generated_ids(tmp_path, rank: int, sampled: bool) -> list[str]:
    """The sample ids rank `rank` generated for: sampled (rejection sampler) or greedy (eval)."""
    path = tmp_path / f"generated-{rank}.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [i for r in rows if (r["temperature"] > 0) == sampled for i in r["ids"]]


def length_reward(completions, **kwargs):
    """A reward with spread even for a random model (GRPO learns nothing from equal rewards)."""
    return [float(len(str(c))) for c in completions]


@pytest.mark.parametrize("name", ["ddp.yaml", "zero3.yaml", "fsdp.yaml"])
def test_shipped_accelerate_configs_load(name):
    from accelerate.commands.config.config_args import load_config_from_file

    text = (CONFIGS / name).read_text()
    assert text.startswith("#")  # every file says what it is for and how to launch it
    cfg = load_config_from_file(str(CONFIGS / name))
    expected = {"ddp.yaml": "MULTI_GPU", "zero3.yaml": "DEEPSPEED", "fsdp.yaml": "FSDP"}[name]
    assert str(cfg.distributed_type).endswith(expected)
    if name == "zero3.yaml":
        assert yaml.safe_load(text)["deepspeed_config"]["zero_stage"] == 3


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_two_process_curriculum_run(tmp_path, lora):
    from safetensors.torch import load_file

    from reftbench.model.load import load_model

    base = ensure_preset("random-micro")  # built once here, not raced by the two ranks
    run = tmp_path / "run"
    proc = launch(tmp_path, "train", "curr-rl", "--model", "random-micro", "--stages", "judge,open",
                  "--stage_steps", "1,2", "--stage_generations", "2,2", "--n_train", "12",
                  "--n_test", "8", "--prompts_per_step", "2", "--max_completion_length", "8",
                  "--logging_steps", "1", "--save_steps", "1", "--no-eval", "--output", str(run),
                  "--lora_r", "4" if lora else "0")
    assert proc.returncode == 0, proc.stderr[-3000:]

    # Both ranks finished, in one two-process gloo job.
    ranks = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert all(m == {"world": 2, "type": "MULTI_CPU"} for m in ranks)
    # Only rank 0 wrote the run files: one metrics row per logged step, one record per stage.
    steps = [json.loads(line)["step"] for line in
             (run / "stages/2-open/metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 2]  # two steps and the end-of-training summary, not twice each
    first = json.loads((run / "stages/1-judge/stage.json").read_text())
    second = json.loads((run / "stages/2-open/stage.json").read_text())
    assert second["input_model"] == first["model"]
    assert (run / "reward_curve.png").exists() and (run / "config.json").exists()
    # The chained checkpoint loads and was trained.
    model, _ = load_model(second["model"])
    before, after = load_file(str(base / "model.safetensors")), load_file(
        str(Path(second["model"]) / "model.safetensors"))
    assert any(not (before[k] == after[k]).all() for k in before)
    # LoRA: every rank saved through the trainer, rank 0 merged the adapter into a full model.
    assert (run / "stages/2-open/adapter/adapter_config.json").exists() == lora
    assert set(after) == set(before)


def test_two_process_curr_reft_samples_and_evaluates_sharded(tmp_path):
    """Every stage, the rejection sampler and the final evaluation, as one two-process job."""
    ensure_preset("random-micro")
    run, results = tmp_path / "run", tmp_path / "results"
    proc = launch(tmp_path, "train", "curr-reft", "--model", "random-micro",
                  "--stages", "judge,open",
                  "--stage_steps", "1,1", "--stage_generations", "2,2", "--n_train", "12",
                  "--n_test", "8", "--prompts_per_step", "2", "--max_completion_length", "8",
                  "--eval_max_new_tokens", "8", "--rs_prompts", "3", "--rs_samples", "2",
                  "--rs_sft_steps", "1",
                  "--sft_batch_size", "2", "--eval_limit", "3", "--eval_batch_size", "2",
                  "--output", str(run), "--results-dir", str(results))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert all((tmp_path / f"rank-{r}.json").exists() for r in (0, 1))
    stages = [json.loads((run / "stages" / n / "stage.json").read_text())
              for n in ("1-judge", "2-open", "3-rejection-sft")]
    assert stages[2]["input_model"] == stages[1]["model"]
    assert stages[2]["model"] == str(run / "stages/3-rejection-sft/model")  # the SFT ran

    # The rejection sampler: 3 prompts x 3 families, split between the ranks, logged once.
    log = [json.loads(line) for line in
           (run / "stages/3-rejection-sft/samples.jsonl").read_text().splitlines()]
    sampled = [generated_ids(tmp_path, r, sampled=True) for r in (0, 1)]
    assert all(sampled) and not set(sampled[0]) & set(sampled[1])
    assert sorted(sampled[0] + sampled[1]) == sorted(r["id"] for r in log) and len(log) == 9

    # The final evaluation: 3 samples x 3 families x 2 splits, split too, into one run folder.
    found = list((results / "runs").glob("*/results.json"))
    assert len(found) == 1 and len(list((results / "runs").iterdir())) == 1
    scored = [json.loads(line) for line in
              (found[0].parent / "samples.jsonl").read_text().splitlines()]
    greedy = [generated_ids(tmp_path, r, sampled=False) for r in (0, 1)]
    assert all(greedy) and not set(greedy[0]) & set(greedy[1])
    assert sorted(greedy[0] + greedy[1]) == sorted(r["id"] for r in scored) and len(scored) == 18
    metrics = json.loads(found[0].read_text())["metrics"]
    assert sum(m["n"] for m in metrics.values()) == 18
    assert json.loads(found[0].read_text())["config"]["max_new_tokens"] == 8


def test_two_process_bandit_draws_the_same_arms_on_every_rank(tmp_path):
    """The bandit decides once (on rank 0) and every rank draws the same prompts: one record."""
    ensure_preset("random-micro")
    run = tmp_path / "run"
    proc = launch(tmp_path, "train", "curr-rl", "--model", "random-micro", "--schedule", "bandit",
                  "--stages", "judge,open", "--stage_steps", "2,2", "--stage_generations", "2,2",
                  "--n_train", "12", "--n_test", "8", "--prompts_per_step", "1",
                  "--max_completion_length", "8", "--logging_steps", "1", "--save_steps", "2",
                  "--no-eval", "--output", str(run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    draws = [[json.loads(line) for line in (tmp_path / f"draws-{r}.jsonl").read_text().splitlines()]
             for r in (0, 1)]
    assert draws[0] == draws[1] and len(draws[0]) >= 4
    record = json.loads((run / "stages/1-bandit/schedule.json").read_text())
    assert record["processes"] == 2 and record["ranks_agree"]
    # Two prompts a step (one per rank), four steps, each generation batch the one both drew.
    assert [c["rows"] for c in record["chunks"]] == [d["rows"] for d in draws[0][:4]]
    assert record["budget"] == {**record["budget"], "steps": 4, "completions": 4 * 2 * 2}
    budget = json.loads((run / "budget.json").read_text())
    assert budget["total"]["steps"] == 4 and budget["schedule"] == "bandit"


def log_draws(draw):
    """Wrap Draws.draw: append each new chunk this rank draws to its own file."""
    def logged(self, k):
        new = k >= len(self.drawn)
        rows = draw(self, k)
        if new:
            rank = os.environ.get("RANK", "0")
            with open(Path(os.environ["MARKERS"], f"draws-{rank}.jsonl"), "a") as fh:
                fh.write(json.dumps({"chunk": k, "rows": rows}) + "\n")
        return rows
    return logged


def log_generation(generate):
    """Wrap a backend's generate: append the ids each call covers to this rank's file."""
    def logged(self, samples, sampling):
        rank = os.environ.get("RANK", "0")
        row = {"temperature": sampling.temperature, "ids": [s["id"] for s in samples]}
        with open(Path(os.environ["MARKERS"], f"generated-{rank}.jsonl"), "a") as fh:
            fh.write(json.dumps(row) + "\n")
        return generate(self, samples, sampling)
    return logged


def keep_first(sample, completions, threshold):
    """Keep every prompt's first answer (the micro model never earns the real threshold)."""
    return {"completion": completions[0], "reward": 0.0, "accuracy": 0.0}


if __name__ == "__main__":  # the script each rank runs
    from accelerate import PartialState

    import reftbench.generation.backends
    import reftbench.training.rejection
    import reftbench.training.trl_rewards
    from reftbench.cli import main
    from reftbench.training.schedule.draws import Draws

    reftbench.training.trl_rewards.make_reward_funcs = lambda *args: [length_reward]
    reftbench.training.rejection.best_answer = keep_first
    backend = reftbench.generation.backends.TransformersBackend
    backend.generate = log_generation(backend.generate)
    Draws.draw = log_draws(Draws.draw)
    main()  # returns only on success (errors exit non-zero)
    state = PartialState()
    marker = {"world": state.num_processes, "type": str(state.distributed_type).split(".")[-1]}
    Path(os.environ["MARKERS"], f"rank-{state.process_index}.json").write_text(json.dumps(marker))


def test_several_gpus_without_a_launcher_stop_before_anything_loads(cli, tmp_path, monkeypatch):
    import torch

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)
    code, out, err = cli("train", "grpo", "--model", "random-micro", "--output", tmp_path / "run")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "8 GPUs are visible but no launcher" in err and "accelerate launch" in err
    assert not (tmp_path / "run").exists()
