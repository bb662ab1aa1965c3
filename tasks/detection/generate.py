"""Detection: give the box of the one object a referring expression names.

In domain (train, id): 1-4 filled shapes in four colours on a plain light background, named
like "the small red triangle". Out of domain (ood), like RefCOCO -> RefGTA: the same words on
textured, grainy backgrounds with clutter marks, duller shades and other object sizes. The
answer is "[x1, y1, x2, y2]" in integer pixels; objects are 18-56 px so a tiny model can learn it.
"""

import random

from PIL import Image, ImageDraw

from tasks import style, tiers
from tasks.draw import box_iou, draw_shape, format_box, place_boxes

SHAPES = ("circle", "square", "triangle", "diamond", "star")
COLOURS = style.COLOURS
# Side ranges of the two size words. "small" is always <= 30 px and "large" >= 38 px, in both
# domains, so the words mean an absolute size; the ood ranges differ from the id ones.
SIDES = {"id": {"small": (22, 30), "large": (38, 50)},
         "ood": {"small": (18, 26), "large": (42, 56)}}
# Which attributes a referring expression may use, in the order the words are spoken.
FORMS = (("shape",), ("colour", "shape"), ("size", "shape"), ("size", "colour", "shape"))
# A wrong box must clearly be wrong: IoU with the gold box below this.
WRONG_IOU = 0.3


def _random_objects(rng: random.Random, domain: str) -> list[dict] | None:
    """1-4 objects with random attributes and non-touching boxes (None if they did not fit)."""
    objects = [{"shape": rng.choice(SHAPES), "colour": rng.choice(COLOURS),
                "size": rng.choice(("small", "large"))} for _ in range(rng.randint(1, 4))]
    sides = [rng.randint(*SIDES[domain][o["size"]]) for o in objects]
    boxes = place_boxes(rng, sides)
    if boxes is None:
        return None
    for obj, box in zip(objects, boxes):
        obj["box"] = box
    return objects


def _pick_target(rng: random.Random, objects: list[dict]) -> tuple[int, tuple] | None:
    """A random object and a random expression form that matches it alone, if any exists."""
    candidates = []
    for i, obj in enumerate(objects):
        for form in FORMS:
            matches = [o for o in objects if all(o[a] == obj[a] for a in form)]
            if len(matches) == 1:
                candidates.append((i, form))
    return rng.choice(candidates) if candidates else None


def _render(rng: random.Random, objects: list[dict], domain: str) -> Image.Image:
    if domain == "id":
        img = style.plain_background(rng)
    else:
        img = style.textured_background(rng)
        style.add_marks(ImageDraw.Draw(img), rng)
    draw = ImageDraw.Draw(img)
    for obj in objects:
        draw_shape(draw, obj["shape"], obj["box"], fill=style.colour(rng, domain, obj["colour"]))
    return img if domain == "id" else style.add_grain(img, rng)


def make_scene(split: str, index: int, rng: random.Random) -> tuple[Image.Image, dict]:
    """One scene: its image, the target object, the expression and the open question."""
    domain = style.domain_of(split)
    while True:
        objects = _random_objects(rng, domain)
        picked = objects and _pick_target(rng, objects)
        if picked:
            break
    target, form = picked
    expression = "the " + " ".join(objects[target][a] for a in form)
    box = objects[target]["box"]
    question = (f"What is the bounding box of {expression}? Answer [x1, y1, x2, y2] in pixels "
                f"of this {style.IMAGE_SIZE}x{style.IMAGE_SIZE} image.")
    scene = {"index": index, "domain": domain, "objects": objects, "target": target,
             "form": form, "expression": expression, "box": box, "question": question,
             "answer": format_box(box), "extras": {"box": box},
             # What is drawn, as (name, colour, box): the general mixture's vision targets.
             "drawn": [(o["shape"], o["colour"], o["box"]) for o in objects]}
    return _render(rng, objects, domain), scene


def wrong_boxes(rng: random.Random, scene: dict, count: int) -> list[list[int]]:
    """`count` distinct plausible wrong boxes: other objects' boxes first, then shifted copies.

    Every one has IoU < WRONG_IOU with the gold box, and no two are the same.
    """
    gold = scene["box"]
    others = [o["box"] for i, o in enumerate(scene["objects"]) if i != scene["target"]]
    rng.shuffle(others)
    found = [b for b in others if box_iou(b, gold) < WRONG_IOU][:count]
    limit = style.IMAGE_SIZE - 1
    while len(found) < count:
        # The gold box moved and slightly resized: right size, wrong place.
        side_w = max(12, round((gold[2] - gold[0]) * rng.uniform(0.85, 1.15)))
        side_h = max(12, round((gold[3] - gold[1]) * rng.uniform(0.85, 1.15)))
        x1 = min(max(0, gold[0] + rng.randint(-60, 60)), limit - side_w)
        y1 = min(max(0, gold[1] + rng.randint(-60, 60)), limit - side_h)
        box = [x1, y1, x1 + side_w, y1 + side_h]
        if box_iou(box, gold) < WRONG_IOU and box not in found:
            found.append(box)
    return found


def make_tiers(scene: dict, rng: random.Random) -> dict[str, dict]:
    """Judge, choice and open versions of the scene's question."""
    expression, gold = scene["expression"], scene["box"]
    yes = rng.random() < 0.5
    proposal = gold if yes else wrong_boxes(rng, scene, 1)[0]
    judge = tiers.judge_tier(f"Is {format_box(proposal)} the bounding box of {expression}?", yes)
    options, correct = tiers.shuffled_with(
        rng, format_box(gold), [format_box(b) for b in wrong_boxes(rng, scene, 4)])
    choice = tiers.choice_tier(f"Which box is the bounding box of {expression}?", options,
                               [correct])
    return {"judge": judge, "choice": choice,
            "open": tiers.open_tier(scene["question"], scene["answer"], "box_iou")}
