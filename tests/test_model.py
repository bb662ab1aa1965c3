"""The embedded model: tokenizer, processor, presets, building, saving and loading."""

import json
import os
import shutil

import pytest
import torch
from PIL import Image

from reftbench.errors import UserError
from reftbench.model.build import build_model
from reftbench.model.load import load_model
from reftbench.model.names import ensure_preset, is_preset
from reftbench.model.presets import PRESETS
from reftbench.model.processor import build_processor
from reftbench.model.tokenizer import TAG_TOKENS, build_tokenizer

MESSAGES = [{"role": "user", "content": [
    {"type": "image"}, {"type": "text", "text": "How many shapes are there?"}]}]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """REFTBENCH_HOME in a temporary folder, shared by this module so micro builds once."""
    root = tmp_path_factory.mktemp("reftbench-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFTBENCH_HOME", str(root))
        yield root


@pytest.fixture(scope="module")
def micro(home):
    return load_model("random-micro")


def image(colour=(255, 0, 0), size=(112, 112)):
    return Image.new("RGB", size, colour)


def inputs(processor, img=None):
    text = processor.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    return processor(text=[text], images=[img or image()], return_tensors="pt")


def test_tags_survive_decoding_and_are_single_tokens():
    tok = build_tokenizer()
    text = "<think>a</think><answer>[1, 2, 3, 4]</answer>"
    ids = tok(text)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text
    for tag in TAG_TOKENS:
        assert len(tok(tag)["input_ids"]) == 1, tag
    # Byte-level: any text, digits and non-ASCII included, comes back exactly.
    other = "Box 1234 at (0.5, 99); héllo 日本 \t\n end"
    assert tok.decode(tok(other)["input_ids"], skip_special_tokens=True) == other
    assert tok.tokenize("2024") == ["2", "0", "2", "4"]


def test_tokenizer_build_is_deterministic():
    a, b = build_tokenizer(), build_tokenizer()
    assert a.get_vocab() == b.get_vocab()
    assert a.backend_tokenizer.to_str() == b.backend_tokenizer.to_str()
    assert 1000 <= len(a) <= 2000


def test_special_tokens_and_chat_template():
    tok = build_tokenizer()
    assert tok.pad_token == "<|endoftext|>" and tok.eos_token == "<|im_end|>"
    assert tok.padding_side == "left"
    chat = [{"role": "system", "content": "Be brief."}, *MESSAGES,
            {"role": "assistant", "content": "<answer>3</answer>"}]
    assert tok.apply_chat_template(chat, tokenize=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>"
        "How many shapes are there?<|im_end|>\n"
        "<|im_start|>assistant\n<answer>3</answer><|im_end|>\n")
    prompt = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    assert prompt.startswith("<|im_start|>user\n") and prompt.endswith("<|im_start|>assistant\n")


def test_processor_gives_16_image_tokens():
    processor = build_processor(build_tokenizer())
    batch = inputs(processor)
    assert batch["image_grid_thw"].tolist() == [[1, 8, 8]]
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((batch["input_ids"] == image_pad).sum()) == 16
    # Any square image is resized to 112x112 (300 px is one min=max=112*112 would round to 84).
    for side in (56, 300, 1000):
        grid = inputs(processor, image(size=(side, side)))["image_grid_thw"].tolist()
        assert grid == [[1, 8, 8]], side


def test_preset_sizes_and_deterministic_build(tmp_path):
    counts = {}
    for name in PRESETS:
        build_model(name, tmp_path / name)
        counts[name] = json.loads((tmp_path / name / "reftbench.json").read_text())["parameters"]
    assert counts["random-micro"] < 1_000_000
    assert 1_000_000 < counts["random-tiny"] < 10_000_000
    assert 2 * counts["random-tiny"] < counts["random-small"] < 10_000_000
    build_model("random-micro", tmp_path / "again")
    build_model("random-micro", tmp_path / "seed1", seed=1)
    weights = [(tmp_path / d / "model.safetensors").read_bytes()
               for d in ("random-micro", "again", "seed1")]
    assert weights[0] == weights[1] and weights[0] != weights[2]


def test_preset_is_built_once(home, micro):
    assert is_preset("random-micro") and not is_preset("results/micro")
    folder = ensure_preset("random-micro")
    assert folder == home / "models" / "random-micro"
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert ensure_preset("random-micro") == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_save_and_reload_give_identical_logits(micro, tmp_path):
    model, processor = micro
    model.save_pretrained(tmp_path / "ckpt")
    processor.save_pretrained(tmp_path / "ckpt")
    again, again_processor = load_model(str(tmp_path / "ckpt"))
    batch = inputs(processor)
    assert torch.equal(batch["input_ids"], inputs(again_processor)["input_ids"])
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, again(**batch).logits)


def test_generate_runs_on_an_image_prompt(micro):
    model, processor = micro
    batch = inputs(processor)
    out = model.generate(**batch, max_new_tokens=5, do_sample=False)
    assert out.shape[1] <= batch["input_ids"].shape[1] + 5
    assert out.shape[1] > batch["input_ids"].shape[1]


def test_plain_qwen_folder_loads_through_auto_classes(home, micro, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(ensure_preset("random-micro"), plain)
    (plain / "reftbench.json").unlink()
    model, processor = load_model(str(plain))
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert processor.tokenizer.padding_side == "left"
    batch = inputs(processor)
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, micro[0](**batch).logits)


def test_missing_path_is_a_user_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(UserError, match="does not exist") as err:
        load_model(str(missing))
    assert str(missing) in str(err.value)


def test_folder_without_config_is_a_user_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(UserError, match="no config.json"):
        load_model(str(tmp_path))


class ZeroThreeLeftOn:
    """What a DeepSpeed ZeRO-3 stage leaves behind: accelerate's shared state keeps its
    DeepSpeed plugin, whose HfDeepSpeedConfig keeps transformers' ZeRO-3 switch on."""

    config = {"zero_optimization": {"stage": 3}}

    def is_zero3(self):
        return True


@pytest.fixture
def zero3_left_on():
    from transformers.integrations import deepspeed as hf_deepspeed

    state = ZeroThreeLeftOn()  # alive for the test, as the plugin is after training
    hf_deepspeed.set_hf_deepspeed_config(state)
    yield state
    hf_deepspeed.unset_hf_deepspeed_config()


def test_loads_after_a_zero3_stage_are_whole_and_leave_the_state_alone(micro, zero3_left_on,
                                                                        monkeypatch):
    from transformers import AutoModelForImageTextToText
    from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled

    # Evaluation, sampling, merging: a whole model (a partitioned load would need deepspeed and
    # wait for every rank), equal to the checkpoint.
    model, _ = load_model("random-micro")
    assert all(not hasattr(p, "ds_id") for p in model.parameters())
    reference = micro[0].state_dict()
    assert all(torch.equal(v, reference[k]) for k, v in model.state_dict().items())
    assert is_deepspeed_zero3_enabled()  # the next stage's trainer still finds ZeRO-3 on

    class Partitioned(Exception):
        pass

    real = AutoModelForImageTextToText.from_pretrained

    def spy(*args, **kwargs):  # where transformers would partition the load
        if is_deepspeed_zero3_enabled():
            raise Partitioned
        return real(*args, **kwargs)

    monkeypatch.setattr(AutoModelForImageTextToText, "from_pretrained", spy)
    with pytest.raises(Partitioned):  # the trainer's own load is sharded as launched
        load_model("random-micro", training=True)


def test_fsdp_ram_efficient_loading_on_a_rank_above_0(micro, home, tmp_path, monkeypatch):
    """accelerate's FSDP launch on rank 1: a weight the checkpoint lacks stays on the meta
    device (rank 0's copy is broadcast by the trainer), so moving it would crash."""
    import torch.distributed as dist
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "lacks-one-weight"
    shutil.copytree(ensure_preset("random-micro"), folder)
    weights = load_file(str(folder / "model.safetensors"))
    del weights[next(k for k in weights if k.endswith("patch_embed.proj.weight"))]
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_CPU_RAM_EFFICIENT_LOADING", "true")
    monkeypatch.setenv("LOCAL_RANK", "1")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        whole, _ = load_model(str(folder))  # evaluation / sampling: every weight real
        assert not any(p.is_meta for p in whole.parameters())
        assert os.environ["FSDP_CPU_RAM_EFFICIENT_LOADING"] == "true"  # restored for training
        trained, _ = load_model(str(folder), training=True)  # no .to() on meta weights
        assert trained.model.visual.patch_embed.proj.weight.is_meta
    finally:
        dist.destroy_process_group()
