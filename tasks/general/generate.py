"""General mixture: what the embedded base model learns before any benchmark training.

The paper starts from Qwen2.5-VL-Instruct, a model with general visual skills. reftbench's
embedded base gets its own, from this mixture of in-domain-style scenes (never the
benchmark's train or test scenes: the family name keeps the seed streams apart) and general
questions, at all three tiers and in the answer format:

- locate:   the box of a named object, 1-2 objects      (box_iou)      half of these scenes
- describe: list every object as "colour shape"        (label_set_iou)
- count:    how many objects there are                  (math_equiv)
- read:     the number written in the image             (math_equiv)
- half the own object scenes have a varied look (a gradient background, light grain, duller
  shades), so the base is not a flat-background specialist;
- and, for half of the scenes, questions in the form of the three benchmark families (drawn by
  their own generators in the in-domain style, from this family's own seed stream, so never a
  benchmark scene): an instruct model has seen such questions before it is post-trained, and
  without them a tiny base answers every unfamiliar wording with a constant.

Boxes get half of the mixture's own scenes (a quarter of all), in small scenes, because they are what a tiny model learns
slowest: trained on boxes alone it answers a constant box for about 300 steps of 32 and only
then starts to localise, single objects first (a throwaway probe on this CPU: 1 object, 700
steps: 22% IoU > 0.5; 1-4 objects named by expression, 700 steps: 6%).

The "train" split trains the base model and is Curr-ReFT's replay data; the "id" split is the
held-out general-ability check.
"""

import random

from PIL import ImageDraw, ImageFont

from tasks import family_module, style, tiers
from tasks.detection.generate import wrong_boxes
from tasks.draw import draw_shape, format_box, place_boxes

SHAPES = ("circle", "square", "triangle", "diamond", "star", "hexagon")
# Cycled through by scene index: locate is every other general scene.
KINDS = ("locate", "describe", "locate", "count", "locate", "read")
# Benchmark-form questions: the family generators, always in the in-domain style.
BORROWED = ("detection", "classification", "math")
_FONT_SIZES = (28, 34, 40)


def _objects(rng: random.Random, most: int = 5) -> list[dict]:
    """1-`most` objects with non-touching boxes and distinct (colour, shape) pairs."""
    while True:
        count = rng.randint(1, most)
        pairs = rng.sample([(c, s) for c in style.COLOURS for s in SHAPES], count)
        boxes = place_boxes(rng, [rng.randint(18, 44) for _ in range(count)])
        if boxes:
            return [{"colour": c, "shape": s, "box": b} for (c, s), b in zip(pairs, boxes)]


def _number_image(rng: random.Random, value: int):
    img = style.plain_background(rng)
    font = ImageFont.load_default(size=rng.choice(_FONT_SIZES))
    ink = style.colour(rng, "id", rng.choice(style.COLOURS))
    ImageDraw.Draw(img).text((rng.randint(8, 50), rng.randint(8, 50)), str(value), fill=ink,
                             font=font)
    return img


def make_scene(split: str, index: int, rng: random.Random):
    """One general scene: its image and one general question about it."""
    if index % 2:
        family = BORROWED[(index // 2) % len(BORROWED)]
        image, scene = family_module(family).make_scene("train", index, rng)
        return image, {**scene, "borrowed": family, "extras": {}}
    kind = KINDS[(index // 2) % len(KINDS)]
    if kind == "read":
        value = rng.randint(0, 99)
        scene = {"kind": kind, "question": "What number is written in the image?",
                 "answer": str(value), "value": value, "metric": "math_equiv"}
        return _number_image(rng, value), scene
    objects = _objects(rng, 2 if kind == "locate" else 5)
    # Half the own object scenes vary the look (gradient background, light grain, duller
    # shades); the rest are flat. Never the out-of-domain split's blotches, stripes or marks.
    varied = rng.random() < 0.5
    img = style.gradient_background(rng) if varied else style.plain_background(rng)
    draw = ImageDraw.Draw(img)
    for obj in objects:
        domain = "ood" if varied and rng.random() < 0.5 else "id"
        draw_shape(draw, obj["shape"], obj["box"], fill=style.colour(rng, domain, obj["colour"]))
    if varied:
        img = style.add_grain(img, rng, sigma=6.0)
    scene = {"kind": kind, "objects": objects, **_question(kind, objects, rng),
             # Kept on the records: the base model's box warm-up picks its simple scenes by them.
             "extras": {"n_objects": len(objects), "look": "varied" if varied else "flat"}}
    return img, scene


def _question(kind: str, objects: list[dict], rng: random.Random) -> dict:
    if kind == "describe":
        items = sorted(f"{o['colour']} {o['shape']}" for o in objects)
        return {"question": "List every object in the image as colour and shape.",
                "answer": ", ".join(items), "metric": "label_set_iou"}
    if kind == "count":
        return {"question": "How many objects are in the image?", "answer": str(len(objects)),
                "value": len(objects), "metric": "math_equiv"}
    target = rng.randrange(len(objects))
    name = f"the {objects[target]['colour']} {objects[target]['shape']}"
    return {"question": f"Where is {name}? Answer with its box [x1, y1, x2, y2].",
            "answer": format_box(objects[target]["box"]), "target": target, "name": name,
            "box": objects[target]["box"], "metric": "box_iou"}


def _wrong_answers(scene: dict, rng: random.Random, count: int) -> list[str]:
    """Plausible wrong answers of the scene's kind."""
    if scene["metric"] == "math_equiv":
        return [str(v) for v in tiers.near_numbers(rng, scene["value"], count)]
    if scene["metric"] == "box_iou":
        return [format_box(b) for b in wrong_boxes(rng, scene, count)]
    items = scene["answer"].split(", ")
    wrong = set()
    while len(wrong) < count:
        swapped = list(items)
        swapped[rng.randrange(len(swapped))] = f"{rng.choice(style.COLOURS)} {rng.choice(SHAPES)}"
        text = ", ".join(sorted(set(swapped)))
        if text != scene["answer"]:
            wrong.add(text)
    return sorted(wrong)


def make_tiers(scene: dict, rng: random.Random) -> dict[str, dict]:
    """Judge, choice and open versions of the general question."""
    if "borrowed" in scene:
        return family_module(scene["borrowed"]).make_tiers(scene, rng)
    yes = rng.random() < 0.5
    proposal = scene["answer"] if yes else _wrong_answers(scene, rng, 1)[0]
    judge = tiers.judge_tier(f"{scene['question']} Is the answer {proposal}?", yes)
    options, correct = tiers.shuffled_with(rng, scene["answer"], _wrong_answers(scene, rng, 4))
    choice = tiers.choice_tier(scene["question"], options, [correct])
    return {"judge": judge, "choice": choice,
            "open": tiers.open_tier(scene["question"], scene["answer"], scene["metric"])}
