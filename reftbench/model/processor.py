"""An image-only Qwen2.5-VL processor: the stock one minus its video processor.

transformers' `Qwen2_5_VLProcessor` always loads a video processor, and that needs torchvision,
which reftbench must not install (a CUDA-linked torchvision breaks image processing on CPU). This
subclass keeps the image processor (the PIL backend, no torchvision) and the tokenizer, and is
otherwise the stock processor: same `<|image_pad|>` expansion, same outputs (`pixel_values`,
`image_grid_thw`). It saves as a standard Qwen2.5-VL processor, so a machine that has torchvision
loads our checkpoints with plain `AutoProcessor`.

    proc = ImageOnlyQwenProcessor.from_pretrained(folder)
    batch = proc(text=[prompt], images=[image], return_tensors="pt")
"""

from transformers import Qwen2_5_VLProcessor
from transformers.image_utils import SizeDict
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.processing_utils import ProcessorMixin

from reftbench.errors import UserError

# Every square preset image is resized to 112x112: 8x8 patches of 14 px, merged 2x2 into 16
# tokens. Not min = max = 112*112: Qwen's smart_resize then rounds 4.0 down to 3.99 for some sizes
# (345 square sizes under 3000 px came out 84x84). This window sends every square size to 112
# (checked for 8..3000 px); other aspect ratios keep 10k-19k pixels, e.g. 640x480 -> 140x112.
PRESET_MIN_PIXELS = 100 * 100
PRESET_MAX_PIXELS = 137 * 137


class ImageOnlyQwenProcessor(Qwen2_5_VLProcessor):
    """`Qwen2_5_VLProcessor` with only `image_processor` and `tokenizer` (no video)."""

    # The stock class written into processor_config.json: a Qwen2-VL checkpoint sets
    # "Qwen2VLProcessor" (the image path of the two is the same).
    stock_class = "Qwen2_5_VLProcessor"

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        # The attribute list comes from this signature, so no video processor is saved or loaded.
        self.image_token = getattr(tokenizer, "image_token", None) or "<|image_pad|>"
        self.video_token = getattr(tokenizer, "video_token", None) or "<|video_pad|>"
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    def to_dict(self):
        # Written as the stock class so plain AutoProcessor (with torchvision) can read it.
        out = super().to_dict()
        out["processor_class"] = self.stock_class
        return out


def build_processor(tokenizer) -> ImageOnlyQwenProcessor:
    """The presets' processor: 112x112 images, the tokenizer's chat template."""
    image_processor = Qwen2VLImageProcessorPil(
        min_pixels=PRESET_MIN_PIXELS, max_pixels=PRESET_MAX_PIXELS,
        patch_size=14, temporal_patch_size=2, merge_size=2,
    )
    return ImageOnlyQwenProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=tokenizer.chat_template
    )


def set_image_pixels(processor, min_pixels: int | None = None, max_pixels: int | None = None):
    """Resize every image the processor reads to between `min_pixels` and `max_pixels` pixels
    (aspect ratio kept); None keeps the processor's own bound. Returns the processor.

    Qwen2-VL-family processors allow up to 12.8M pixels by default (thousands of image tokens
    for a large photo); the reference Curr-ReFT runs capped images near 400k. The bounds live in
    the image processor's `size` ({"shortest_edge": min, "longest_edge": max} in pixels), so
    `save_pretrained` writes them into every checkpoint and a reload keeps them.
    """
    if min_pixels is None and max_pixels is None:
        return processor
    image_processor = getattr(processor, "image_processor", None)
    if "Qwen2VLImageProcessor" not in type(image_processor).__name__:
        raise UserError(f"min_pixels/max_pixels apply to Qwen2-VL-family image processors, not "
                        f"{type(image_processor).__name__}; leave them unset for this model")
    low, high = min_pixels, max_pixels
    if not 0 < (low or 1) <= (high or low or 1):
        raise UserError(f"need 0 < min_pixels <= max_pixels, got {low} and {high}")
    # A bound left unset keeps the processor's own, moved only as far as the other requires.
    if low is None:
        low = min(image_processor.size["shortest_edge"], high)
    if high is None:
        high = max(image_processor.size["longest_edge"], low)
    if not 0 < low <= high:
        raise UserError(f"need 0 < min_pixels <= max_pixels, got {low} and {high}")
    image_processor.size = SizeDict(shortest_edge=low, longest_edge=high)
    return processor
