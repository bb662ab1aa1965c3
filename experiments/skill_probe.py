"""How fast the embedded model learns one skill of the general mixture when trained on it alone.

    python experiments/skill_probe.py --metric label_set_iou --steps 500 [--start random-tiny]
                                [--image-side 224] [--limit 500] [--scenes 96000] [--device cuda]
                                [--no-append]

Trains `start` (a preset, 'base' or a folder) with the base model's settings (batch 32, lr 1e-3,
cosine) on the open-tier questions of one metric of the general mixture (box_iou: boxes,
label_set_iou: label lists, math_equiv: numbers), drawn from the same 96,000-scene pool as the
base's box warm-up, never the benchmark's splits; then scores the result on every benchmark
family's open tier, in and out of domain (`limit` questions each). `--image-side S` first
upscales every image to S x S pixels (the processor's min_pixels), so a 112-px image gives
(S/28)^2 image tokens instead of 16. Adds the table to results/notebook/skill-probe.md
(`--no-append` only prints). The first question it answers: is a skill slow because of the
mixture or of the model?
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402

METRICS = ("box_iou", "label_set_iou", "math_equiv")


def start_copy(start: str, image_side: int, folder: Path) -> str:
    """`start`, or a copy of it whose processor upscales every image to image_side^2 pixels."""
    if not image_side:
        return start
    from reftbench import fileio
    from reftbench.model.load import load_model

    if image_side % 28:
        sys.exit(f"error: --image-side {image_side} must be a multiple of 28 (patch 14 x merge 2)")
    model, processor = load_model(start)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    # Qwen2-VL's processor resizes every image to between shortest_edge and longest_edge pixels
    # (areas, despite the names), in multiples of 28: a floor of side^2 upscales a 112-px image.
    config = json.loads((folder / "processor_config.json").read_text())
    size = config["image_processor"]["size"]
    area = image_side * image_side
    size.update(shortest_edge=area, longest_edge=max(area, size["longest_edge"]))
    fileio.write_json(folder / "processor_config.json", config)
    marker = Path(start) / "reftbench.json"
    if marker.exists():
        shutil.copy(marker, folder / "reftbench.json")
    fileio.write_json(folder / "probe.json", {"start": start, "image_side": image_side})
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metric", choices=METRICS, required=True)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--start", default="random-tiny", help="preset, 'base' or a model folder")
    parser.add_argument("--image-side", type=int, default=0, help="upscale images to this side")
    parser.add_argument("--scenes", type=int, default=96000, help="general train scenes to draw from")
    parser.add_argument("--limit", type=int, default=500, help="test questions per family and split")
    parser.add_argument("--n-test", type=int, default=None,
                        help="scenes per generated test split (default: the standard 1000)")
    parser.add_argument("--device", default=None,
                        help="evaluation device (default: cuda when visible, else cpu; training "
                             "takes the GPU on its own)")
    output_options(parser, notebook="skill-probe")
    args = parser.parse_args()
    if args.steps < 1 or args.limit < 1:
        sys.exit("error: --steps and --limit must be at least 1")

    from reftbench.base_build.recipe import BASE_PRESETS, BaseConfig
    from reftbench.data.generated import load_split
    from reftbench.evaluation.evaluate import EvalConfig, evaluate
    from reftbench.training.datasets import sft_dataset
    from reftbench.training.sft_stage import run_sft

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    start = resolve_model(args.start)
    with tempfile.TemporaryDirectory(prefix="skill-probe-") as tmp:
        work = Path(tmp)
        model = start_copy(start, args.image_side, work / "start")
        pool = load_split("general", "train", n=args.scenes, seed=0)
        questions = [s for s in pool if s["tier"] == "open" and s["metric"] == args.metric]
        cfg = BaseConfig(**{**BASE_PRESETS["tiny"], "model": model, "save_steps": args.steps})
        began = time.perf_counter()
        trained = run_sft(cfg, model, sft_dataset(questions).shuffle(seed=cfg.seed),
                          work / "train", args.steps, cfg.sft_lr, cfg.sft_batch_size, "probe")
        seconds = time.perf_counter() - began
        results = evaluate(EvalConfig(model=str(trained), limit=args.limit, n_test=args.n_test,
                                      run_id="probe", device=device),
                           results_dir=work / "results")
    scores = results["metrics"]
    row = [args.metric, args.start, args.image_side or "as made", args.steps, len(questions),
           round(seconds), device]
    columns = ["trained on", "start", "image side", "steps", "questions", "train s", "device"]
    for family in ("detection", "classification", "math"):
        for split in ("id", "ood"):
            columns.append(f"{family} {split}")
            row.append(round(100 * scores[f"{family}/{split}/open"]["accuracy"], 1))
    report("Skill probe: one general-mixture skill trained alone", columns, [row],
           notes=[f"open-tier strict accuracy (%) on {args.limit} test questions per family "
                  "and split; the base model's settings (batch 32, lr 1e-3, cosine)"],
           append=not args.no_append,
           notebook=args.notebook)


if __name__ == "__main__":
    main()
