"""The out-of-domain maths scenes: handwritten-digit arithmetic and cluttered 3D-ish counting.

In-domain maths is counting and corner arithmetic on flat drawn shapes; out of domain the kind
of visual maths changes (as the paper goes from Geo170K/Math360K to SuperCLEVR):

- digits: two real handwritten digits from scikit-learn's bundled `load_digits` (8x8, upscaled
  to 36-50 px) on grainy paper; "What is the sum of the two digits?" or their difference.
- clutter: 3-8 shaded spheres, cubes and cylinders with shadows on a gradient floor, in the
  style of (Super)CLEVR; "How many objects are there?" or "How many cubes are there?".

Each `*_scene(rng)` returns (image, question, answer, kind, objects), where `objects` lists
what is drawn as (name, colour or None, box): the general mixture uses those lists as the
vision tower's pretraining targets.

The bundled digits are split in two halves by index: the out-of-domain test draws only even
ones (`TEST_DIGITS`), the general mixture only odd ones (`GENERAL_DIGITS`), so the base model
never sees a handwritten glyph that appears in a test image.
"""

import functools
import random

import numpy as np
from PIL import Image, ImageDraw

from tasks import style
from tasks.draw import place_boxes

SOLIDS = ("sphere", "cube", "cylinder")
# CLEVR-like object colours (no names are asked, only the solid type).
# Which half of the bundled digits a scene draws from (see the module docstring).
TEST_DIGITS, GENERAL_DIGITS = 0, 1
SOLID_COLOURS = ((170, 60, 50), (60, 90, 170), (60, 150, 80), (200, 180, 60), (130, 80, 160),
                 (90, 170, 180), (130, 130, 130), (120, 90, 60))


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 bundled 8x8 digits as uint8 0-255 images, and their labels (loaded once)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images * (255 / 16)).round().astype(np.uint8), data.target.astype(int)


def paper(rng: random.Random) -> Image.Image:
    """Off-white paper with a faint blotchy tint and grain."""
    nrng = style.numpy_rng(rng)
    size = style.IMAGE_SIZE
    base = nrng.uniform(200, 240, 3)
    shade = np.asarray(Image.fromarray(
        np.clip(128 + nrng.normal(0, 25, (4, 4)), 0, 255).astype(np.uint8)).resize(
        (size, size), Image.BILINEAR), float)
    pixels = base + (shade - 128)[..., None] * 0.5 + nrng.normal(0, 9, (size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def digit_sprite(rng: random.Random, pool: int) -> tuple[np.ndarray, int]:
    """A random bundled digit of the given half (TEST_DIGITS or GENERAL_DIGITS): image, label."""
    images, labels = _digits()
    i = 2 * rng.randrange(len(labels) // 2) + pool
    return images[i], int(labels[i])


def digits_scene(rng: random.Random, pool: int = TEST_DIGITS):
    img = paper(rng)
    ink = style.jitter(rng, (30, 35, 90), 25)
    values, objects = [], []
    for half in (0, 1):
        sprite, value = digit_sprite(rng, pool)
        values.append(value)
        side = rng.randint(36, 50)
        # Bilinear upscaling keeps the 8x8 strokes soft, like a pen on paper.
        mask = Image.fromarray(sprite).resize((side, side), Image.BILINEAR)
        x = rng.randint(2 + half * 56, 56 + half * 54 - side)
        y = rng.randint(4, style.IMAGE_SIZE - 4 - side)
        img.paste(ink, (x, y, x + side, y + side), mask)
        objects.append((f"digit{value}", None, [x, y, x + side, y + side]))
    if rng.random() < 0.5:
        return img, "What is the sum of the two digits?", str(sum(values)), "digit_sum", objects
    question = "What is the larger digit minus the smaller digit?"
    return img, question, str(max(values) - min(values)), "digit_difference", objects


def _floor(rng: random.Random) -> Image.Image:
    """A grey floor, lighter towards the horizon (top), with grain."""
    nrng = style.numpy_rng(rng)
    size = style.IMAGE_SIZE
    top, bottom = nrng.uniform(170, 210), nrng.uniform(100, 140)
    ramp = np.linspace(top, bottom, size)[:, None, None] * np.ones((1, size, 1))
    pixels = ramp + nrng.uniform(-12, 12, 3) + nrng.normal(0, 6, (size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _shade(rgb, factor: float) -> tuple[int, ...]:
    return tuple(min(255, max(0, round(c * factor))) for c in rgb)


def _draw_solid(draw: ImageDraw.ImageDraw, solid: str, box: list[int], rgb) -> None:
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    draw.ellipse([x1 + w * 0.25, y2 - h * 0.2, x2 + w * 0.3, y2 + h * 0.1], fill=(60, 60, 60))
    if solid == "sphere":
        # Concentric discs drifting to the upper left: a cheap highlight.
        for k in range(6):
            inset = k * w / 14
            shift = k * w / 20
            draw.ellipse([x1 + inset - shift, y1 + inset - shift, x2 - inset - shift,
                          y2 - inset - shift], fill=_shade(rgb, 0.75 + 0.1 * k))
    elif solid == "cube":
        d = w * 0.3  # depth offset of the back face
        front = [x1, y1 + d, x2 - d, y2]
        top = [(x1, y1 + d), (x1 + d, y1), (x2, y1), (x2 - d, y1 + d)]
        side = [(x2 - d, y1 + d), (x2, y1), (x2, y2 - d), (x2 - d, y2)]
        draw.polygon(top, fill=_shade(rgb, 1.3))
        draw.polygon(side, fill=_shade(rgb, 0.7))
        draw.rectangle(front, fill=rgb)
    else:
        e = h * 0.25  # height of the end ellipses
        draw.ellipse([x1, y2 - e, x2, y2], fill=_shade(rgb, 0.8))
        draw.rectangle([x1, y1 + e / 2, x2, y2 - e / 2], fill=_shade(rgb, 0.8))
        draw.ellipse([x1, y1, x2, y1 + e], fill=_shade(rgb, 1.25))


def clutter_scene(rng: random.Random):
    while True:
        solids = [rng.choice(SOLIDS) for _ in range(rng.randint(3, 8))]
        boxes = place_boxes(rng, [rng.randint(16, 28) for _ in solids], gap=1)
        if boxes is not None:
            break
    img = _floor(rng)
    draw = ImageDraw.Draw(img)
    # Far (higher) objects first, so nearer ones and their shadows lie on top.
    for solid, box in sorted(zip(solids, boxes), key=lambda sb: sb[1][3]):
        _draw_solid(draw, solid, box, style.jitter(rng, rng.choice(SOLID_COLOURS), 15))
    objects = [(solid, None, box) for solid, box in zip(solids, boxes)]
    if rng.random() < 0.5:
        return img, "How many objects are there?", str(len(solids)), "count_objects", objects
    asked = rng.choice(SOLIDS)
    return (img, f"How many {asked}s are there?", str(solids.count(asked)), "count_solid",
            objects)
