"""General mixture: what the embedded base model learns before any benchmark training.

The paper starts from Qwen2.5-VL-Instruct, a model with general visual skills. reftbench's
embedded base gets its own, from this mixture of in-domain-style scenes (never the
benchmark's train or test scenes: the family name keeps the seed streams apart) and general
questions, at all three tiers and in the answer format:

- locate:   the box of a named object, 1-2 objects      (box_iou)      half of these scenes
- describe: list every object as "colour shape"        (label_set_iou)
- count:    how many objects there are                  (math_equiv)
- read:     the number written in the image             (math_equiv)
- the own object scenes come in three looks, a third each: flat, varied (a gradient
  background, light grain, duller shades) and out-of-domain-like (textured, striped
  backgrounds, clutter marks, grain, objects filled in the duller shades or drawn as outlines);
- and, for half of the scenes (`BORROWED_SHARE`), questions in the form of the three benchmark
  families (drawn by their own generators from this family's own seed stream, so never a
  benchmark scene), half of them in the in-domain look and half in the out-of-domain one
  (textured detection and classification scenes, handwritten-digit sums and cluttered 3D
  counting).

This is the embedded model's stand-in for pretraining: a real instruct VLM has seen images like
both the in-domain and the out-of-domain test sets before it is post-trained, and the
post-training data (the benchmark train splits) is in-domain only, as in the paper. The
handwritten digits come from the half of scikit-learn's bundled digits that the test split
never uses (tasks/math/ood.py).

Every record carries the scene's drawn objects (`objects`: [name, colour or null, x1, y1, x2,
y2]) and, for number images, the number: the dense targets the base model's vision tower is
pretrained on (reftbench/base_build/vision_pretrain.py).

Boxes get half of the mixture's own scenes (a quarter of all), in small scenes, because they
are what a tiny model learns slowest: trained on boxes alone it answers a constant box for
about 300 steps of 32 and only then starts to localise, single objects first (a throwaway
probe on this CPU: 1 object, 700 steps: 22% IoU > 0.5; 1-4 objects named by expression, 700
steps: 6%).

The "train" split trains the base model and is Curr-ReFT's replay data; the "id" split is the
held-out general-ability check.
"""

import random

from PIL import Image, ImageDraw, ImageFont

from tasks import benchmark_families, family_module, style, tiers
from tasks.detection.generate import wrong_boxes
from tasks.draw import draw_shape, format_box, place_boxes
from tasks.math import ood

SHAPES = ("circle", "square", "triangle", "diamond", "star", "hexagon")
# Cycled through by the own scenes' order: locate is every other one.
KINDS = ("locate", "describe", "locate", "count", "locate", "read")
# K of every N scenes ask a benchmark-form question (positions 1..K of each run of N scene
# indices), the rest the mixture's own general questions. A base built with a quarter (fewer
# benchmark-form scenes per family than fine-tuning reads) gave SFT more room and RL none
# (results/notebook/rl-bases.md).
BORROWED_SHARE = (1, 2)


def borrowed_before(index: int) -> int:
    """How many of the scenes before `index` ask a benchmark-form question."""
    k, n = BORROWED_SHARE
    return index // n * k + min(k, max(0, index % n - 1))


def is_borrowed(index: int) -> bool:
    """Whether scene `index` asks a benchmark-form question."""
    return 1 <= index % BORROWED_SHARE[1] <= BORROWED_SHARE[0]


# Benchmark-form questions: every benchmark family's generator, in registry order (a family
# added to the registry is borrowed too; the order fixes which scene asks which family).
BORROWED = benchmark_families()
# Looks of the own object scenes (a third each) and the share of borrowed scenes in the
# out-of-domain look.
LOOKS = ("flat", "varied", "ood")
BORROWED_OOD_SHARE = 0.5
_FONT_SIZES = (28, 34, 40)


def _objects(rng: random.Random, most: int = 5) -> list[dict]:
    """1-`most` objects with non-touching boxes and distinct (colour, shape) pairs."""
    while True:
        count = rng.randint(1, most)
        pairs = rng.sample([(c, s) for c in style.COLOURS for s in SHAPES], count)
        boxes = place_boxes(rng, [rng.randint(18, 44) for _ in range(count)])
        if boxes:
            return [{"colour": c, "shape": s, "box": b} for (c, s), b in zip(pairs, boxes)]


def _printed_number(rng: random.Random, value: int):
    img = style.plain_background(rng)
    font = ImageFont.load_default(size=rng.choice(_FONT_SIZES))
    ink = style.colour(rng, "id", rng.choice(style.COLOURS))
    ImageDraw.Draw(img).text((rng.randint(8, 50), rng.randint(8, 50)), str(value), fill=ink,
                             font=font)
    return img, []


def _handwritten_digit(rng: random.Random):
    """One handwritten digit of the general half on grainy paper: image, value, drawn list."""
    sprite, value = ood.digit_sprite(rng, ood.GENERAL_DIGITS)
    img = ood.paper(rng)
    side = rng.randint(36, 60)
    mask = Image.fromarray(sprite).resize((side, side), Image.BILINEAR)
    x, y = (rng.randint(4, style.IMAGE_SIZE - 4 - side) for _ in range(2))
    img.paste(style.jitter(rng, (30, 35, 90), 25), (x, y, x + side, y + side), mask)
    return img, value, [(f"digit{value}", None, [x, y, x + side, y + side])]


def _targets(drawn, number=None) -> dict:
    """The records' vision targets: drawn objects as [name, colour, x1, y1, x2, y2]."""
    extras = {"objects": [[name, colour, *box] for name, colour, box in drawn]}
    if number is not None:
        extras["number"] = number
    return extras


def _borrowed(family: str, index: int, rng: random.Random):
    """A scene of a benchmark family's generator, in its in-domain or out-of-domain look."""
    look = "ood" if rng.random() < BORROWED_OOD_SHARE else "id"
    split = "ood" if look == "ood" else "train"
    module = family_module(family)
    # A family's own arguments for the mixture (maths: never a handwritten glyph of the test half).
    image, scene = module.make_scene(split, index, rng, **getattr(module, "GENERAL_SCENE_ARGS", {}))
    extras = {**_targets(scene["drawn"]), "look": look}
    return image, {**scene, "borrowed": family, "extras": extras}


def _render_own(rng: random.Random, objects: list[dict], look: str):
    """Draw own objects in one of the three looks (see LOOKS)."""
    if look == "flat":
        img = style.plain_background(rng)
    elif look == "varied":
        img = style.gradient_background(rng)
    else:
        img = style.textured_background(rng)
        style.add_marks(ImageDraw.Draw(img), rng)
    draw = ImageDraw.Draw(img)
    for obj in objects:
        shade = "ood" if look == "ood" or (look == "varied" and rng.random() < 0.5) else "id"
        ink = style.colour(rng, shade, obj["colour"])
        if look == "ood" and rng.random() < 0.5:
            draw_shape(draw, obj["shape"], obj["box"], outline=ink, width=rng.randint(2, 3))
        else:
            draw_shape(draw, obj["shape"], obj["box"], fill=ink)
    if look == "flat":
        return img
    return style.add_grain(img, rng, sigma=6.0 if look == "varied" else 12.0)


def make_scene(split: str, index: int, rng: random.Random):
    """One general scene: its image and one general question about it."""
    if is_borrowed(index):
        return _borrowed(BORROWED[borrowed_before(index) % len(BORROWED)], index, rng)
    # The own scenes before this one pick the kind.
    kind = KINDS[(index - borrowed_before(index)) % len(KINDS)]
    if kind == "read":
        if rng.random() < 0.5:
            value = rng.randint(0, 99)
            img, drawn = _printed_number(rng, value)
        else:
            img, value, drawn = _handwritten_digit(rng)
        scene = {"kind": kind, "question": "What number is written in the image?",
                 "answer": str(value), "value": value, "metric": "math_equiv",
                 "extras": _targets(drawn, value)}
        return img, scene
    objects = _objects(rng, 2 if kind == "locate" else 5)
    look = rng.choice(LOOKS)
    img = _render_own(rng, objects, look)
    scene = {"kind": kind, "objects": objects, **_question(kind, objects, rng),
             # Kept on the records: the base model's box warm-up picks its simple scenes by them.
             "extras": {"n_objects": len(objects), "look": look,
                        **_targets([(o["shape"], o["colour"], o["box"]) for o in objects])}}
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
