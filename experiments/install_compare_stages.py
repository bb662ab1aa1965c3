"""Put comparison stages trained by experiments/text_compare_probe.py into a base build's work folder.

The base build's comparison phase (reftbench/base_build/compare_pretrain.py) trains the language model
alone on text, so it leaves the vision tower untouched and its result is the vision phase's
tower plus the trained language model. The probe runs the same loop from the same random
`random-tiny` language model (a 20-step run of both gives bit-identical weights); when the
probe has already made the stages, with the phase's own settings, this script assembles them
into `<work>/compare/stage<i>` instead of training them again (about 100 minutes here), after
checking that
  - every probe model's vision tower still equals the random preset's (text never reached it),
  - the vision phase left the language model as the preset made it (so both started alike),
and records the probe's log rows and where the stages came from. `reftbench base` with the
same settings then goes on from the finished phase.

    python experiments/install_compare_stages.py --stages /tmp/probes/num2000 /tmp/probes/all1000 \\
        --logs /tmp/probes/num2000.log /tmp/probes/all1000.log -- --compare_number_steps 2000 \\
        --compare_steps 1000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def is_visual(key: str) -> bool:
    return ".visual." in key or key.startswith("visual.")


def log_rows(log: Path, stage: int, kinds: list[str]) -> list[dict]:
    """The probe's printed rows ("step seconds loss judge choice") as the phase's log rows."""
    rows = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 5 and all(p.replace(".", "").isdigit() for p in parts):
            step, seconds, loss, judge, choice = parts
            rows.append({"stage": f"compare{stage}", "kinds": kinds, "step": int(step),
                         "seconds": int(seconds), "loss": float(loss),
                         "heldout_judge": float(judge), "heldout_choice": float(choice),
                         "from": str(log)})
    return rows


def main() -> None:
    from safetensors.torch import load_file, save_file

    from reftbench import fileio, provenance
    from reftbench.base_build.recipe import (BASE_PRESETS, COMPARE_SETTINGS, FORMS_SETTINGS, BaseConfig,
                                      fact_kinds)
    from reftbench.base_build.compare_pretrain import STAGE_LOG
    from reftbench.config import resolve
    from reftbench.model.names import resolve_model
    from reftbench.paths import models_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stages", nargs="+", required=True, help="probe --save folders")
    parser.add_argument("--logs", nargs="+", required=True, help="the probe's printed rows")
    parser.add_argument("overrides", nargs="*", help="reftbench base settings (after --)")
    args = parser.parse_args()
    cfg = resolve(BaseConfig, BASE_PRESETS, "tiny", overrides=args.overrides)
    work = models_dir() / f"base.work-{Path(cfg.model).name}"
    vision = work / "vision" / "model"
    if not (vision / "config.json").exists():
        sys.exit(f"no finished vision phase in {vision}: run reftbench base --stop_after vision")
    kinds = [k for k, steps in ((["number"], cfg.compare_number_steps),
                                (list(fact_kinds(cfg.compare_kinds)), cfg.compare_steps))
             if steps]
    if len(kinds) != len(args.stages) or len(args.logs) != len(args.stages):
        sys.exit(f"{len(kinds)} stages in the settings, {len(args.stages)} folders given")
    preset = load_file(str(Path(resolve_model(cfg.model)) / "model.safetensors"))
    tower = load_file(str(vision / "model.safetensors"))
    moved = [k for k in preset if not is_visual(k) and not (preset[k] == tower[k]).all()]
    if moved:
        sys.exit(f"the vision phase changed the language model ({moved[0]}...)")
    folder = work / "compare"
    folder.mkdir(exist_ok=True)
    rows = []
    for i, (stage, log) in enumerate(zip(args.stages, args.logs)):
        trained = load_file(str(Path(stage) / "model.safetensors"))
        touched = [k for k in trained if is_visual(k) and not (trained[k] == preset[k]).all()]
        if touched or set(trained) != set(tower):
            sys.exit(f"{stage}: not a text-only run from {cfg.model} ({touched[:1]})")
        merged = {k: (tower[k] if is_visual(k) else trained[k]) for k in trained}
        out = folder / f"stage{i}"
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(vision, out)  # its config, generation config and processor, as a load+save
        save_file(merged, str(out / "model.safetensors"), metadata={"format": "pt"})
        mine = log_rows(Path(log), i, kinds[i])
        # Where the phase keeps a stage's rows; the build writes the phase log from them.
        fileio.write_atomic(out / STAGE_LOG, fileio.dumps_jsonl(mine))
        rows += mine
    fileio.write_json(folder / "settings.json", {n: getattr(cfg, n) for n in COMPARE_SETTINGS})
    if cfg.compare_steps:
        fileio.write_json(folder / "forms.json", {n: getattr(cfg, n) for n in FORMS_SETTINGS})
    fileio.write_json(folder / "provenance.json", {
        "made_by": "experiments/text_compare_probe.py (same loop and settings), assembled by "
                   "experiments/install_compare_stages.py", "stages": args.stages,
        **provenance.describe()})
    print(json.dumps({"installed": str(folder), "stages": len(kinds), "rows": len(rows)}))


if __name__ == "__main__":
    main()
