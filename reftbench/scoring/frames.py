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

A detection judge or choice question names boxes in its text ("Is the dog inside [412, 300,
980, 811]?", options "A. [3, 3, 15, 15]"): those are rescaled the same way (the original text
stays in `question_original`), so the question speaks of the pixels the model sees. Only the
detection family's text is read for boxes (a maths question's "[1, 2, 3, 4]" is a list), and
four numbers within [0, 1] are a normalised box, left as written.

Processors of other families (LLaVA, SmolVLM) are not rescaled: their boxes stay in the
original frame ("original"), which is what those models are asked for.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from reftbench.scoring.metrics import parse_box

# The metrics whose gold answers are boxes in image pixels.
BOX_METRICS = ("box_iou", "box_iou_reference")
# A box written in a question's text: four numbers in square brackets.
_NUMBER = r"\s*(-?\d+(?:\.\d+)?)\s*"
BOX_IN_TEXT = re.compile(r"\[" + ",".join([_NUMBER] * 4) + r"\]")


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
        if sample.get("metric") in BOX_METRICS:
            sample = _rescaled(sample, resize)
        elif sample.get("family") == "detection":
            sample = _rescaled_text(sample, resize)
        out.append(sample)
    return out, "model"


def _scale(sample: dict, resize) -> tuple[float, float] | None:
    """The (x, y) factors from the sample's image to the frame the model sees; None when its
    image cannot be read or keeps its size."""
    size = _image_size(str(sample.get("image_path", "")))
    if size is None:
        return None
    width, height = size
    seen_width, seen_height = resize(width, height)
    if (seen_width, seen_height) == (width, height):
        return None
    return seen_width / width, seen_height / height


def _box_text(box, sx: float, sy: float) -> str:
    """The box scaled, in whole pixels as a model writes them; a box so small that rounding
    would empty it keeps one decimal instead."""
    scaled = [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy]
    whole = [round(v) for v in scaled]
    scaled = whole if whole[2] > whole[0] and whole[3] > whole[1] else [round(v, 1) for v in scaled]
    return "[" + ", ".join(str(v) for v in scaled) + "]"


def _rescaled(sample: dict, resize) -> dict:
    box = parse_box(str(sample.get("answer", "")))
    factors = _scale(sample, resize) if box is not None else None
    if factors is None:
        return sample
    return {**sample, "answer": _box_text(box, *factors), "answer_original": sample["answer"],
            "frame_scale": list(factors)}


def _rescaled_text(sample: dict, resize) -> dict:
    """A detection question (and its options) with the boxes in its text rescaled."""
    question = str(sample.get("question", ""))
    options = sample.get("options") or []
    if not (BOX_IN_TEXT.search(question) or any(BOX_IN_TEXT.search(str(o)) for o in options)):
        return sample
    factors = _scale(sample, resize)
    if factors is None:
        return sample

    def pixels(match) -> str:
        box = [float(v) for v in match.groups()]
        # Four numbers within [0, 1] are a normalised box, the same in every frame; a number
        # too large for a float is no box.
        if max(box) <= 1 or not all(map(math.isfinite, box)):
            return match.group(0)
        return _box_text(box, *factors)

    def rescale(text: str) -> str:
        return BOX_IN_TEXT.sub(pixels, text)

    new_question, new_options = rescale(question), [rescale(str(o)) for o in options]
    if new_question == question and new_options == [str(o) for o in options]:
        return sample
    out = {**sample, "question": new_question, "question_original": question,
           "frame_scale": list(factors)}
    if options:
        out["options"] = new_options
    return out
