"""Refuse to train on test data: compare every training sample with every test sample.

The reference Curr-ReFT config trained on its in-domain math test file. Here a training
sample overlaps a test sample when both the image bytes (sha256) and the question match. The
embedded base model's general mixture is held to a stricter rule (`check_images_apart`): none
of its images may equal any test image at all, whatever the question, since the general
mixture asks questions in the benchmark families' own forms.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from reftbench.errors import UserError


@lru_cache(maxsize=200_000)
def image_digest(path: str) -> str:
    """sha256 of an image file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def fingerprint(sample: dict) -> tuple[str, str]:
    """What makes two samples the same: image bytes and question text."""
    return image_digest(sample["image_path"]), sample["question"].strip()


def find_overlap(train: list[dict], test: list[dict]) -> list[tuple[str, str]]:
    """(train id, test id) pairs that share image and question."""
    index = {fingerprint(s): s["id"] for s in test}
    return [(s["id"], index[fp]) for s in train if (fp := fingerprint(s)) in index]


def check_no_overlap(train: list[dict], test: list[dict]) -> None:
    """Raise a UserError naming the first overlapping pair, if any."""
    pairs = find_overlap(train, test)
    if pairs:
        first_train, first_test = pairs[0]
        raise UserError(f"{len(pairs)} training sample(s) also appear in a test split "
                        f"(e.g. {first_train} = {first_test}); refusing to train on test data")


def check_images_apart(general: list[dict], test: list[dict]) -> None:
    """Raise a UserError if any image of `general` has the same bytes as a test image."""
    test_images = {image_digest(s["image_path"]): s["id"] for s in test}
    shared = [(s["id"], test_images[d]) for s in general
              if (d := image_digest(s["image_path"])) in test_images]
    if shared:
        raise UserError(f"{len(shared)} general-mixture image(s) equal a test image "
                        f"(e.g. {shared[0][0]} = {shared[0][1]}); refusing to build the base "
                        "model on test data")
