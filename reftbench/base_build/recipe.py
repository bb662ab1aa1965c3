"""`reftbench base`: turn the `random-tiny` preset into the embedded base model.

The paper starts from Qwen2.5-VL-Instruct; reftbench's embedded default starts from a tiny
Qwen2.5-VL trained here, by supervised learning on the general mixture (tasks/general: scene
descriptions, counting, object boxes, reading numbers, all three tiers, in the answer format),
never on the benchmark's train or test splits. The phases, each optional and resumable: the
vision tower alone on dense targets (reftbench/base_build/vision_pretrain.py); the language model alone
on text-only comparison lines (reftbench/base_build/compare_pretrain.py), since the mixture alone never
teaches a tiny model to compare a stated fact with a proposal; then the box warm-up and the
mixture. Boxes come first among the questions: a box-only warm-up (`locate_steps`) on simple
scenes (`locate_objects`), because on the mixture alone a tiny model answers every box
question with one constant box. A copy ships in `reftbench/assets/base/`; a local build
(`<REFTBENCH_HOME>/models/base`) takes precedence. `--model base` (every trainer's default)
loads whichever `reftbench.model.names.find_base` returns.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from reftbench import fileio, paths, provenance
from reftbench.config import above, at_least, check_bounds
from reftbench.errors import UserError
from reftbench.model.names import base_dir, resolve_model
from reftbench.training.config import RunFields, SFTBudget, SFTFields, validate


@dataclass
class BaseConfig(RunFields, SFTBudget, SFTFields):
    """How the base model is trained (RunFields/SFTFields comments apply)."""

    # Scenes in the general mixture's train split (each gives three tier records).
    n_general: int = 8000
    # How many times each open-tier box question (the answer is a box) appears in the mixture.
    # Boxes are what a tiny model learns slowest (tasks/general/generate.py), and judge/choice
    # records teach no coordinates, so the open ones are oversampled; 1 means no repeat.
    box_repeat: int = 1
    # The same for open-tier label-list questions (name every shape, or every object as colour
    # and shape): about 6% of the mixture otherwise, too little for a tiny model to learn to
    # name shapes (it answers the commonest list, experiments/skill_probe.py); 1 means no repeat.
    label_repeat: int = 1
    # The same for open-tier number questions (counting, reading numbers): with labels
    # oversampled, a tiny model's number answers fall back to the commonest one.
    math_repeat: int = 1
    # Steps of a box-only warm-up before the mixture: the mixture's open-tier box questions
    # alone, at sft_lr and sft_batch_size. A tiny model trained on a mix answers one constant
    # box; on boxes alone it starts to localise after a few hundred steps (0 = no warm-up).
    locate_steps: int = 0
    # Which box questions the warm-up uses: 0 = every open box question of the mixture; N > 0 =
    # only the mixture's own flat-background scenes with at most N objects. Simple scenes first:
    # a tiny model localises single objects on a flat background hundreds of steps before it
    # localises objects named among several, or on a varied background.
    locate_objects: int = 0
    # Scenes of the general train split the warm-up picks its questions from (0: the mixture's
    # n_general). Simple scenes are a small share of the mixture (about 1 in 16), so a larger
    # pool keeps the warm-up from repeating a few thousand scenes; scene i is the same in
    # every pool, so the mixture's scenes are the first n_general of it.
    locate_scenes: int = 0
    # Steps of vision-tower pretraining before anything else (reftbench/base_build/vision_pretrain.py):
    # the tower alone, with a throwaway head, on the mixture's dense object targets (which
    # objects, where, what colour, how many, which number), as real VLMs start from a trained
    # vision encoder; 0 = none.
    vision_steps: int = 0
    # Learning rate and batch size of the vision pretraining (cosine, AdamW).
    vision_lr: float = 2e-3
    vision_batch_size: int = 64
    # Scenes of the general train split the vision pretraining reads (0: the mixture's
    # n_general); images only, a larger pool than the mixture's keeps the tower from
    # memorising (scene i is the same in every pool).
    vision_scenes: int = 0
    # Steps of text-only comparison training of the language model after the vision phase
    # (reftbench/base_build/compare_pretrain.py): dense synthetic lines that each compare a stated fact
    # with a proposal or find it among options, in the families' fact forms. The mixture alone
    # leaves a tiny model at chance on the judge and choice tiers even when the fact is handed
    # to it. First `compare_number_steps` on number facts alone (the comparison appears there
    # first, after about 1,750 steps), then `compare_steps` on the forms of `compare_kinds`
    # (boxes, numbers, shape lists); 0 and 0 = no comparison phase.
    compare_number_steps: int = 0
    compare_steps: int = 0
    # The fact forms, comma-separated, of the second comparison stage (`compare_steps`) and
    # of the line rehearsal (`compare_rehearsal`): some of box, number, shapes. (Leaving out
    # shape lists does not spare classification's open answers:
    # results/notebook/comparison-builds.md.)
    compare_kinds: str = "box,number,shapes"
    # Learning rate of the comparison phase (AdamW, 5% warm-up, then constant).
    compare_lr: float = 3e-4
    # Sequences per step, and comparison lines per sequence, in the comparison phase.
    compare_sequences: int = 16
    compare_lines: int = 10
    # Rehearsal of the comparison during the box warm-up and the mixture
    # (reftbench/base_build/compare_rehearsal.py): each step also trains on this many sequences of
    # `compare_lines` comparison lines, text only, so the later phases do not erase what the
    # comparison phase taught; 0 = none.
    compare_rehearsal: int = 0
    # Chat-form rehearsal in the same phases (reftbench/base_build/compare_rehearsal.py): each step also
    # trains on this many of the mixture's own judge and choice questions, text only, answered
    # after the gold fact with the loss on the verdict alone, so the comparison is used in the
    # tasks' own prompt and answer format; 0 = none.
    compare_chat: int = 0
    # Stop after this phase ("vision", "compare" or "locate"), keeping the work folder, so a
    # later `reftbench base` (same settings) goes on from there, on another machine if need
    # be (e.g. the vision phase on a GPU); "" = build the whole model.
    stop_after: str = ""


def open_questions(samples: list[dict], metric: str) -> list[dict]:
    """The open-tier questions scored by `metric`."""
    return [s for s in samples if s["tier"] == "open" and s["metric"] == metric]


def box_questions(samples: list[dict], most_objects: int = 0) -> list[dict]:
    """The open-tier questions whose answer is a box; with `most_objects` > 0, only those
    of flat-background scenes with at most that many objects."""
    boxes = open_questions(samples, "box_iou")
    if most_objects:
        boxes = [s for s in boxes if s.get("look") == "flat"
                 and 0 < s.get("n_objects", 0) <= most_objects]
    return boxes


def base_mixture(samples: list[dict], box_repeat: int, label_repeat: int = 1,
                 math_repeat: int = 1) -> list[dict]:
    """The general samples, with every open-tier question whose answer is a box, a label list
    or a number appearing box_repeat, label_repeat or math_repeat times in all."""
    mixed = list(samples)
    for metric, times in (("box_iou", box_repeat), ("label_set_iou", label_repeat),
                          ("math_equiv", math_repeat)):
        mixed += open_questions(samples, metric) * (times - 1)
    return mixed


# The CPU default, in three phases: 6,000 steps of 64 pretraining the vision tower alone on
# the dense object targets of the mixture's 24,000 scenes (about 27 min here), 400 box-only
# steps of 32 on flat single-object scenes (from a pool of 96,000), then 1,400 steps of 32 on
# the mixture with the vision encoder frozen and its open box questions repeated 4x, label
# lists 6x and numbers 3x. Measured times are in the README.
BASE_PRESETS = {
    "tiny": {"model": "random-tiny", "vision_steps": 6000, "vision_lr": 2e-3,
             "vision_batch_size": 64, "freeze_vision": True, "locate_steps": 400,
             "locate_objects": 1, "locate_scenes": 96000, "sft_steps": 1400, "sft_lr": 1e-3,
             "lr_scheduler": "cosine", "sft_batch_size": 32, "n_general": 24000,
             "box_repeat": 4, "label_repeat": 6, "math_repeat": 3, "save_steps": 100,
             "logging_steps": 25, "evaluate": False},
    # SmolLM2-135M under a random vision tower (reftbench/model/smol.py). Nothing is frozen:
    # the base command has no per-module freezing, and the mixture's answers are in the
    # <think>/<answer> format that the language model has to learn anyway. One learning rate
    # serves both halves: 1e-4 is high for a pretrained LM (so the schedule decays it) and low
    # for a random tower (so it runs for about one epoch, 800 scenes x 3 tiers / batch 8).
    # Sized for the CPU: a forward+backward of 8 examples takes about 20 s on one loaded core,
    # so 300 steps are one to two hours; checkpoints are 1.7 GB (weights + Adam), hence rare.
    "smol": {"model": "smol", "sft_steps": 300, "sft_lr": 1e-4, "lr_scheduler": "cosine",
             "sft_batch_size": 8, "n_general": 800, "save_steps": 50, "logging_steps": 5,
             "evaluate": False},
}


# What a finished box warm-up depends on, and what the mixture's checkpoints depend on: an
# interrupted build reuses either only if its settings are the same as when it started.
VISION_SETTINGS = ("model", "seed", "data_seed", "n_general", "vision_steps", "vision_lr",
                   "vision_batch_size", "vision_scenes")
COMPARE_SETTINGS = VISION_SETTINGS + ("compare_number_steps", "compare_lr", "compare_sequences",
                                       "compare_lines")
# What the comparison phase's stage of every form depends on besides COMPARE_SETTINGS: changing
# these retrains that stage alone, reusing the numbers stage before it.
FORMS_SETTINGS = ("compare_steps", "compare_kinds")
# Phases `stop_after` may name.
PHASES = ("vision", "compare", "locate")
WARM_UP_SETTINGS = COMPARE_SETTINGS + FORMS_SETTINGS + (
    "compare_rehearsal", "compare_chat", "sft_lr", "sft_batch_size", "lr_scheduler",
    "locate_steps", "locate_objects", "locate_scenes", "freeze_vision")
MIXTURE_SETTINGS = WARM_UP_SETTINGS + ("n_general", "box_repeat", "label_repeat", "math_repeat",
                                       "sft_steps")


def _fresh_unless_same(cfg: BaseConfig, folder: Path, names: tuple[str, ...], parts,
                       record: str = "settings.json") -> None:
    """Delete `parts` of `folder` (earlier work) unless it was started with the same settings
    `names` (as `folder/record` says); then record the settings it goes on with."""
    wanted = {name: getattr(cfg, name) for name in names}
    recorded = folder / record
    if not recorded.exists() or json.loads(recorded.read_text()) != wanted:
        for part in parts:
            target = folder / part
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    fileio.write_json(recorded, wanted)


def _check_apart(general: list[dict], seed: int, n_test: int | None = None) -> None:
    """No image the base model trains on may be a test image (reftbench/training/overlap.py);
    the test splits are checked at their default size (scene i is the same in any smaller one)."""
    from reftbench.data.generated import load_split
    from reftbench.samples import FAMILIES, TEST_SPLITS
    from reftbench.training.overlap import check_images_apart

    scenes = [s for s in general if s["tier"] == "open"]  # one record per image
    check_images_apart(scenes, [s for f in FAMILIES for split in TEST_SPLITS
                                for s in load_split(f, split, n=n_test, seed=seed,
                                                    tiers=("open",))])


def _vision_phase(cfg: BaseConfig, work: Path, samples: list[dict], progress) -> Path:
    """Pretrain the vision tower (once: a finished phase with the same settings is reused)."""
    from reftbench.data.generated import load_split
    from reftbench.base_build.vision_pretrain import pretrain_vision

    from reftbench.base_build.vision_pretrain import CHECKPOINT, checkpoint_step

    folder = work / "vision"
    _fresh_unless_same(cfg, folder, VISION_SETTINGS, ("model", "metrics.jsonl", CHECKPOINT))
    if (folder / "model" / "config.json").exists():
        return folder / "model"
    if cfg.vision_scenes:
        samples = load_split("general", "train", n=cfg.vision_scenes, seed=cfg.data_seed,
                             tiers=("open",))
        _check_apart(samples, cfg.data_seed, cfg.n_test)
    scenes = [s for s in samples if s["tier"] == "open"]  # one record per image
    held_out = load_split("general", "id", n=500, seed=cfg.data_seed, tiers=("open",))
    log = folder / "metrics.jsonl"
    # A killed phase goes on from its checkpoint: its log keeps the rows up to it.
    saved = checkpoint_step(folder)
    fileio.write_atomic(log, fileio.dumps_jsonl([row for row in fileio.read_jsonl(log)
                                                 if saved and row.get("step", 0) <= saved]))
    model = pretrain_vision(cfg.model, scenes, folder, cfg.vision_steps, cfg.vision_lr,
                            cfg.vision_batch_size, cfg.seed, progress,
                            log=lambda row: fileio.append_jsonl(log, [row]), held_out=held_out,
                            eval_every=max(1, cfg.vision_steps // 8),
                            max_minutes=cfg.max_minutes, save_every=cfg.save_steps)
    # Where this phase ran (it may be another machine than the rest of the build).
    fileio.write_json(folder / "provenance.json", provenance.describe())
    return model


def _compare_phase(cfg: BaseConfig, work: Path, start, progress) -> Path:
    """Train the language model to compare (once: finished stages with the same settings are
    reused)."""
    from reftbench.base_build.compare_pretrain import pretrain_compare

    folder = work / "compare"
    _fresh_unless_same(cfg, folder, COMPARE_SETTINGS, ("stage0", "stage1", "metrics.jsonl"))
    stages = [(kinds, steps) for kinds, steps in ((("number",), cfg.compare_number_steps),
                                                   (fact_kinds(cfg.compare_kinds),
                                                    cfg.compare_steps)) if steps]
    if cfg.compare_steps:  # the stage of every form is the last
        _fresh_unless_same(cfg, folder, FORMS_SETTINGS, (f"stage{len(stages) - 1}",),
                           record="forms.json")
    return pretrain_compare(start, folder, stages, cfg.compare_lr, cfg.compare_sequences,
                            cfg.compare_lines, cfg.seed, progress)


def fact_kinds(text: str) -> tuple[str, ...]:
    """`--compare_kinds` as fact forms in compare_lines.KINDS' order, so "number,box" and
    "box,number" draw the same lines; a one-line error if it names none, an unknown one, or
    one twice."""
    from reftbench.base_build.compare_lines import KINDS

    named = [k.strip() for k in text.split(",") if k.strip()]
    if not named or len(set(named)) != len(named) or set(named) - set(KINDS):
        raise UserError(f"--compare_kinds must name some of {', '.join(KINDS)}, each once "
                        f"(got {text!r})")
    return tuple(k for k in KINDS if k in named)


def _locate_phase(cfg: BaseConfig, work: Path, samples: list[dict], start, progress):
    """The box-only warm-up (once: a finished one with the same settings is reused)."""
    from reftbench.data.generated import load_split
    from reftbench.training.datasets import sft_dataset
    from reftbench.training.sft_stage import run_sft

    warm = work / "locate"
    _fresh_unless_same(cfg, warm, WARM_UP_SETTINGS, ("trainer", "model", "metrics.jsonl"))
    if (warm / "model" / "config.json").exists():
        return warm / "model"
    pool = (load_split("general", "train", n=cfg.locate_scenes, seed=cfg.data_seed)
            if cfg.locate_scenes else samples)
    boxes = box_questions(pool, cfg.locate_objects)
    _check_apart(boxes, cfg.data_seed, cfg.n_test)
    if not boxes:
        raise UserError(f"--locate_steps {cfg.locate_steps}: the general train split of "
                        f"{cfg.locate_scenes or cfg.n_general} scenes has no open box questions"
                        + (f" with at most {cfg.locate_objects} objects on a flat background"
                           if cfg.locate_objects else ""))
    boxes = sft_dataset(boxes).shuffle(seed=cfg.seed)
    return run_sft(cfg, str(start), boxes, warm, cfg.locate_steps, cfg.sft_lr,
                   cfg.sft_batch_size, "locate", progress, _sft_trainer(cfg, samples))


def _sft_trainer(cfg: BaseConfig, samples: list[dict]):
    """The warm-up's and the mixture's trainer: TRL's SFTTrainer, rehearsing the comparison
    (as lines, or on the judge and choice questions of `samples`) when `compare_rehearsal` or
    `compare_chat` is on (reftbench/base_build/compare_rehearsal.py)."""
    from trl import SFTTrainer

    if not (cfg.compare_rehearsal or cfg.compare_chat):
        return SFTTrainer
    from reftbench.base_build.compare_rehearsal import with_rehearsal

    chat_rows = [s for s in samples if s["tier"] in ("judge", "choice")]
    return with_rehearsal(SFTTrainer, cfg.seed, cfg.compare_rehearsal, cfg.compare_lines,
                          chat_rows, cfg.compare_chat, fact_kinds(cfg.compare_kinds))


# Ranges of the fields BaseConfig adds (its RunFields and SFTFields are checked against the
# trainers' BOUNDS, reftbench/training/config.py).
BASE_BOUNDS = {"n_general": at_least(1), "locate_scenes": at_least(0),
               "vision_lr": above(0), "vision_batch_size": at_least(1),
               "vision_scenes": at_least(0), "compare_lr": above(0)}


def check_base(cfg: BaseConfig) -> BaseConfig:
    """Every setting checked before any work, as `train` checks its own; the config with one
    spelling of `compare_kinds`, so the resume keys do not depend on the order given."""
    from reftbench.distributed import check_launcher

    check_launcher()
    for name in ("box_repeat", "label_repeat", "math_repeat", "compare_sequences",
                 "compare_lines"):
        if getattr(cfg, name) < 1:
            raise UserError(f"--{name} must be at least 1 (got {getattr(cfg, name)})")
    if cfg.stop_after not in ("", *PHASES):
        raise UserError(f"--stop_after must be one of {', '.join(PHASES)} (got {cfg.stop_after!r})")
    skipped = {"vision": not cfg.vision_steps, "locate": not cfg.locate_steps,
               "compare": not (cfg.compare_number_steps or cfg.compare_steps)}
    if skipped.get(cfg.stop_after):
        raise UserError(f"--stop_after {cfg.stop_after}: that phase is off (its steps are 0)")
    for name in ("locate_steps", "locate_objects", "locate_scenes", "vision_steps",
                 "vision_scenes", "compare_number_steps", "compare_steps", "compare_rehearsal",
                 "compare_chat"):
        if getattr(cfg, name) < 0:
            raise UserError(f"--{name} must be 0 or more (got {getattr(cfg, name)})")
    validate(cfg)
    check_bounds(cfg, BASE_BOUNDS)
    resolve_model(cfg.model, build=False)
    return replace(cfg, compare_kinds=",".join(fact_kinds(cfg.compare_kinds)))


def check_target(target: Path) -> None:
    """The install folder must be new, empty, or a model `reftbench base` built there: the
    install replaces it whole, so anything else in it would be deleted."""
    fileio.check_writable_dir(target)
    if not target.is_dir() or not any(target.iterdir()):
        return
    try:
        built = json.loads((target / "reftbench_run.json").read_text()).get("built_by")
    except (OSError, ValueError, AttributeError):
        built = None
    if built != "reftbench base":
        raise UserError(f"--output {target} is not empty and holds no model built by reftbench "
                        "base, and installing replaces the folder; pass an empty or new folder")


def build_base(cfg: BaseConfig, progress=None, resume: bool = True,
               target: Path | None = None) -> Path:
    """Train the base model (resuming an interrupted build) and install it atomically
    into `target` (default: the local cache, which then takes precedence over the shipped one).

    One build per starting model at a time: the work folder is locked (reftbench.runlock), so
    a second build, `--fresh` or not, stops instead of sharing or wiping the first one's work.
    """
    from reftbench.runlock import LOCK_NAME, hold

    cfg = check_base(cfg)
    target = Path(target or base_dir())
    check_target(target)
    # One work folder per starting model, so building two presets' bases never mixes them.
    work = paths.make_cache_dir(paths.models_dir()) / f"base.work-{Path(cfg.model).name}"
    with hold(work, "base build"):
        if not resume:  # everything but the lock just taken
            for part in work.iterdir():
                if part.name != LOCK_NAME:
                    shutil.rmtree(part) if part.is_dir() else part.unlink()
        return _build(cfg, work, progress, target)


def _build(cfg: BaseConfig, work: Path, progress, target: Path) -> Path:
    """The phases, then the install (build_base's work, under its lock)."""
    from reftbench.data.generated import load_split
    from reftbench.training.datasets import sft_dataset
    from reftbench.training.sft_stage import run_sft

    samples = load_split("general", "train", n=cfg.n_general, seed=cfg.data_seed)
    _check_apart(samples, cfg.data_seed, cfg.n_test)
    # Earlier work in `work` is kept only where it was made with the same settings.
    _fresh_unless_same(cfg, work, MIXTURE_SETTINGS, ("trainer", "model", "metrics.jsonl"))
    start = cfg.model
    if cfg.vision_steps:
        start = _vision_phase(cfg, work, samples, progress)
    if cfg.stop_after == "vision":
        return work / "vision"
    if cfg.compare_number_steps or cfg.compare_steps:
        start = _compare_phase(cfg, work, start, progress)
    if cfg.stop_after == "compare":
        return work / "compare"
    if cfg.locate_steps:
        start = _locate_phase(cfg, work, samples, start, progress)
    if cfg.stop_after == "locate":
        return work / "locate"
    data = sft_dataset(base_mixture(samples, cfg.box_repeat, cfg.label_repeat,
                                     cfg.math_repeat)).shuffle(seed=cfg.seed)
    model = run_sft(cfg, str(start), data, work, cfg.sft_steps, cfg.sft_lr, cfg.sft_batch_size,
                    "base", progress, _sft_trainer(cfg, samples))
    fileio.write_json(model / "reftbench_run.json", {"built_by": "reftbench base",
                                                     "config": asdict(cfg),
                                                     "provenance": provenance.describe()})
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    model.rename(target)
    for log, name in ((work / "metrics.jsonl", "metrics.jsonl"),
                      (work / "locate" / "metrics.jsonl", "locate_metrics.jsonl"),
                      (work / "vision" / "metrics.jsonl", "vision_metrics.jsonl"),
                      (work / "compare" / "metrics.jsonl", "compare_metrics.jsonl"),
                      (work / "compare" / "provenance.json", "compare_provenance.json"),
                      (work / "vision" / "provenance.json", "vision_provenance.json")):
        if log.exists():
            shutil.copy(log, target / name)
    shutil.rmtree(work, ignore_errors=True)
    return target
