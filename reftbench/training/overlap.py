"""Refuse to train on test data: compare every training sample with every test sample.

The reference Curr-ReFT config trained on its in-domain math test file. Here a training sample
overlaps a test sample when their questions match once normalised (case, spacing and
punctuation ignored: `question_key`) and their images are the same: the same bytes (sha256),
or, for a real-data folder, the same picture re-encoded, resized or recompressed (a 16x16
colour thumbnail within NEAR of the test image's; generated splits are drawn from disjoint
seeded streams and saved losslessly, so their images can only repeat byte for byte). The
embedded base model's general mixture is held to a stricter rule (`check_images_apart`): none
of its images may equal any test image at all, whatever the question, since the general
mixture asks questions in the benchmark families' own forms.

What it cannot catch: a test question reworded (other words, not just other case, spaces or
punctuation), an image cropped, rotated, flipped or edited, or a test item that reached the
start model before reftbench saw it (docs/real-data.md).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from functools import lru_cache

from reftbench.errors import UserError

# Side of the thumbnail two images are compared by, in pixels.
THUMB = 16
# Largest mean absolute difference (0-255 per channel) between two thumbnails of the same
# picture. Measured on the generated images: a JPEG re-encoding at quality 75 differs from its
# PNG by at most 1.5, and two different scenes asked the same question by at least 7.3.
NEAR = 3.0


@lru_cache(maxsize=200_000)
def image_digest(path: str) -> str:
    """sha256 of an image file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@lru_cache(maxsize=200_000)
def thumbnail(path: str):
    """A THUMB x THUMB RGB thumbnail (numpy int16), averaged over each cell: the same for a
    picture saved again in another format, quality or size."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        img.draft("RGB", (THUMB * 4, THUMB * 4))  # JPEG: decode at a fraction of full size
        small = img.convert("RGB").resize((THUMB, THUMB), Image.BOX)
    return np.asarray(small, dtype=np.int16).reshape(-1)


def question_key(question: str) -> str:
    """The question with case, spacing and punctuation ignored ("How  many Circles?" and
    "how many circles" are one key)."""
    text = unicodedata.normalize("NFKC", question).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def find_overlap(train: list[dict], test: list[dict],
                 perceptual: bool = False) -> list[tuple[str, str]]:
    """(train id, test id) pairs with the same question key and the same image (the same bytes;
    with `perceptual`, also the same picture saved another way)."""
    by_question: dict[str, list[dict]] = defaultdict(list)
    for s in test:
        by_question[question_key(s["question"])].append(s)
    exact = {(key, image_digest(s["image_path"])): s["id"]
             for key, group in by_question.items() for s in group}
    thumbs: dict[str, object] = {}
    pairs = []
    for s in train:
        key = question_key(s["question"])
        if key not in by_question:
            continue
        found = exact.get((key, image_digest(s["image_path"])))
        if found is None and perceptual:
            found = _near(s, key, by_question[key], thumbs)
        if found is not None:
            pairs.append((s["id"], found))
    return pairs


def _near(sample: dict, key: str, group: list[dict], thumbs: dict) -> str | None:
    """The id of a test sample in `group` whose image is the same picture as `sample`'s.

    Only thumbnails whose mean is within NEAR of the sample's are compared: the mean absolute
    difference of two thumbnails is never below the difference of their means, so the others
    cannot be near (this keeps a group of thousands of photos with one question cheap)."""
    import numpy as np

    if key not in thumbs:  # the group's thumbnails, stacked once and ordered by their mean
        stack = np.stack([thumbnail(s["image_path"]) for s in group])
        means = stack.mean(axis=1)
        order = np.argsort(means)
        thumbs[key] = (stack[order], means[order], order)
    stack, means, order = thumbs[key]
    mine = thumbnail(sample["image_path"])
    low = int(np.searchsorted(means, mine.mean() - NEAR, side="left"))
    high = int(np.searchsorted(means, mine.mean() + NEAR, side="right"))
    if low >= high:
        return None
    distance = np.abs(stack[low:high] - mine).mean(axis=1)
    best = int(distance.argmin())
    return group[int(order[low + best])]["id"] if distance[best] <= NEAR else None


def check_no_overlap(train: list[dict], test: list[dict], perceptual: bool = False) -> None:
    """Raise a UserError naming the first overlapping pair, if any."""
    pairs = find_overlap(train, test, perceptual)
    if pairs:
        first_train, first_test = pairs[0]
        raise UserError(f"{len(pairs)} training sample(s) also appear in a test split "
                        f"(e.g. {first_train} = {first_test}: the same question and image, "
                        "up to case, spacing, punctuation and re-encoding); refusing to train "
                        "on test data")


def check_images_apart(general: list[dict], test: list[dict]) -> None:
    """Raise a UserError if any image of `general` has the same bytes as a test image."""
    test_images = {image_digest(s["image_path"]): s["id"] for s in test}
    shared = [(s["id"], test_images[d]) for s in general
              if (d := image_digest(s["image_path"])) in test_images]
    if shared:
        raise UserError(f"{len(shared)} general-mixture image(s) equal a test image "
                        f"(e.g. {shared[0][0]} = {shared[0][1]}); refusing to build the base "
                        "model on test data")
