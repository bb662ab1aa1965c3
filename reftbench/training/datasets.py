"""Build the `datasets.Dataset`s TRL's trainers read, from reftbench sample records.

GRPO gets conversational prompts, an `image` column (decoded lazily from the image path) and
the sample fields the reward needs. SFT gets prompt/completion pairs whose completion is the
target `<think>..</think><answer>..</answer>`, so TRL trains on the completion only.
"""

from __future__ import annotations

from reftbench.prompts import prompt_text

# Sample fields carried into the dataset for the reward functions (see reftbench.training.trl_rewards).
REWARD_COLUMNS = ("id", "family", "split", "tier", "answer", "metric", "options")

# The short reasoning that SFT targets put inside <think>, per tier (the paper's SFT data has
# no reasoning either; a fixed sentence keeps completions short and teaches the format).
THINK_TEMPLATES = {
    "judge": "I check the proposal against the image.",
    "choice": "I compare each option with the image.",
    "open": "I look at the image and work out the answer.",
}


def target_completion(sample: dict) -> str:
    """The completion SFT trains towards for a sample (its gold answer in the format)."""
    think = sample.get("think") or THINK_TEMPLATES.get(sample["tier"], THINK_TEMPLATES["open"])
    return f"<think>{think}</think><answer>{sample['answer']}</answer>"


def _image_dataset(rows: list[dict]):
    from datasets import Dataset, Image

    # Images decode as rows are read, then go through reftbench.data.generated.to_rgb: the processor's
    # own RGB conversion would clip a 16-bit or float image to white or black.
    return Dataset.from_list(rows).cast_column("image", Image()).with_transform(_rgb_images)


def _rgb_images(batch: dict) -> dict:
    """A dataset transform: every decoded image of the batch as 8-bit RGB."""
    from reftbench.data.generated import to_rgb

    batch["image"] = [to_rgb(image) for image in batch["image"]]
    return batch


def _images_dataset(rows: list[dict]):
    """Rows with an "images" list (one path, or none for a text-only row): TRL's vision collator
    batches image and text-only examples together."""
    from datasets import Dataset, Image, Sequence

    return (Dataset.from_list(rows).cast_column("images", Sequence(Image()))
            .with_transform(_rgb_image_lists))


def _rgb_image_lists(batch: dict) -> dict:
    from reftbench.data.generated import to_rgb

    batch["images"] = [[to_rgb(image) for image in images] for images in batch["images"]]
    return batch


def grpo_dataset(samples: list[dict]):
    """Prompt + image + reward columns, one row per sample."""
    rows = []
    for s in samples:
        row = {"prompt": [{"role": "user", "content": prompt_text(s)}], "image": s["image_path"]}
        row.update({k: s.get(k) for k in REWARD_COLUMNS})
        row["options"] = list(s.get("options") or [])
        rows.append(row)
    return _image_dataset(rows)


def sft_dataset(samples: list[dict], completions: list[str] | None = None):
    """Prompt/completion pairs; `completions` overrides the gold targets (rejection sampling).
    A sample without an image (a text-only replay row) trains on its text alone."""
    completions = completions or [target_completion(s) for s in samples]
    rows = [{"prompt": [{"role": "user", "content": prompt_text(s)}],
             "completion": [{"role": "assistant", "content": c}],
             "image": s.get("image_path")} for s, c in zip(samples, completions)]
    if all(row["image"] for row in rows):
        return _image_dataset(rows)
    for row in rows:
        image = row.pop("image")
        row["images"] = [image] if image else []
    return _images_dataset(rows)
