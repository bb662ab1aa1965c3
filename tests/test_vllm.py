"""The optional vLLM route: settings reach TRL, a clear error without vLLM, the backend on a GPU.

Only the last test needs vLLM and CUDA (`pytest -m gpu` on a GPU machine with
`pip install 'reftbench[vllm]'`); the others run everywhere and pretend vLLM is absent.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

from reftbench.config import resolve
from reftbench.errors import UserError
from reftbench.registry import load_trainer

HAVE_VLLM = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()


@pytest.fixture
def no_vllm(monkeypatch):
    """Make `import vllm` look impossible, whatever is installed."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.split(".")[0] == "vllm" else real(name, *a))


def grpo_config(**overrides):
    plugin = load_trainer("grpo")
    return resolve(plugin.config_cls, plugin.presets, "tiny", overrides=overrides)


def test_vllm_settings_reach_trl(tmp_path):
    from reftbench.training.grpo_stage import grpo_args

    assert not grpo_args(grpo_config(), tmp_path, steps=1, num_generations=2).use_vllm
    args = grpo_args(grpo_config(use_vllm="true", vllm_mode="server"), tmp_path, steps=1,
                     num_generations=2)
    assert args.use_vllm and args.vllm_mode == "server"
    with pytest.raises(UserError, match="vllm_mode must be one of colocate, server"):
        grpo_args(grpo_config(vllm_mode="colocated"), tmp_path, steps=1, num_generations=2)


def test_vllm_backend_without_the_package_is_one_clear_error(no_vllm):
    from reftbench.generation.vllm_backend import VLLMBackend

    with pytest.raises(UserError, match=r"install reftbench\[vllm\] on a GPU machine") as err:
        VLLMBackend("random-micro")
    assert "\n" not in str(err.value)


def test_use_vllm_without_the_package_stops_training_before_any_work(no_vllm, cli, tmp_path):
    code, _, err = cli("train", "grpo", "--model", "random-micro", "--use_vllm", "true",
                       "--output", tmp_path / "run")
    assert code == 2
    assert err.strip().count("\n") == 0 and "install reftbench[vllm] on a GPU machine" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not HAVE_VLLM, reason="needs the vllm extra and a CUDA GPU "
                                          "(pip install 'reftbench[vllm]' on a GPU machine)")
def test_vllm_backend_generates_n_completions_per_sample():
    import os

    from conftest import N_TEST

    from reftbench.data.generated import load_split
    from reftbench.generation.decoding import Sampling
    from reftbench.generation.vllm_backend import VLLMBackend

    samples = load_split("math", "id", n=N_TEST)[:3]
    # A real checkpoint when given (the embedded micro model may not be a vLLM-supported build).
    backend = VLLMBackend(os.environ.get("REFTBENCH_VLLM_MODEL", "random-micro"), batch_size=2)
    greedy = backend.generate(samples, Sampling(max_new_tokens=8, n=2))
    assert [len(g) for g in greedy] == [2, 2, 2] and all(g[0] == g[1] for g in greedy)
    assert greedy == backend.generate(samples, Sampling(max_new_tokens=8, n=2))
    sampled = backend.generate(samples, Sampling(max_new_tokens=8, temperature=1.0, n=3))
    assert [len(s) for s in sampled] == [3, 3, 3]


def test_vllm_memory_length_parallel_and_server_settings_reach_trl(tmp_path):
    from reftbench.training.grpo_stage import grpo_args

    cfg = grpo_config(use_vllm="true", vllm_gpu_memory_utilization="0.45",
                      vllm_max_model_length="3072", vllm_tensor_parallel_size="2",
                      vllm_sleep_mode="false", vllm_server_host="10.0.0.7",
                      vllm_server_port="8123")
    args = grpo_args(cfg, tmp_path, steps=1, num_generations=2)
    assert args.vllm_gpu_memory_utilization == 0.45
    assert args.vllm_max_model_length == 3072
    assert args.vllm_tensor_parallel_size == 2
    assert args.vllm_enable_sleep_mode is False
    assert (args.vllm_server_host, args.vllm_server_port) == ("10.0.0.7", 8123)
    # Defaults: sleep mode on, so each stage's colocated engine gives its memory back.
    assert grpo_args(grpo_config(), tmp_path, steps=1, num_generations=2).vllm_enable_sleep_mode


class FakeLLM:
    """Stands in for vllm.LLM: records sleep and shutdown."""

    def __init__(self, sleep_mode: bool):
        self.calls = []
        config = type("C", (), {"enable_sleep_mode": sleep_mode})()
        vllm_config = type("V", (), {"model_config": config})()
        self.llm_engine = type("E", (), {"vllm_config": vllm_config})()

    def sleep(self, level):
        self.calls.append(("sleep", level))

    def shutdown(self):
        self.calls.append(("shutdown",))


@pytest.mark.parametrize("sleep_mode, asleep, expected", [
    (True, False, [("sleep", 2), ("shutdown",)]),   # awake with sleep mode: level-2 sleep first
    (True, True, [("shutdown",)]),                   # TRL left it asleep after its last rollout
    (False, False, [("shutdown",)]),                 # no sleep mode: only a shutdown can free it
])
def test_release_engine(sleep_mode, asleep, expected):
    from reftbench.generation.vllm_backend import release_engine

    llm = FakeLLM(sleep_mode)
    release_engine(llm, asleep=asleep)
    assert llm.calls == expected


def test_each_grpo_stage_lets_its_colocated_engine_go(tmp_path, monkeypatch):
    """The curriculum builds one engine per stage in one process: a finished stage must hand its
    engine's memory back, or stage 2's engine does not fit."""
    import trl

    from reftbench.training.grpo_stage import run_grpo
    from reftbench.training.splits import train_samples

    engines, llms = [], []
    real_train = trl.GRPOTrainer.train

    def train_with_engine(self, *args, **kwargs):  # what use_vllm=True colocate leaves behind
        out = real_train(self, *args, **kwargs)
        llms.append(FakeLLM(sleep_mode=True))
        self.vllm_generation = type("G", (), {"llm": llms[-1], "_llm_weights_sleeping": False})()
        engines.append(self.vllm_generation)
        return out

    monkeypatch.setattr(trl.GRPOTrainer, "train", train_with_engine)
    cfg = grpo_config(model="random-micro", n_train="12", prompts_per_step="2",
                      max_completion_length="4",
                      save_steps="5")
    samples = train_samples(cfg, tiers=("open",))
    for stage in ("1", "2"):
        run_grpo(cfg, "random-micro", samples[:4], tmp_path / stage, 1, 2, stage)
    assert [e.llm for e in engines] == [None, None]  # dropped by the stage that built it
    assert all(llm.calls == [("sleep", 2), ("shutdown",)] for llm in llms)


def test_the_colocated_engine_gets_the_runs_pixel_limits(monkeypatch):
    """TRL builds vllm.LLM from the checkpoint alone; its processor must resize images as the
    trainer's did, or the engine's image tokens do not match the prompts'."""
    import trl.generation.vllm_generation as module

    from reftbench.training.grpo_stage import vllm_pixel_limits

    built = []
    monkeypatch.setattr(module, "LLM", lambda **kwargs: built.append(kwargs), raising=False)
    cfg = grpo_config(model="random-micro", use_vllm="true", max_pixels="401408",
                      min_pixels="3136")
    with vllm_pixel_limits(cfg):
        module.LLM(model="m", gpu_memory_utilization=0.3)
    module.LLM(model="after")
    assert built[0] == {"model": "m", "gpu_memory_utilization": 0.3,
                        "mm_processor_kwargs": {"min_pixels": 3136, "max_pixels": 401408}}
    assert built[1] == {"model": "after"}  # only while the stage's trainer is built
    with vllm_pixel_limits(grpo_config(model="random-micro", use_vllm="true")):
        module.LLM(model="unbounded")
    assert built[2] == {"model": "unbounded"}


def test_each_stage_closes_its_server_weight_sync_channel():
    from reftbench.training.trl_common import release

    class Client:
        closed = 0

        def close_communicator(self):
            Client.closed += 1

    engine = type("G", (), {"llm": None, "vllm_client": Client()})()
    trainer = type("T", (), {"vllm_generation": engine,
                             "accelerator": type("A", (), {"free_memory": lambda self: None})()})()
    release(trainer)
    assert Client.closed == 1 and engine.vllm_client is None
