"""The two visual domains: plain in-domain scenes and noisy out-of-domain ones.

In-domain (train and id splits) is clean: a flat light background, saturated colours. The
out-of-domain split (ood) keeps the words (shape and colour names) but changes the pixels, like
RefCOCO -> RefGTA: textured, grainy backgrounds, stray marks, shifted shades. Randomness comes
from the scene's `random.Random`; numpy noise is seeded from it, so a scene stays reproducible.

    img = textured_background(rng); add_marks(ImageDraw.Draw(img), rng); img = add_grain(img, rng)
"""

import random

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 112

# Colour names -> RGB. The ood shades are darker or duller versions of the same names, so a
# referring expression means the same thing in both domains but the pixels move.
PALETTES = {
    "id": {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
           "yellow": (235, 195, 20)},
    "ood": {"red": (165, 25, 75), "green": (95, 150, 35), "blue": (35, 130, 175),
            "yellow": (205, 150, 30)},
}
COLOURS = tuple(PALETTES["id"])


def domain_of(split: str) -> str:
    """"ood" for the out-of-domain test split, "id" for train and the in-domain test split."""
    return "ood" if split == "ood" else "id"


def numpy_rng(rng: random.Random) -> np.random.Generator:
    """A numpy generator drawn from the scene's rng (vectorised noise, still reproducible)."""
    return np.random.default_rng(rng.getrandbits(64))


def jitter(rng: random.Random, rgb: tuple[int, int, int], amount: int) -> tuple[int, ...]:
    """`rgb` with each channel moved by up to `amount`, so no two scenes share exact colours."""
    return tuple(min(255, max(0, c + rng.randint(-amount, amount))) for c in rgb)


def colour(rng: random.Random, domain: str, name: str) -> tuple[int, ...]:
    """The RGB of a colour name in a domain, jittered (more out of domain)."""
    return jitter(rng, PALETTES[domain][name], 12 if domain == "id" else 25)


def plain_background(rng: random.Random) -> Image.Image:
    """A flat light-grey background with a random tint.

    The tint (over 40^3 values) also makes two scenes with the same objects differ in bytes, so
    train and test images never coincide by chance.
    """
    tint = tuple(rng.randint(200, 240) for _ in range(3))
    return Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), tint)


# Pixel coordinates, computed once: stripes and gradients are functions of them.
_YY, _XX = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)


def gradient_background(rng: random.Random) -> Image.Image:
    """A linear blend of two random mid-to-light colours in a random direction.

    Only the general mixture uses it (with light grain): an instruct model has seen more than
    flat backgrounds, and a base trained on flat ones alone loses its answer format on the
    out-of-domain split. The direction is random, so it says nothing about position.
    """
    start = np.array([rng.randint(120, 240) for _ in range(3)], np.float32)
    end = np.array([rng.randint(120, 240) for _ in range(3)], np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (_XX * np.cos(angle) + _YY * np.sin(angle)) / IMAGE_SIZE
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    pixels = start + (end - start) * ramp[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def textured_background(rng: random.Random) -> Image.Image:
    """A mid-tone background of smooth colour blotches, half the time with stripes.

    No pixel grain here: callers add it over the finished image with `add_grain`, once.
    """
    nrng, size = numpy_rng(rng), IMAGE_SIZE
    base = nrng.uniform(90, 190, 3).astype(np.float32)
    cells = int(nrng.integers(3, 8))
    # Mostly light/dark blotches, a little colour: saturated blotches would hide the objects.
    blotch = nrng.normal(0, 30, (cells, cells, 1)) + nrng.normal(0, 15, (cells, cells, 3))
    coarse = np.clip(128 + blotch, 0, 255).astype(np.uint8)
    blotches = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR), np.float32)
    pixels = base + (blotches - 128)
    if nrng.random() < 0.5:
        # Diagonal stripes: a regular texture a flat-background model has never seen.
        angle, period = nrng.uniform(0, np.pi), nrng.uniform(6, 16)
        phase = (_XX * np.cos(angle) + _YY * np.sin(angle)) * np.float32(2 * np.pi / period)
        pixels += (18 * np.sin(phase))[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def add_marks(draw: ImageDraw.ImageDraw, rng: random.Random, count: int | None = None) -> None:
    """Clutter: thin lines, arcs and dots that are none of the task's shapes."""
    for _ in range(rng.randint(6, 14) if count is None else count):
        ink = tuple(rng.randint(20, 235) for _ in range(3))
        x, y = rng.randint(0, IMAGE_SIZE - 1), rng.randint(0, IMAGE_SIZE - 1)
        kind = rng.random()
        if kind < 0.45:
            end = (x + rng.randint(-30, 30), y + rng.randint(-30, 30))
            draw.line([(x, y), end], fill=ink, width=rng.randint(1, 2))
        elif kind < 0.75:
            r = rng.randint(6, 16)
            start = rng.randint(0, 359)
            draw.arc([x - r, y - r, x + r, y + r], start, start + rng.randint(40, 160), fill=ink,
                     width=rng.randint(1, 2))
        else:
            r = rng.randint(1, 3)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=ink)


def add_grain(img: Image.Image, rng: random.Random, sigma: float = 12.0) -> Image.Image:
    """Gaussian pixel noise over the finished image (objects included), like sensor noise."""
    nrng = numpy_rng(rng)
    noise = nrng.standard_normal((img.height, img.width, 3), dtype=np.float32) * np.float32(sigma)
    pixels = np.asarray(img, np.float32) + noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
