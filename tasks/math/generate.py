"""Maths: read the image, compute a small integer.

In domain (train, id): geometry-flavoured counting on 1-6 flat shapes (circles, triangles,
squares, pentagons, hexagons) on a plain background. Five question kinds, from easy to hard:
count all shapes, count one kind, "how many more A than B", the sides of the shape of one colour,
and the total number of corners. Out of domain (ood): a different kind of visual maths, see
`tasks/math/ood.py` (handwritten-digit arithmetic, cluttered 3D-ish counting). Answers are
integer strings, scored by `math_equiv`. A scene's "drawn" lists what is in the image as
(name, colour or None, box), for the general mixture's vision targets.
"""

import random

from PIL import Image, ImageDraw

from tasks import style, tiers
from tasks.draw import draw_shape, place_boxes

# This family's own out-of-domain scenes, imported relative to this folder so that a copy of
# it (a new family) uses its own copy.
from . import ood

# Corners (= sides) of each in-domain shape; a circle has none.
CORNERS = {"circle": 0, "triangle": 3, "square": 4, "pentagon": 5, "hexagon": 6}
SHAPES = tuple(CORNERS)
# Question kind -> (fewest, most) shapes in its scenes; totals of corners stay small.
KINDS = {"count_all": (1, 6), "count_shape": (2, 6), "more_than": (2, 6), "sides_of": (1, 4),
         "corners_total": (1, 3)}
# What the general mixture passes to make_scene (tasks/general): the half of the bundled
# handwritten digits the test splits never use.
GENERAL_SCENE_ARGS = {"digits": ood.GENERAL_DIGITS}


def _layout(rng: random.Random, kind: str) -> list[dict]:
    """Shapes, colours and boxes for an in-domain scene of the given question kind."""
    low, high = KINDS[kind]
    while True:
        n = rng.randint(low, high)
        shapes = [rng.choice(SHAPES) for _ in range(n)]
        if kind == "sides_of":
            # The asked-about shape is a polygon, and every colour names one shape only.
            shapes[0] = rng.choice(SHAPES[1:])
            colours = rng.sample(style.COLOURS, n)
        else:
            colours = [rng.choice(style.COLOURS) for _ in range(n)]
        boxes = place_boxes(rng, [rng.randint(20, 32) for _ in range(n)])
        if boxes is not None:
            return [{"shape": s, "colour": c, "box": b} for s, c, b in zip(shapes, colours, boxes)]


def _question(rng: random.Random, kind: str, objects: list[dict]) -> tuple[str, int]:
    shapes = [o["shape"] for o in objects]
    if kind == "count_all":
        return "How many shapes are there?", len(shapes)
    if kind == "count_shape":
        # Mostly a present kind; sometimes an absent one, so "0" is a possible answer.
        asked = rng.choice(shapes) if rng.random() < 0.8 else rng.choice(SHAPES)
        return f"How many {asked}s are there?", shapes.count(asked)
    if kind == "more_than":
        more = rng.choice(shapes)
        fewer = [s for s in SHAPES if s != more and shapes.count(s) <= shapes.count(more)]
        if not fewer:
            more = max(SHAPES, key=shapes.count)
            fewer = [s for s in SHAPES if s != more]
        less = rng.choice(fewer)
        return (f"How many more {more}s than {less}s are there?",
                shapes.count(more) - shapes.count(less))
    if kind == "sides_of":
        target = objects[0]
        return f"How many sides does the {target['colour']} shape have?", CORNERS[target["shape"]]
    total = sum(CORNERS[s] for s in shapes)
    return "How many corners do all the shapes have in total? A circle has none.", total


def _id_scene(rng: random.Random):
    kind = rng.choice(tuple(KINDS))
    objects = _layout(rng, kind)
    question, value = _question(rng, kind, objects)
    img = style.plain_background(rng)
    draw = ImageDraw.Draw(img)
    for obj in objects:
        draw_shape(draw, obj["shape"], obj["box"], fill=style.colour(rng, "id", obj["colour"]))
    drawn = [(o["shape"], o["colour"], o["box"]) for o in objects]
    return img, question, str(value), kind, drawn


def make_scene(split: str, index: int, rng: random.Random,
               digits: int = ood.TEST_DIGITS) -> tuple[Image.Image, dict]:
    """One scene: its image, the question, the integer answer and the question kind.

    `digits` picks the half of the bundled handwritten digits an out-of-domain scene may use
    (the general mixture passes the other half, tasks/math/ood.py)."""
    domain = style.domain_of(split)
    if domain == "id":
        img, question, answer, kind, drawn = _id_scene(rng)
    elif rng.random() < 0.5:
        img, question, answer, kind, drawn = ood.digits_scene(rng, digits)
    else:
        img, question, answer, kind, drawn = ood.clutter_scene(rng)
    scene = {"index": index, "domain": domain, "question": question, "answer": answer,
             "kind": kind, "drawn": drawn, "extras": {"kind": kind}}
    return img, scene


def make_tiers(scene: dict, rng: random.Random) -> dict[str, dict]:
    """Judge (is the answer N?), choice (five nearby numbers) and open versions."""
    question, value = scene["question"], int(scene["answer"])
    yes = rng.random() < 0.5
    proposal = value if yes else tiers.off_by_small(rng, value)
    judge = tiers.judge_tier(f"{question} Is the answer {proposal}?", yes)
    options, correct = tiers.shuffled_with(
        rng, str(value), [str(v) for v in tiers.near_numbers(rng, value, 4)])
    # Shuffled, not sorted: with sorted options the answer's letter would leak its size.
    choice = tiers.choice_tier(question, options, [correct])
    return {"judge": judge, "choice": choice,
            "open": tiers.open_tier(question, scene["answer"], "math_equiv")}
