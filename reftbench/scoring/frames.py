"""Boxes in the frame the model saw: gold boxes rescaled by the resize its processor applies.

    resize = resize_of(processor)                    # None: the processor keeps the image's size
    samples, frame = in_model_frame(samples, resize)   # frame: "model" or "original"

A Qwen2-VL-family processor resizes every image before the model sees it (to multiples of 28
pixels, between its min_pixels and max_pixels), and Qwen2.5-VL answers boxes in the pixels of
that resized image. A gold box in the original image's pixels (the Curr-ReFT release's RefGTA
`solution`, a large real photo) is then in another frame: a perfect answer on a 1914x1052
frame seen as 840x448 scores IoU 0. So every box-scored sample (metric `box_iou`, or `box_iou_reference`) has its gold
box rescaled into the seen frame, once, before it is scored, rewarded or trained on: evaluation,
the GRPO reward, rejection sampling and SFT targets all read the same rescaled `answer` (the
original stays in `answer_original`, the factors in `frame_scale`). Images whose size the
processor keeps (the generated 112-pixel scenes) are left exactly as they were.

Processors of other families (LLaVA, SmolVLM) are not rescaled: their boxes stay in the
original frame ("original"), which is what those models are asked for.
"""

from __future__ import annotations

import math
from functools import lru_cache

from reftbench.scoring.metrics import parse_box

# The metrics whose gold answers are boxes in image pixels.
BOX_METRICS = ("box_iou", "box_iou_reference")


def seen_size(width: int, height: int, factor: int, min_pixels: int, max_pixels: int):
    """(width, height) after a Qwen2-VL processor's resize: both sides multiples of `factor`,
    the area within [min_pixels, max_pixels], the aspect ratio kept as closely as it allows
    (the same arithmetic as transformers' `smart_resize`)."""
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar


def resize_of(processor):
    """A function (width, height) -> the size the model sees, for a Qwen2-VL-family processor;
    None for a processor that does not resize that way."""
    image_processor = getattr(processor, "image_processor", None)
    if "Qwen2VLImageProcessor" not in type(image_processor).__name__:
        return None
    size = image_processor.size
    factor = image_processor.patch_size * image_processor.merge_size
    low, high = int(size["shortest_edge"]), int(size["longest_edge"])
    return lambda width, height: seen_size(width, height, factor, low, high)


@lru_cache(maxsize=65536)
def _image_size(path: str) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as image:  # reads the header only
            return image.size
    except (OSError, ValueError):
        return None


def in_model_frame(samples: list[dict], resize) -> tuple[list[dict], str]:
    """The samples with every gold box in the frame the model sees, and the frame's name."""
    if resize is None:
        return samples, "original"
    out = []
    for sample in samples:
        out.append(_rescaled(sample, resize) if sample.get("metric") in BOX_METRICS else sample)
    return out, "model"


def _rescaled(sample: dict, resize) -> dict:
    box = parse_box(str(sample.get("answer", "")))
    size = _image_size(str(sample.get("image_path", "")))
    if box is None or size is None:
        return sample
    width, height = size
    seen_width, seen_height = resize(width, height)
    if (seen_width, seen_height) == (width, height):
        return sample
    sx, sy = seen_width / width, seen_height / height
    scaled = [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy]
    # Whole pixels, as a model writes them; a box so small that rounding would empty it keeps
    # one decimal instead.
    whole = [round(v) for v in scaled]
    scaled = whole if whole[2] > whole[0] and whole[3] > whole[1] else [round(v, 1) for v in scaled]
    return {**sample, "answer": "[" + ", ".join(str(v) for v in scaled) + "]",
            "answer_original": sample["answer"], "frame_scale": [sx, sy]}
