"""`ReftbenchLMM`: any model reftbench can load, as an lmms-eval model (`--model reftbench`).

    lmms-eval --include_path tasks --tasks reftbench_detection_id --model reftbench \
              --model_args pretrained=random-micro,device=cpu --batch_size 8

It loads through `reftbench.model.load.load_model` (base, a preset, a checkpoint folder or a hub id)
and generates through `reftbench.generation.backends.TransformersBackend`, so lmms-eval runs the same
chat template, left padding and decoding as `reftbench eval`. Each request becomes one user
turn: its images, then lmms-eval's prompt text. For reftbench's own tasks that is exactly
`reftbench.prompts.build_messages`, so completions equal `reftbench eval`'s
(tests/test_lmms_eval.py checks it).

Decoding follows the task's generation_kwargs: `max_new_tokens` (else the `max_new_tokens`
model arg), greedy unless `do_sample` with a temperature > 0 (then `temperature`, `top_p`), and
`until` stop strings cut the text. Like lmms-eval's own Qwen2.5-VL class it ignores the stop
string "\\n\\n" (lmms-eval's default when a task names none), which would cut a reasoning model
inside its think block. One process: pick the GPU with `device=cuda`.

Errors. lmms-eval catches every exception, prints its traceback, and exits with status 0 (after
retrying some steps for seconds). So when lmms-eval builds this class (`create_from_arg_string`),
a missing or damaged model, a bad dtype or model arg, or a bad REFTBENCH_LMMS_* setting stops
the process at once with one `error:` line and exit status 2.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

from lmms_eval.api.model import lmms
from tqdm import tqdm

from reftbench.data.generated import to_rgb
from reftbench.errors import UserError
from reftbench.generation.decoding import Sampling
from reftbench.generation.backends import TransformersBackend

# Task generation_kwargs this class reads; others are reported once and ignored.
KNOWN_GEN_KWARGS = {"max_new_tokens", "do_sample", "temperature", "top_p", "until", "num_beams"}
# lmms-eval's default stop string; see the module docstring.
IGNORED_STOP = "\n\n"


class ContextBackend(TransformersBackend):
    """The transformers backend fed (prompt text, images) pairs instead of reftbench samples."""

    def encode(self, items: list[dict]) -> dict:
        """Each item: {"text": str, "images": [PIL images]}; one user turn, images first."""
        texts, images = [], []
        for item in items:
            content = [{"type": "image"} for _ in item["images"]]
            content.append({"type": "text", "text": item["text"]})
            texts.append(self.processor.apply_chat_template(
                [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True))
            images.extend(item["images"])
        inputs = self.processor(text=texts, images=images or None, padding=True,
                                return_tensors="pt")
        return inputs.to(self.model.device)


class ReftbenchLMM(lmms):
    """lmms-eval's view of a reftbench model; `model_args` are this class's arguments."""

    is_simple = True

    def __init__(self, pretrained: str = "base", batch_size: int | str = 16, device: str = "cpu",
                 dtype: str | None = None, max_new_tokens: int | str = 256, backend=None,
                 max_batch_size=None, **unknown) -> None:
        """Load `pretrained` (base, preset, folder or hub id), or reuse a `TransformersBackend`'s model.

        `max_batch_size` is accepted because lmms-eval always passes it; batches are fixed.
        """
        super().__init__()
        if unknown:
            raise UserError(f"unknown model_args for the reftbench model: {', '.join(unknown)}; "
                            "use pretrained, batch_size, device, dtype, max_new_tokens")
        from tasks.lmms_utils import split_settings

        split_settings("id")  # the REFTBENCH_LMMS_* settings, checked before the model loads
        if backend is None:
            from reftbench.model.load import load_model

            model, processor = load_model(pretrained, dtype=dtype, device=device or "cpu")
        else:
            model, processor = backend.model, backend.processor
        batch_size = _positive("batch_size", batch_size)
        self.backend = ContextBackend(model, processor, batch_size=batch_size)
        self.max_new_tokens = _positive("max_new_tokens", max_new_tokens)

    @classmethod
    def create_from_arg_string(cls, arg_string: str, additional_config: dict | None = None):
        """How `lmms-eval --model reftbench` builds the model: a UserError ends the process
        with one line and exit status 2 (see the module docstring), not a retried traceback."""
        try:
            return super().create_from_arg_string(arg_string, additional_config)
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(2) from None

    @property
    def batch_size(self) -> int:
        return self.backend.batch_size

    def generate_until(self, requests) -> list[str]:
        """Completions in request order; requests with the same generation_kwargs share batches."""
        groups = defaultdict(list)
        for index, request in enumerate(requests):
            groups[json.dumps(request.args[1], sort_keys=True, default=str)].append(index)
        out: list[str | None] = [None] * len(requests)
        bar = tqdm(total=len(requests), desc="reftbench generating", disable=len(requests) < 2)
        for indices in groups.values():
            sampling, stops = self._decoding(requests[indices[0]].args[1])
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                items = [self._item(requests[i]) for i in chunk]
                for i, texts in zip(chunk, self.backend.generate(items, sampling)):
                    out[i] = cut(texts[0], stops)
                bar.update(len(chunk))
        bar.close()
        return out

    def _item(self, request) -> dict:
        """The prompt text and images of one request (lmms-eval's `Instance.args`)."""
        context, _, doc_to_visual, doc_id, task, split = request.args
        visuals = doc_to_visual(self.task_dict[task][split][doc_id]) or []
        from PIL import Image

        for visual in visuals:
            if not isinstance(visual, Image.Image):
                raise UserError(f"lmms-eval task {task} gives a {type(visual).__name__} input; "
                                "the reftbench model reads images and text only")
        # Some tasks mark the image's place with "<image>"; the chat template places it here.
        return {"text": context.replace("<image>", "").strip(),
                "images": [to_rgb(v) for v in visuals]}

    def _decoding(self, gen_kwargs: dict) -> tuple[Sampling, list[str]]:
        """Sampling settings and stop strings from one task's generation_kwargs."""
        unknown = sorted(set(gen_kwargs) - KNOWN_GEN_KWARGS)
        if unknown:
            from loguru import logger

            logger.warning(f"reftbench model ignores generation_kwargs {unknown}")
        if int(gen_kwargs.get("num_beams") or 1) > 1:
            raise UserError("the reftbench model decodes greedily or by sampling, not beam search")
        temperature = float(gen_kwargs.get("temperature") or 0.0)
        # transformers' rule: do_sample decides; left out, a temperature above 0 means sampling.
        do_sample = gen_kwargs.get("do_sample")
        do_sample = temperature > 0 if do_sample is None else bool(do_sample)
        longest = int(gen_kwargs.get("max_new_tokens") or self.max_new_tokens)
        sampling = Sampling(max_new_tokens=longest,
                            temperature=(temperature or 1.0) if do_sample else 0.0,
                            top_p=float(gen_kwargs.get("top_p") or 1.0))
        until = gen_kwargs.get("until") or []
        stops = [until] if isinstance(until, str) else list(until)
        return sampling, [s for s in stops if s and s != IGNORED_STOP]

    def loglikelihood(self, requests):
        raise UserError("the reftbench model only generates; pick generate_until tasks")

    def generate_until_multi_round(self, requests):
        raise UserError("the reftbench model does not run multi-round tasks")


def _positive(name: str, value) -> int:
    """A positive integer model arg (lmms-eval passes them as text), or a UserError."""
    if not str(value).isdigit() or int(value) < 1:
        raise UserError(f"reftbench model arg {name} must be a positive integer, got {value!r}")
    return int(value)


def cut(text: str, stops: list[str]) -> str:
    """`text` up to the first stop string, which is dropped (lmms-eval's `until` rule)."""
    for stop in stops:
        text = text.split(stop, 1)[0]
    return text
