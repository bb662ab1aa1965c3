"""Two-process data-parallel training under `accelerate launch`, on CPU (gloo), micro model.

The launch uses the shipped DDP config with --num_processes 2: without CUDA, accelerate's
multi-GPU launcher starts two CPU processes and reftbench's trainer arguments (use_cpu) make
them talk over gloo. This file is also the launched script (see the bottom): it swaps in a
reward with spread, so a step changes the weights, and leaves one marker file per rank.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "reftbench" / "configs" / "accelerate"


def free_port() -> int:
    """A TCP port nobody listens on now (a second test run must not collide on 29500)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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

    from reftbench.model.load import ensure_preset, load_model

    base = ensure_preset("micro")  # built once here, not raced by the two ranks
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           "--config_file", str(CONFIGS / "ddp.yaml"), "--num_processes", "2",
           "--mixed_precision", "no", "--main_process_port", str(free_port()),
           __file__, "train", "curr-rl", "--model", "micro", "--stages", "judge,open",
           "--stage_steps", "1,2", "--stage_generations", "2,2", "--n_train", "12",
           "--n_test", "8", "--prompts_per_step", "2", "--max_completion_length", "8",
           "--logging_steps", "1", "--save_steps", "1", "--no-eval", "--output", str(run),
           "--lora_r", "4" if lora else "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MARKERS": str(tmp_path)}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
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


if __name__ == "__main__":  # the script each rank runs
    from accelerate import PartialState

    import reftbench.trl_rewards
    from reftbench.cli import main

    reftbench.trl_rewards.make_reward_funcs = lambda weights: [length_reward]
    main()  # returns only on success (errors exit non-zero)
    state = PartialState()
    marker = {"world": state.num_processes, "type": str(state.distributed_type).split(".")[-1]}
    Path(os.environ["MARKERS"], f"rank-{state.process_index}.json").write_text(json.dumps(marker))
