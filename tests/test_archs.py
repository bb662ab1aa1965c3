"""Every architecture `--model` accepts, on a tiny random checkpoint of it built offline.

For Qwen2.5-VL, Qwen2-VL, LLaVA-1.5, LLaVA-NeXT and SmolVLM (Idefics3), `tiny_archs` saves a
few-layer model with that family's tokens, chat template and PIL image processor; the folder
loads through `load_model` (the Auto classes, as a hub checkpoint would), in both the current
and the older hub file layout, and generates through `TransformersBackend`. Greedy batched
outputs must equal unbatched ones on images of different sizes, so that tiling processors
(LLaVA-NeXT, Idefics3) pad a different number of tiles per sample and Qwen a different grid.
"""

import importlib.util
import json
import shutil
from types import SimpleNamespace

import pytest

from reftbench.data.generated import load_image, load_split
from reftbench.generation.decoding import Sampling
from reftbench.generation.backends import TransformersBackend
from reftbench.model.load import load_model
from reftbench.model.tiny_archs import ARCHS, build_tiny, hub_layout, liven

HAS_TORCHVISION = importlib.util.find_spec("torchvision") is not None
QWEN = ("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>How many?<|im_end|>\n"
        "<|im_start|>assistant\n")
# arch: (model class, the prompt its chat template renders for [image, "How many?"],
#        the image token and how many of them a 112x112 image expands to)
EXPECTED = {
    "qwen2_5_vl": ("Qwen2_5_VLForConditionalGeneration", QWEN, "<|image_pad|>", 16),
    "qwen2_vl": ("Qwen2VLForConditionalGeneration", QWEN, "<|image_pad|>", 16),
    # 4x4 patches, the CLS token dropped ("default" feature selection).
    "llava": ("LlavaForConditionalGeneration", "USER: <image>\nHow many? ASSISTANT:",
              "<image>", 16),
    # Overview 16 + 2x2 tiles as an 8x8 map with a newline token after each row (64 + 8).
    "llava_next": ("LlavaNextForConditionalGeneration", "[INST] <image>\nHow many? [/INST]",
                   "<image>", 88),
    # 2x2 tiles plus the global image, 4 tokens each after the 2x2 pixel shuffle.
    "idefics3": ("Idefics3ForConditionalGeneration",
                 "<|im_start|>User:<image>How many?<end_of_utterance>\nAssistant:", "<image>", 20),
}
MESSAGES = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many?"}]}]


def encode(processor, samples):
    """`TransformersBackend.encode`'s model inputs, with no model needed (they stay on CPU)."""
    return TransformersBackend(SimpleNamespace(device="cpu"), processor).encode(samples)


@pytest.fixture(scope="module")
def samples(reftbench_home, tmp_path_factory):
    """Three math prompts of different lengths, their images resized to different shapes."""
    folder = tmp_path_factory.mktemp("images")
    chosen = []
    for index, size in enumerate([(112, 112), (56, 140), (200, 60)]):
        sample = dict(load_split("math", "id", n=10)[index * 4])  # judge, choice, open tiers
        path = folder / f"{index}.png"
        load_image(sample["image_path"]).resize(size).save(path)
        chosen.append(dict(sample, image_path=str(path)))
    return chosen


@pytest.fixture(scope="module", params=list(ARCHS))
def tiny(request, tmp_path_factory):
    """(arch, folder, model, processor): a saved tiny checkpoint, loaded by `load_model`."""
    folder = build_tiny(request.param, tmp_path_factory.mktemp(request.param))
    model, processor = load_model(str(folder))
    return request.param, folder, model, processor


def test_loads_through_the_auto_classes(tiny):
    arch, _, model, processor = tiny
    assert type(model).__name__ == EXPECTED[arch][0]
    assert processor.tokenizer.padding_side == "left"
    if not HAS_TORCHVISION:
        assert type(processor.image_processor).__name__.endswith("Pil")


def test_chat_template_renders_the_architectures_placeholder(tiny, samples):
    arch, _, _, processor = tiny
    _, prompt, image_token, count = EXPECTED[arch]
    assert processor.apply_chat_template(MESSAGES, add_generation_prompt=True,
                                         tokenize=False) == prompt
    # An answered conversation (what SFT trains on) extends the prompt with the answer.
    answered = MESSAGES + [{"role": "assistant", "content": "<answer>3</answer>"}]
    full = processor.apply_chat_template(answered, tokenize=False)
    assert full.startswith(prompt) and full[len(prompt):].strip().startswith("<answer>3</answer>")
    batch = encode(processor, samples[:1])
    image_id = processor.tokenizer.convert_tokens_to_ids(image_token)
    assert int((batch["input_ids"] == image_id).sum()) == count
    if processor.tokenizer.bos_token == "<s>":  # Llama/Mistral tokenizers open with <s>
        assert batch["input_ids"][0, 0] == processor.tokenizer.bos_token_id


def test_batched_greedy_equals_unbatched(tiny, samples):
    _, _, model, processor = tiny
    liven(model)
    greedy = Sampling(max_new_tokens=5)
    one = TransformersBackend(model, processor, batch_size=1).generate(samples, greedy)
    assert len({c[0] for c in one}) == len(samples), "the model must react to its input"
    assert TransformersBackend(model, processor, batch_size=3).generate(samples, greedy) == one


def test_older_hub_layout_loads_the_same_processor(tiny, samples, tmp_path):
    _, folder, _, processor = tiny
    old = hub_layout(shutil.copytree(folder, tmp_path / "hub"))
    assert (old / "preprocessor_config.json").is_file()
    _, again = load_model(str(old))
    assert type(again) is type(processor)
    batch = [encode(p, samples) for p in (processor, again)]
    assert batch[0].keys() == batch[1].keys()
    for key in batch[0]:
        assert batch[0][key].tolist() == batch[1][key].tolist(), key


def test_processor_saves_back_as_the_stock_class(tiny, tmp_path):
    """A trained checkpoint must stay loadable by plain transformers: the image-only Qwen
    processor writes Qwen2-VL's or Qwen2.5-VL's own class name, the others their own."""
    _, folder, _, processor = tiny
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "processor_config.json").read_text())["processor_class"]
    assert saved == json.loads((folder / "processor_config.json").read_text())["processor_class"]
