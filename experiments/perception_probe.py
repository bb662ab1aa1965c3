"""How much of a classification scene's label set a model's image tokens hold: a linear-probe
style read-out, no language model involved.

The merged image tokens a model's language model reads (frozen) feed a small fresh head (one
hidden layer over the 16 flattened tokens) trained to predict which of the six labels appear, on
freshly generated classification scenes (their own seed stream: no benchmark scene, train or
test). Held-out scenes then give the exact-set accuracy the tokens allow, split by how many
objects a scene holds and by the side of its smallest object. If this ceiling is low, the open
answers cannot beat it whatever the language model learns; if it is high, the read-out is the
limit.

    python experiments/perception_probe.py /tmp/rebuild/work_backup/vision/model /tmp/controlbase
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402

SIDE_BINS = ((0, 28), (28, 34), (34, 99))


def scenes(domain: str, n: int, folder: Path) -> list[dict]:
    """`n` classification scenes of `domain` from the probe's own seeds, saved as PNGs."""
    from tasks.classification.generate import make_scene

    split = "train" if domain == "id" else "ood"
    records = []
    for i in range(n):
        image, scene = make_scene(split, i, random.Random(f"perception-probe-{domain}-{i}"))
        path = folder / f"{domain}-{i:05d}.png"
        image.save(path)
        objects = [(name, colour, *box) for name, colour, box in scene["drawn"]]
        records.append({"image_path": str(path), "objects": objects, "labels": scene["labels"],
                        "smallest": min(b[2] - b[0] for _, _, b in scene["drawn"])})
    return records


def features(model_path: str, records: list[dict]):
    """(n, cells, width) merged image tokens of every record, from the model's frozen tower."""
    from reftbench.model.load import load_model
    from reftbench.base_build.vision_pretrain import Batches

    model, processor = load_model(model_path)
    return tokens(model.model.visual.eval(), Batches(records, processor, 100, 0),
                  range(len(records)))


def tokens(visual, batches, rows: range):
    """The merged image tokens of `rows` of `batches`, in chunks of 100, without gradients."""
    import torch

    from reftbench.base_build.vision_pretrain import image_tokens

    with torch.no_grad():
        return torch.cat([image_tokens(visual, *batches.encode(list(rows[i:i + 100])))
                          for i in range(0, len(rows), 100)])


def label_sets(records: list[dict]):
    """(n, 6) 0/1 matrix: which of the six labels each record's scene holds."""
    import torch

    from tasks.classification.generate import LABELS

    return torch.tensor([[float(x in r["labels"]) for x in LABELS] for r in records])


def fit_and_score(feats, records: list[dict], train: int, epochs: int, seed: int) -> dict:
    """Train the head on the first `train` records, score exact sets on the rest."""
    import torch
    from torch import nn

    from tasks.classification.generate import LABELS

    torch.manual_seed(seed)
    gold = label_sets(records)
    x = feats.flatten(1)
    x = (x - x[:train].mean(0)) / (x[:train].std(0) + 1e-6)
    head = nn.Sequential(nn.Linear(x.shape[1], 256), nn.GELU(), nn.Dropout(0.2),
                         nn.Linear(256, len(LABELS)))
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=0.05)
    for _ in range(epochs):
        for idx in torch.randperm(train).split(128):
            loss = nn.functional.binary_cross_entropy_with_logits(head(x[idx]), gold[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval()
    with torch.no_grad():
        right = ((head(x[train:]) > 0) == (gold[train:] > 0)).all(1).tolist()
    return breakdown(right, records[train:])


def train_tower(model_path: str, records: list[dict], train: int, epochs: int, seed: int) -> dict:
    """Train the model's tower and a fresh head end to end on the first `train` records (batch
    64, lr 2e-3 cosine, as the build's vision phase), score exact sets on the rest: what the
    tower can learn to see of these scenes when they are all it is taught."""
    import math

    import torch
    from torch import nn

    from reftbench.model.load import load_model
    from reftbench.base_build.vision_pretrain import CLASSES, Batches, image_tokens
    from tasks.classification.generate import LABELS

    torch.manual_seed(seed)
    columns = [CLASSES.index(x) for x in LABELS]
    model, processor = load_model(model_path)
    visual = model.model.visual.train()
    width = visual.merger.mlp[-1].out_features
    head = nn.Sequential(nn.LayerNorm(width), nn.Flatten(1), nn.Linear(16 * width, 256),
                         nn.GELU(), nn.Linear(256, len(LABELS)))
    params = [*visual.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=2e-3, weight_decay=0.01)
    steps = epochs * train // 64
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    batches = Batches(records[:train], processor, 64, seed)
    for _ in range(steps):
        pixels, grid, targets = batches.next()
        loss = nn.functional.binary_cross_entropy_with_logits(
            head(image_tokens(visual, pixels, grid)), targets["present"][:, columns])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        schedule.step()
    visual.eval()
    head.eval()
    with torch.no_grad():
        pred = head(tokens(visual, Batches(records, processor, 100, seed),
                           range(train, len(records))))
    right = ((pred > 0) == (label_sets(records[train:]) > 0)).all(1).tolist()
    return breakdown(right, records[train:])


def breakdown(right: list[bool], held: list[dict]) -> dict:
    """Exact-set accuracy, all and by objects in the scene and by its smallest object's side."""
    def share(keep) -> str:
        hits = [ok for ok, r in zip(right, held) if keep(r)]
        return f"{100 * sum(hits) / len(hits):.1f} ({len(hits)})" if hits else "-"

    out = {"all": share(lambda r: True)}
    for k in (1, 2, 3, 4):
        out[f"{k} obj"] = share(lambda r, k=k: len(r["objects"]) == k)
    for lo, hi in SIDE_BINS:
        out[f"smallest {lo}-{hi - 1}"] = share(lambda r, lo=lo, hi=hi: lo <= r["smallest"] < hi)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", help="model folders whose tower is read")
    parser.add_argument("--train", type=int, default=4000, help="scenes the head trains on")
    parser.add_argument("--held-out", type=int, default=1000, help="scenes it is scored on")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--domains", default="id,ood")
    parser.add_argument("--train-tower", action="store_true",
                        help="train each model's tower with the head (from its weights)")
    output_options(parser, notebook="classification-perception")
    args = parser.parse_args()
    rows, columns = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for domain in args.domains.split(","):
            records = scenes(domain, args.train + args.held_out, Path(tmp))
            for name in args.models:
                scores = (train_tower(name, records, args.train, args.epochs, 0)
                          if args.train_tower else
                          fit_and_score(features(name, records), records, args.train,
                                        args.epochs, 0))
                print(f"{name} {domain}: exact set {scores['all']}", flush=True)
                columns = columns or ["model", "domain", *scores]
                rows.append([name, domain, *scores.values()])
    how = ("the tower and a fresh head (16 tokens -> 256 -> 6) trained end to end"
           if args.train_tower else "a fresh head (16 tokens -> 256 -> 6) trained")
    report("Label sets the image tokens hold (classification)", columns, rows,
           notes=[f"{how} {args.epochs} epochs on "
                  f"{args.train} generated classification scenes per domain, scored on "
                  f"{args.held_out} more: exact-set accuracy %, (scenes) per cell; scenes from "
                  "the probe's own seeds, never a benchmark split"],
           append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
