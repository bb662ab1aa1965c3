"""Image size: `max_pixels` / `min_pixels` reach the processor for training, sampling and
evaluation, and a trained checkpoint keeps them."""

import json
from pathlib import Path

import pytest
from PIL import Image

from reftbench.errors import UserError
from reftbench.model.processor import set_image_pixels


def grid(processor, side: int) -> int:
    """Image patches (14 x 14 px) the processor makes of a side x side image."""
    out = processor.image_processor(images=[Image.new("RGB", (side, side))], return_tensors="pt")
    return int(out["image_grid_thw"].prod())


def test_bounds_resize_every_image(micro):
    from reftbench.model.load import load_model

    _, processor = load_model("random-micro")  # a private copy: the session's micro stays as built
    assert grid(processor, 448) == 64  # the preset's own cap: 112 x 112
    set_image_pixels(processor, max_pixels=56 * 56)
    assert grid(processor, 448) == 16 and grid(processor, 56) == 16
    set_image_pixels(processor, min_pixels=112 * 112, max_pixels=224 * 224)
    assert grid(processor, 28) == 64 and grid(processor, 448) == 256
    assert set_image_pixels(processor) is processor  # None, None: unchanged
    assert grid(processor, 448) == 256
    with pytest.raises(UserError, match="min_pixels <= max_pixels"):
        set_image_pixels(processor, min_pixels=5000, max_pixels=4000)


def test_other_image_processors_refuse_the_setting():
    class Llava:
        image_processor = type("CLIPImageProcessor", (), {"size": {"shortest_edge": 336}})()

    with pytest.raises(UserError, match="Qwen2-VL-family"):
        set_image_pixels(Llava(), max_pixels=1000)
    set_image_pixels(Llava())  # nothing asked, nothing checked


def test_training_saves_the_bound_and_evaluation_uses_it(tmp_path, micro):
    from reftbench.evaluation.evaluate import EvalConfig, make_backend
    from reftbench.model.load import load_processor
    from reftbench.training.run import train
    from test_trainers import fast

    out = train("sft", overrides=fast("sft", sft_steps="1", max_pixels=str(56 * 56),
                                      evaluate="false"), output=tmp_path / "run")
    saved = json.loads((Path(out["model"]) / "processor_config.json").read_text())
    assert saved["image_processor"]["size"]["longest_edge"] == 56 * 56
    assert grid(load_processor(out["model"]), 448) == 16  # the checkpoint keeps it
    backend = make_backend(EvalConfig(model=out["model"], max_pixels=112 * 112))
    assert grid(backend.processor, 448) == 64  # an evaluation may set its own


def test_reference_preset_caps_images_near_400k_pixels():
    from reftbench.config import resolve
    from reftbench.registry import load_trainer

    plugin = load_trainer("curr-reft")
    assert resolve(plugin.config_cls, plugin.presets, "qwen2.5-vl-3b").max_pixels == 401408
    assert resolve(plugin.config_cls, plugin.presets, "tiny").max_pixels is None
