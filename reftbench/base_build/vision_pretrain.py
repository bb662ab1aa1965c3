"""Pretrain the embedded model's vision tower on dense perception targets, as real VLMs do.

A real VLM starts from a vision encoder that was trained on images first; the embedded model's
tower starts random, and next-token loss on a mixed question set teaches it to see only slowly
(a tiny tower reads shape lists at about 36% set-IoU after 34 minutes of it, but at 84% exact
set after 3 minutes of direct supervision). So `reftbench base` first trains the tower alone:
the merged image tokens (the ones the language model reads, a 4 x 4 grid at 112 px) feed a
small throwaway head that predicts, for every grid cell, whether an object's centre lies in it,
its class, its colour and its box, and for the whole image which classes appear, how many
objects there are and which number is written. The targets are the general mixture's own
drawn-object lists (tasks/general/generate.py); the head is dropped afterwards and only the
tower's weights go on.

    model_dir = pretrain_vision("random-tiny", general_records, work / "vision", steps=1500, lr=2e-3,
                                batch_size=64, seed=0)
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import torch
from torch import nn

from reftbench import fileio

# Object classes the targets name: flat shapes, 3D solids, handwritten digits.
CLASSES = ("circle", "square", "triangle", "diamond", "pentagon", "hexagon", "star", "sphere",
           "cube", "cylinder", *(f"digit{d}" for d in range(10)))
# Colour names; one more index means "no colour name" (outline inks, solids, digits).
COLOURS = ("red", "green", "blue", "yellow")
# Counts above this share the last class.
MAX_COUNT = 10
# A number's tens and units digit; index 10 = "no tens digit" (a one-digit number).
NO_DIGIT = 10


def patch_labels(objects: list, grid: int, side: int) -> torch.Tensor:
    """For each of the 2 x 2 patches under every merged token, the class of the object whose
    box holds the patch centre (the smallest one if several), else len(CLASSES) (background):
    a segmentation-like signal on every patch, far denser than one label per object."""
    patches = 2 * grid
    px = side / patches
    labels = torch.full((grid * grid, 4), len(CLASSES), dtype=torch.long)
    best = torch.full((grid * grid, 4), float("inf"))
    for name, _, x1, y1, x2, y2 in objects:
        area = (x2 - x1) * (y2 - y1)
        for row in range(patches):
            for col in range(patches):
                cx, cy = (col + 0.5) * px, (row + 0.5) * px
                if x1 <= cx <= x2 and y1 <= cy <= y2:
                    cell, sub = (row // 2) * grid + col // 2, (row % 2) * 2 + col % 2
                    if area < best[cell, sub]:
                        best[cell, sub] = area
                        labels[cell, sub] = CLASSES.index(name)
    return labels


def targets(record: dict, grid: int, side: int) -> dict:
    """Dense targets of one record's image, from its `objects` (and `number`) fields."""
    cell_px = side / grid
    obj = torch.zeros(grid * grid)
    cls = torch.full((grid * grid,), -100, dtype=torch.long)
    colour = torch.full((grid * grid,), -100, dtype=torch.long)
    box = torch.zeros(grid * grid, 4)
    present = torch.zeros(len(CLASSES))
    area = [0.0] * (grid * grid)
    objects = record.get("objects") or []
    for name, colour_name, x1, y1, x2, y2 in objects:
        k = CLASSES.index(name)
        present[k] = 1.0
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        cell = min(grid - 1, int(cy // cell_px)) * grid + min(grid - 1, int(cx // cell_px))
        size = (x2 - x1) * (y2 - y1)
        if size <= area[cell]:  # two centres in one cell (rare): the larger object wins
            continue
        area[cell] = size
        obj[cell] = 1.0
        cls[cell] = k
        colour[cell] = COLOURS.index(colour_name) if colour_name in COLOURS else len(COLOURS)
        box[cell] = torch.tensor([x1, y1, x2, y2], dtype=torch.float) / side
    number = record.get("number")
    tens = units = -100
    if number is not None:
        tens, units = (number // 10 if number >= 10 else NO_DIGIT), number % 10
    return {"obj": obj, "cls": cls, "colour": colour, "box": box, "present": present,
            "patch": patch_labels(objects, grid, side),
            "count": torch.tensor(min(len(objects), MAX_COUNT)),
            "tens": torch.tensor(tens), "units": torch.tensor(units)}


class DenseHead(nn.Module):
    """Per-cell and whole-image predictions from the merged image tokens (dropped after)."""

    def __init__(self, width: int):
        super().__init__()
        self.cell = nn.Sequential(nn.Linear(width, width), nn.GELU(),
                                  nn.Linear(width, 1 + len(CLASSES) + len(COLOURS) + 1 + 4
                                            + 4 * (len(CLASSES) + 1)))
        self.image = nn.Linear(width, len(CLASSES) + MAX_COUNT + 1 + 2 * (NO_DIGIT + 1))

    def forward(self, tokens: torch.Tensor) -> dict:
        """tokens: (batch, cells, width)."""
        cell = self.cell(tokens)
        n, c = len(CLASSES), len(COLOURS) + 1
        image = self.image(tokens.mean(1))
        d = NO_DIGIT + 1
        end = 1 + n + c + 4
        return {"obj": cell[..., 0], "cls": cell[..., 1:1 + n], "colour": cell[..., 1 + n:1 + n + c],
                "box": cell[..., 1 + n + c:end].sigmoid(),
                "patch": cell[..., end:].unflatten(-1, (4, n + 1)), "present": image[:, :n],
                "count": image[:, n:n + MAX_COUNT + 1],
                "tens": image[:, n + MAX_COUNT + 1:n + MAX_COUNT + 1 + d],
                "units": image[:, n + MAX_COUNT + 1 + d:]}


def dense_loss(pred: dict, gold: dict) -> tuple[torch.Tensor, dict]:
    """Sum of the heads' losses, and each one's value (for the log)."""
    f = nn.functional
    parts = {
        "obj": f.binary_cross_entropy_with_logits(pred["obj"], gold["obj"]),
        "cls": f.cross_entropy(pred["cls"].flatten(0, 1), gold["cls"].flatten()),
        "colour": f.cross_entropy(pred["colour"].flatten(0, 1), gold["colour"].flatten()),
        "present": f.binary_cross_entropy_with_logits(pred["present"], gold["present"]),
        "count": f.cross_entropy(pred["count"], gold["count"]),
        "patch": f.cross_entropy(pred["patch"].flatten(0, 2), gold["patch"].flatten()),
    }
    has_obj = gold["obj"] > 0
    parts["box"] = (5 * (pred["box"] - gold["box"]).abs()[has_obj].mean() if has_obj.any()
                    else pred["box"].sum() * 0)
    has_number = gold["tens"] >= 0
    parts["number"] = (f.cross_entropy(pred["tens"][has_number], gold["tens"][has_number])
                       + f.cross_entropy(pred["units"][has_number], gold["units"][has_number])
                       if has_number.any() else pred["tens"].sum() * 0)
    total = sum(parts.values())
    return total, {k: float(v.detach()) for k, v in parts.items()}


def _stack(rows: list[dict]) -> dict:
    return {k: torch.stack([r[k] for r in rows]) for k in rows[0]}


def image_tokens(visual, pixel_values, grid_thw) -> torch.Tensor:
    """Merged image tokens of a batch of same-size images: (batch, cells, width)."""
    merged = visual(pixel_values, grid_thw=grid_thw).pooler_output
    return merged.view(grid_thw.shape[0], -1, merged.shape[-1])


class Batches:
    """Shuffled batches of (pixel values, grid, targets), epoch after epoch, from a seed.

    Every image is decoded once into one uint8 tensor; a batch is normalised and cut into
    patches with torch (on `device`), exactly as the Qwen2-VL image processor does it
    (tests/test_vision_pretrain.py compares the two), so the processor's per-image Python
    loop does not bound the step time on a GPU.
    """

    def __init__(self, records: list[dict], processor, batch_size: int, seed: int,
                 device: str = "cpu"):
        import numpy as np

        from reftbench.data.generated import load_image

        self.records, self.batch_size, self.device = records, batch_size, device
        self.rng = random.Random(seed)
        self.order: list[int] = []
        ip = processor.image_processor
        self.patch, self.merge, self.temporal = ip.patch_size, ip.merge_size, ip.temporal_patch_size
        images = [np.asarray(load_image(r["image_path"])) for r in records]
        sizes = {im.shape for im in images}
        if len(sizes) != 1:
            raise ValueError(f"vision pretraining needs images of one size, got {sorted(sizes)}")
        self.pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
        self.side = self.pixels.shape[-1]
        step = self.patch * self.merge
        if self.pixels.shape[-2] % step or self.side % step:
            raise ValueError(f"image side must be a multiple of {step}")
        self.grid = self.side // step
        scale = torch.tensor(ip.image_std, dtype=torch.float32).view(1, 3, 1, 1)
        self.mean = torch.tensor(ip.image_mean, dtype=torch.float32).view(1, 3, 1, 1).to(device)
        self.std = scale.to(device)
        self.rescale = float(ip.rescale_factor)
        # Every record's targets, built once (Python loops per image would bound a GPU step).
        self.targets = _stack([targets(r, self.grid, self.side) for r in records])

    def encode(self, index: list[int]):
        """(pixel_values, image_grid_thw) of the images at `index`, as the processor gives."""
        images = self.pixels[index].to(self.device).float() * self.rescale
        images = (images - self.mean) / self.std
        n, c, h, w = images.shape
        p, m = self.patch, self.merge
        x = images.reshape(n, c, h // (p * m), m, p, w // (p * m), m, p)
        x = x.permute(0, 2, 5, 3, 6, 1, 4, 7)  # (n, gh, gw, mh, mw, C, ph, pw)
        x = x.unsqueeze(6).expand(*x.shape[:6], self.temporal, p, p)
        grid = torch.tensor([[1, h // p, w // p]] * n, device=self.device)
        return x.reshape(n * (h // p) * (w // p), c * self.temporal * p * p), grid

    def gold(self, index: list[int]) -> dict:
        return {k: v[index].to(self.device) for k, v in self.targets.items()}

    def next(self):
        if len(self.order) < self.batch_size:
            fresh = list(range(len(self.records)))
            self.rng.shuffle(fresh)
            self.order += fresh
        index = self.order[:self.batch_size]
        del self.order[:self.batch_size]
        pixels, grid = self.encode(index)
        return pixels, grid, self.gold(index)


@torch.no_grad()
def head_scores(visual, head, batches: "Batches", rows: int) -> dict:
    """How well the head reads `rows` held-out images: exact class set, count, number, and per
    object cell its class, colour and box (IoU > 0.5)."""
    from reftbench.scoring.metrics import iou

    hits: dict[str, list[float]] = {k: [] for k in ("set", "count", "number", "cls", "colour",
                                                     "box")}
    visual.eval()
    for start in range(0, rows, batches.batch_size):
        index = list(range(start, min(rows, start + batches.batch_size)))
        if not index:
            break
        pixels, grid = batches.encode(index)
        gold = batches.gold(index)
        pred = head(image_tokens(visual, pixels, grid))
        hits["set"] += ((pred["present"] > 0) == (gold["present"] > 0)).all(1).float().tolist()
        hits["count"] += (pred["count"].argmax(1) == gold["count"]).float().tolist()
        has_number = gold["tens"] >= 0
        hits["number"] += ((pred["tens"].argmax(1) == gold["tens"])
                           & (pred["units"].argmax(1) == gold["units"]))[has_number].float().tolist()
        cells = gold["obj"] > 0
        hits["cls"] += (pred["cls"].argmax(-1) == gold["cls"])[cells].float().tolist()
        named = cells & (gold["colour"] < len(COLOURS))
        hits["colour"] += (pred["colour"].argmax(-1) == gold["colour"])[named].float().tolist()
        hits["box"] += [float(iou(tuple(p), tuple(g)) > 0.5)
                        for p, g in zip(pred["box"][cells].tolist(), gold["box"][cells].tolist())]
    visual.train()
    return {k: round(sum(v) / len(v), 4) if v else None for k, v in hits.items()}


# The phase's resumable state inside its folder (written every `save_every` steps).
CHECKPOINT = "checkpoint.pt"


def checkpoint_step(out_dir: Path) -> int:
    """The step a killed phase in `out_dir` resumes after (0: none saved)."""
    path = Path(out_dir) / CHECKPOINT
    return int(torch.load(path, weights_only=True)["step"]) if path.exists() else 0


def pretrain_vision(start: str, records: list[dict], out_dir: Path, steps: int, lr: float,
                    batch_size: int, seed: int, progress=None, log=None,
                    held_out: list[dict] | None = None, eval_every: int = 0,
                    device: str | None = None, max_minutes: float = 0.0,
                    save_every: int = 0) -> Path:
    """Train `start`'s vision tower (with a throwaway head) on `records`' dense targets; save
    the whole model, with the trained tower, to `out_dir/model` and return that folder.

    With `save_every`, the tower, head, optimiser, schedule and batch order are saved every
    that many steps (out_dir/checkpoint.pt), and a run started again after a kill goes on from
    there: its weights end the same as an uninterrupted run's."""
    from reftbench.model.load import load_model

    torch.manual_seed(seed)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, processor = load_model(start)
    visual = model.model.visual.to(device).train()
    head = DenseHead(visual.merger.mlp[-1].out_features).to(device)
    params = [*visual.parameters(), *head.parameters()]
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # cosine to zero
        optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    batches = Batches(records, processor, batch_size, seed, device)
    parts = {"visual": visual, "head": head, "optimiser": optimiser, "schedule": schedule}
    done = _resume(Path(out_dir) / CHECKPOINT, parts, batches)
    task = progress.add_task("vision", total=steps, completed=done) if progress else None
    scoring = Batches(held_out, processor, 100, seed, device) if held_out else None
    import time

    began = time.monotonic()
    for step in range(done + 1, steps + 1):
        if max_minutes and time.monotonic() - began > 60 * max_minutes:
            if log:
                log({"stage": "vision", "step": step - 1, "stopped": "max_minutes"})
            break
        pixels, grid, gold = batches.next()
        loss, parts_loss = dense_loss(head(image_tokens(visual, pixels, grid)), gold)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        schedule.step()
        if log and (step % 25 == 0 or step == steps):
            log({"stage": "vision", "step": step, "loss": loss.item(), **parts_loss})
        if task is not None:
            progress.update(task, completed=step, description=f"vision loss={loss.item():.3g}")
        if scoring and log and (step == steps or eval_every and step % eval_every == 0
                                or max_minutes and time.monotonic() - began > 60 * max_minutes):
            scores = head_scores(visual, head, scoring, len(held_out))
            log({"stage": "vision", "step": step, "held_out": len(held_out),
                 **{f"heldout_{k}": v for k, v in scores.items()}})
        if save_every and step % save_every == 0 and step < steps:
            _save(Path(out_dir) / CHECKPOINT, step, parts, batches)
    model_dir = Path(out_dir) / "model"
    model.to("cpu")
    model.save_pretrained(model_dir, safe_serialization=True)
    processor.save_pretrained(model_dir)
    (Path(out_dir) / CHECKPOINT).unlink(missing_ok=True)
    fileio.follow_umask_tree(model_dir)  # safetensors writes the weights 0600
    return model_dir


def _save(path: Path, step: int, parts: dict, batches: Batches) -> None:
    """The phase's state after `step`, written whole or not at all."""
    import os

    state = {name: part.state_dict() for name, part in parts.items()}
    state.update(step=step, order=list(batches.order), rng=batches.rng.getstate(),
                 torch_rng=torch.get_rng_state())
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, tmp)
    os.replace(tmp, path)


def _resume(path: Path, parts: dict, batches: Batches) -> int:
    """Load a saved state into `parts` and `batches`; the step it was saved after (0: none)."""
    if not path.exists():
        return 0
    # Tensors, ints and the batch order's Python random state (a tuple of ints): all within
    # what torch's safe loader accepts, so a planted work folder cannot run code.
    state = torch.load(path, weights_only=True)
    for name, part in parts.items():
        part.load_state_dict(state[name])
    batches.order = list(state["order"])
    batches.rng.setstate(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])
