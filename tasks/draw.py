"""Flat shapes and where to put them: the drawing code every family shares.

Each shape is drawn inscribed in an integer box [x1, y1, x2, y2] (PIL's inclusive corners) and
touches all four sides of it, so the box a generator records is exactly the drawn extent: the
detection answer can never disagree with the pixels.

    boxes = place_boxes(rng, [30, 44], canvas=112)
    draw_shape(ImageDraw.Draw(img), "star", boxes[0], fill=(200, 40, 40))
"""

import math
import random

from PIL import ImageDraw

Box = list[int]


def _regular(corners: int, start_deg: float, inner: float = 1.0) -> list[tuple[float, float]]:
    """Vertices of a regular polygon (or a star when `inner` < 1), on a unit circle."""
    points = []
    steps = corners * (2 if inner < 1 else 1)
    for k in range(steps):
        radius = inner if (inner < 1 and k % 2) else 1.0
        angle = math.radians(start_deg + 360 * k / steps)
        points.append((radius * math.cos(angle), radius * math.sin(angle)))
    return points


def _normalised(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Stretch vertices to fill the unit square, so the shape touches every side of its box."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [((x - min(xs)) / (max(xs) - min(xs)), (y - min(ys)) / (max(ys) - min(ys)))
            for x, y in points]


# Unit-square outlines of the polygonal shapes (y grows downwards, as in images).
UNIT_POLYGONS = {
    "square": [(0, 0), (1, 0), (1, 1), (0, 1)],
    "triangle": [(0.5, 0), (1, 1), (0, 1)],
    "diamond": [(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5)],
    "pentagon": _normalised(_regular(5, -90)),
    "hexagon": _normalised(_regular(6, 0)),
    "star": _normalised(_regular(5, -90, inner=0.45)),
}
SHAPES = ("circle", *UNIT_POLYGONS)


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: Box, fill=None, outline=None,
               width: int = 1) -> None:
    """Draw `shape` filling `box`; outline-only when `fill` is None."""
    x1, y1, x2, y2 = box
    if shape == "circle":
        draw.ellipse(box, fill=fill, outline=outline, width=width)
        return
    points = [(x1 + u * (x2 - x1), y1 + v * (y2 - y1)) for u, v in UNIT_POLYGONS[shape]]
    if fill is not None:
        draw.polygon(points, fill=fill)
    if outline is not None:
        # polygon(width=...) thickens inwards unevenly on small shapes; a closed line is even.
        draw.line(points + points[:1], fill=outline, width=width, joint="curve")


def boxes_touch(a: Box, b: Box, gap: int) -> bool:
    """Whether two boxes overlap or come closer than `gap` pixels."""
    return not (a[2] + gap < b[0] or b[2] + gap < a[0] or a[3] + gap < b[1] or b[3] + gap < a[1])


def place_boxes(rng: random.Random, sizes: list[int], canvas: int = 112, margin: int = 2,
                gap: int = 3, tries: int = 200) -> list[Box] | None:
    """Square boxes of the given sides at random, none touching; None if they do not fit.

    Rejection sampling is fine here: at most a handful of boxes on a 112 px canvas.
    """
    placed: list[Box] = []
    for side in sizes:
        for _ in range(tries):
            x1 = rng.randint(margin, canvas - 1 - margin - side)
            y1 = rng.randint(margin, canvas - 1 - margin - side)
            box = [x1, y1, x1 + side, y1 + side]
            if not any(boxes_touch(box, other, gap) for other in placed):
                placed.append(box)
                break
        else:
            return None
    return placed


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes (continuous coordinates)."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def format_box(box: Box) -> str:
    """The canonical answer text of a box: "[x1, y1, x2, y2]"."""
    return "[" + ", ".join(str(int(v)) for v in box) + "]"
