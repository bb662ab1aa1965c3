"""Classification: which shape categories appear in the image (multi-label).

In domain (train, id): 1-4 filled shapes of 1-3 distinct categories, random colours, a plain
background. Out of domain (ood), like COCO -> Pascal VOC: the same six categories as rimmed
stickers in an unfamiliar palette (dark or pastel, whichever stands out from the background,
with a rim of the other kind), on textured, grainy backgrounds. The look shifts, the shapes stay
perceivable: bare 2-3 px outlines were so hard for a tiny vision tower that even one trained on
them alone found the exact label set in 3% of scenes, so that column measured chance. The open
answer is the present labels, sorted and joined with ", " ("circle, star"); scoring is set-IoU.
"""

import random

from PIL import Image, ImageDraw, ImageStat

from tasks import style, tiers
from tasks.draw import SHAPES, draw_shape, place_boxes

# The fixed label space, alphabetical (the open answer lists labels in this order).
LABELS = ("circle", "diamond", "hexagon", "square", "star", "triangle")
assert set(LABELS) <= set(SHAPES)
SIDES = {"id": (24, 40), "ood": (24, 44)}
# Out-of-domain inks, colours the in-domain palette never uses: dark ones for light backgrounds
# and pastel ones for dark backgrounds (either on mid-tone ones); a shape's rim takes the other.
OOD_DARK = ((95, 45, 15), (70, 20, 110), (15, 75, 80), (35, 35, 35))
OOD_PASTEL = ((250, 195, 230), (190, 245, 245), (245, 245, 245), (250, 240, 165))
LABEL_LIST = ", ".join(LABELS)


def _render(rng: random.Random, objects: list[dict], domain: str) -> Image.Image:
    if domain == "id":
        img = style.plain_background(rng)
        draw = ImageDraw.Draw(img)
        for obj in objects:
            obj["colour"] = rng.choice(style.COLOURS)
            draw_shape(draw, obj["shape"], obj["box"], fill=style.colour(rng, "id", obj["colour"]))
        return img
    img = style.textured_background(rng)
    light = ImageStat.Stat(img.convert("L")).mean[0]
    draw = ImageDraw.Draw(img)
    for obj in objects:
        dark = light > 140 or (light >= 110 and rng.random() < 0.5)
        fill, rim = (OOD_DARK, OOD_PASTEL) if dark else (OOD_PASTEL, OOD_DARK)
        draw_shape(draw, obj["shape"], obj["box"], fill=style.jitter(rng, rng.choice(fill), 15),
                   outline=style.jitter(rng, rng.choice(rim), 15), width=2)
    return style.add_grain(img, rng, sigma=8.0)


def make_scene(split: str, index: int, rng: random.Random) -> tuple[Image.Image, dict]:
    """One scene: its objects, the sorted label set and the open question."""
    domain = style.domain_of(split)
    labels = sorted(rng.sample(LABELS, rng.randint(1, 3)))
    while True:
        # Every label at least once, then repeats, up to four objects.
        shapes = labels + [rng.choice(labels) for _ in range(rng.randint(0, 4 - len(labels)))]
        rng.shuffle(shapes)
        boxes = place_boxes(rng, [rng.randint(*SIDES[domain]) for _ in shapes])
        if boxes is not None:
            break
    objects = [{"shape": s, "box": b} for s, b in zip(shapes, boxes)]
    question = (f"Which shapes appear in the image? The possible shapes are {LABEL_LIST}. "
                "Answer with the names of all shapes present, in alphabetical order, "
                "separated by commas.")
    scene = {"index": index, "domain": domain, "objects": objects, "labels": labels,
             "question": question, "answer": ", ".join(labels), "extras": {"labels": labels}}
    image = _render(rng, objects, domain)
    # What is drawn, as (name, colour, box): the general mixture's vision targets (out of
    # domain the inks have no colour name).
    scene["drawn"] = [(o["shape"], o.get("colour"), o["box"]) for o in objects]
    return image, scene


def wrong_label_set(rng: random.Random, labels: list[str]) -> list[str]:
    """A plausible wrong answer: usually one label swapped, else one added or one dropped."""
    absent = [x for x in LABELS if x not in labels]
    roll = rng.random()
    if roll < 0.6:
        wrong = list(labels)
        wrong[rng.randrange(len(wrong))] = rng.choice(absent)
    elif roll < 0.8 or len(labels) == 1:
        wrong = labels + [rng.choice(absent)]
    else:
        wrong = list(labels)
        wrong.pop(rng.randrange(len(wrong)))
    return sorted(wrong)


def make_tiers(scene: dict, rng: random.Random) -> dict[str, dict]:
    """Judge, choice (select all that apply) and open versions of the scene's question."""
    labels = scene["labels"]
    yes = rng.random() < 0.5
    proposal = labels if yes else wrong_label_set(rng, labels)
    judge = tiers.judge_tier(
        f"Does the image contain exactly these shapes, and no others: {', '.join(proposal)}?", yes)
    # Five of the six categories: all present ones plus absent ones to fill, in random order.
    absent = [x for x in LABELS if x not in labels]
    options = labels + rng.sample(absent, 5 - len(labels))
    rng.shuffle(options)
    correct = [i for i, name in enumerate(options) if name in labels]
    choice = tiers.choice_tier("Which of these shapes appear in the image?", options, correct,
                               many=True)
    return {"judge": judge, "choice": choice,
            "open": tiers.open_tier(scene["question"], scene["answer"], "label_set_iou")}
