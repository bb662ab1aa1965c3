"""The transformers generation backend: batching, left padding, sampling, seeding.

The untrained micro model's logits are nearly flat, so it emits one token forever and any two
decodings agree. The `lively` model re-draws the micro weights with a large scale so that its
output depends on every input token: a padding or M-RoPE position bug then changes the text.
"""

import json

import pytest
import torch
from conftest import N_TEST

from reftbench.data.generated import load_split
from reftbench.errors import UserError
from reftbench.generation.decoding import Sampling
from reftbench.generation.backends import TransformersBackend, generate_kwargs
from reftbench.model.load import load_model

MAX_NEW = 10


@pytest.fixture(scope="module")
def lively(reftbench_home):
    """(model, processor): the micro architecture with large random weights (seeded)."""
    model, processor = load_model("random-micro")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() >= 2:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
    return model, processor


@pytest.fixture(scope="module")
def samples(reftbench_home):
    """Eight samples of all families and tiers, in-domain and out-of-domain."""
    chosen = []
    for family, split, k in (("detection", "id", 3), ("classification", "ood", 3),
                             ("math", "ood", 2)):
        chosen += load_split(family, split, n=N_TEST)[:k]  # scene 0's judge, choice, open
    return chosen


def backend(lively, batch_size):
    return TransformersBackend(*lively, batch_size=batch_size)


def test_batched_greedy_equals_unbatched(lively, samples):
    lengths = {len(backend(lively, 1).encode([s])["input_ids"][0]) for s in samples}
    assert len(lengths) >= 5, "prompts of different lengths are what exercises left padding"
    greedy = Sampling(max_new_tokens=MAX_NEW)
    one = backend(lively, 1).generate(samples, greedy)
    assert len({c[0] for c in one}) == len(samples), "the model must react to its input"
    for batch_size in (8, 3):  # one full batch; uneven batches with a short last one
        assert backend(lively, batch_size).generate(samples, greedy) == one, batch_size


def test_greedy_with_n_repeats_the_one_answer(lively, samples):
    greedy = backend(lively, 8).generate(samples[:3], Sampling(max_new_tokens=MAX_NEW))
    three = backend(lively, 8).generate(samples[:3], Sampling(max_new_tokens=MAX_NEW, n=3))
    assert three == [c * 3 for c in greedy]


def test_sampling_returns_n_completions_per_prompt_in_order(lively, samples):
    batch = samples[:4]
    hot = backend(lively, 4).generate(batch, Sampling(max_new_tokens=MAX_NEW, temperature=1.0, n=3))
    assert [len(c) for c in hot] == [3, 3, 3, 3]
    assert all(isinstance(t, str) for c in hot for t in c)
    assert any(len(set(c)) > 1 for c in hot), "temperature 1 should vary the completions"
    # Almost-greedy sampling: each prompt's n completions are its own greedy answer, which
    # shows the flat output of generate() is regrouped per prompt in the right order.
    greedy = backend(lively, 4).generate(batch, Sampling(max_new_tokens=MAX_NEW))
    cold = backend(lively, 4).generate(
        batch, Sampling(max_new_tokens=MAX_NEW, temperature=1e-6, n=3))
    assert cold == [c * 3 for c in greedy]


def test_fixed_seed_gives_the_same_samples(lively, samples):
    hot = Sampling(max_new_tokens=MAX_NEW, temperature=1.0, n=2)
    runs = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        runs.append(backend(lively, 3).generate(samples[:3], hot))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_invalid_sampling_is_refused():
    for bad in (dict(n=0), dict(max_new_tokens=0), dict(temperature=-1.0), dict(top_k=-1),
                dict(top_p=0.0), dict(min_p=1.5), dict(repetition_penalty=0.0)):
        with pytest.raises(ValueError):
            Sampling(**bad)


def test_a_checkpoints_generation_config_changes_nothing(lively, samples, tmp_path):
    """Qwen2.5-VL-3B-Instruct ships top_k=1, top_p=0.001, repetition_penalty=1.05: with them
    the K samples of a prompt would be one answer K times, and greedy scores would change."""
    model, processor = lively
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "generation_config.json").read_text())
    config.update(do_sample=True, top_k=1, top_p=0.001, temperature=0.01, min_p=0.5,
                  repetition_penalty=1.8, no_repeat_ngram_size=2, num_beams=2)
    (tmp_path / "generation_config.json").write_text(json.dumps(config))
    odd, odd_processor = load_model(str(tmp_path))
    assert odd.generation_config.top_k == 1 and odd.generation_config.repetition_penalty == 1.8
    odd_backend = TransformersBackend(odd, odd_processor, batch_size=4)
    greedy = Sampling(max_new_tokens=MAX_NEW)
    assert odd_backend.generate(samples, greedy) == backend(lively, 4).generate(samples, greedy)
    torch.manual_seed(0)
    hot = odd_backend.generate(samples[:4], Sampling(max_new_tokens=MAX_NEW, temperature=1.0, n=4))
    assert any(len(set(c)) > 1 for c in hot), "top_k=1 from the checkpoint made samples identical"


def test_every_decoding_field_is_explicit():
    greedy = generate_kwargs(Sampling())
    assert greedy["do_sample"] is False and greedy["num_beams"] == 1
    assert greedy["repetition_penalty"] == 1.0 and greedy["no_repeat_ngram_size"] == 0
    hot = generate_kwargs(Sampling(temperature=0.7, top_p=0.9, top_k=20, min_p=0.05,
                                   repetition_penalty=1.1))
    assert {k: hot[k] for k in ("temperature", "top_p", "top_k", "min_p", "repetition_penalty")} \
        == {"temperature": 0.7, "top_p": 0.9, "top_k": 20, "min_p": 0.05, "repetition_penalty": 1.1}
    assert generate_kwargs(Sampling(temperature=1.0))["top_k"] == 0


def test_a_prompt_longer_than_the_context_is_refused_by_name(micro, samples):
    long = dict(samples[0], id="id-7", question="7 " * 3000)  # 6,000 tokens; micro reads 4,096
    with pytest.raises(UserError, match=r"^sample id-7: its prompt is 6,0\d\d tokens, more than "
                                        r"the model's context of 4,096"):
        TransformersBackend(*micro).generate([samples[1], long], Sampling(max_new_tokens=2))
