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
    from reftbench.generation_vllm import VLLMBackend

    with pytest.raises(UserError, match=r"install reftbench\[vllm\] on a GPU machine") as err:
        VLLMBackend("micro")
    assert "\n" not in str(err.value)


def test_use_vllm_without_the_package_stops_training_before_any_work(no_vllm, cli, tmp_path):
    code, _, err = cli("train", "grpo", "--model", "micro", "--use_vllm", "true",
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

    from reftbench.data import load_split
    from reftbench.generation import Sampling
    from reftbench.generation_vllm import VLLMBackend

    samples = load_split("math", "id", n=N_TEST)[:3]
    # A real checkpoint when given (the embedded micro model may not be a vLLM-supported build).
    backend = VLLMBackend(os.environ.get("REFTBENCH_VLLM_MODEL", "micro"), batch_size=2)
    greedy = backend.generate(samples, Sampling(max_new_tokens=8, n=2))
    assert [len(g) for g in greedy] == [2, 2, 2] and all(g[0] == g[1] for g in greedy)
    assert greedy == backend.generate(samples, Sampling(max_new_tokens=8, n=2))
    sampled = backend.generate(samples, Sampling(max_new_tokens=8, temperature=1.0, n=3))
    assert [len(s) for s in sampled] == [3, 3, 3]
