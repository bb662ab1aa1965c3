"""Seconds per GRPO optimiser step: reftbench's curr-rl stage against a plain TRL GRPOTrainer.

    python bench/grpo_step.py [--model random-tiny] [--steps 20] [--warmup 3] [--prompts 4]
                              [--generations 8] [--max-tokens 40] [--tier open] [--no-append]

Both runs train the same model on the same dataset rows (the tier's training samples, seed 0),
with the same batch (prompts x G), group size, completion length, learning rate and beta 0, in
one process, one after the other. reftbench's run is one stage of the curr-rl plan
(trainers/curr_rl.py -> reftbench.training.grpo_stage.run_grpo: its callbacks, checkpoints every
`save_steps`, strict reward functions); the plain one is the few lines a TRL user would write,
with one reward function calling the same scorer and no checkpoints.

Each step is split by timers wrapped around GRPOTrainer's methods: generation (`_generate`:
prompt templating, tokenising, `model.generate`, decoding), rewards (`_calculate_rewards`), the
rest of the rollout (re-processing prompts and images for the policy forward, advantages),
forward (`compute_loss`), backward (the rest of `training_step`), the optimizer step (between
the trainer's pre/post optimizer-step callbacks), checkpoints (`_save_checkpoint`) and the
remainder (data loading, logging, callbacks). Figures are means over `steps` after `warmup`.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Phases, output_options, report  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402

PARTS = ["generation", "rewards", "rollout other", "forward", "backward", "optimizer",
         "checkpoint", "other"]


class StepClock:
    """Per-step phase seconds, cut at each optimiser step's end (patched into TRL's classes)."""

    def __init__(self):
        from transformers.trainer import Trainer
        from transformers.trainer_callback import CallbackHandler
        from trl import GRPOTrainer

        self.phases, self.steps, self.last = Phases(), [], None
        for attr, name in (("_generate", "generation"), ("_calculate_rewards", "rewards"),
                           ("_generate_and_score_completions", "rollout"),
                           ("compute_loss", "forward"), ("training_step", "train_step"),
                           ("_save_checkpoint", "checkpoint")):
            self.phases.wrap(GRPOTrainer if hasattr(GRPOTrainer, attr) else Trainer, attr, name)
        self._patch(CallbackHandler, "on_train_begin", self._begin)
        self._patch(CallbackHandler, "on_pre_optimizer_step", self._pre_opt)
        self._patch(CallbackHandler, "on_optimizer_step", self._post_opt)
        self._patch(CallbackHandler, "on_step_end", self._end)

    def _patch(self, cls, attr, hook):
        original = getattr(cls, attr)

        def patched(handler, *args, **kwargs):
            hook()
            return original(handler, *args, **kwargs)

        setattr(cls, attr, patched)
        self.phases._undo.append((cls, attr, original))

    def _begin(self):
        self.phases.take()
        self.last = time.perf_counter()

    def _pre_opt(self):
        self.opt_start = time.perf_counter()

    def _post_opt(self):
        self.phases.seconds["optimizer"] += time.perf_counter() - self.opt_start

    def _end(self):
        now = time.perf_counter()
        p = self.phases.take()
        step = {"wall": now - self.last, "generation": p.get("generation", 0.0),
                "rewards": p.get("rewards", 0.0), "forward": p.get("forward", 0.0),
                "optimizer": p.get("optimizer", 0.0), "checkpoint": p.get("checkpoint", 0.0)}
        step["rollout other"] = p.get("rollout", 0.0) - step["generation"] - step["rewards"]
        step["backward"] = p.get("train_step", 0.0) - p.get("rollout", 0.0) - step["forward"]
        step["other"] = step["wall"] - sum(step[k] for k in PARTS if k != "other")
        self.steps.append(step)
        self.last = now

    def run(self, fn) -> list[dict]:
        """The per-step records of one training run."""
        self.steps = []
        fn()
        return self.steps


def reftbench_run(cfg, model: str, out: Path):
    from trainers.curr_rl import curriculum_stages

    (stage,) = curriculum_stages(cfg)
    stage.run(model, out / "stages" / stage.name, None)


def plain_run(cfg, model: str, samples: list[dict], out: Path):
    """What a TRL user would write: the dataset rows, one reward function, GRPOConfig."""
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from reftbench.model.load import load_model
    from reftbench.scoring.rewards import score
    from reftbench.training.datasets import REWARD_COLUMNS, grpo_dataset

    def reward(completions, **columns):
        return [score({k: columns[k][i] for k in REWARD_COLUMNS},
                      c[0]["content"] if isinstance(c, list) else c)["reward"]
                for i, c in enumerate(completions)]

    args = GRPOConfig(
        output_dir=str(out), max_steps=cfg.stage_steps[0], learning_rate=cfg.grpo_lr,
        lr_scheduler_type=cfg.lr_scheduler, seed=cfg.seed, data_seed=cfg.seed,
        per_device_train_batch_size=cfg.prompts_per_step * cfg.stage_generations[0],
        num_generations=cfg.stage_generations[0], max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature, beta=0.0, loss_type=cfg.loss_type,
        gradient_checkpointing=False, bf16=False, use_cpu=not torch.cuda.is_available(),
        logging_steps=cfg.logging_steps, save_strategy="no", report_to="none",
        disable_tqdm=True, remove_unused_columns=False)
    model_obj, processor = load_model(model)
    trainer = GRPOTrainer(model=model_obj, args=args, processing_class=processor,
                          reward_funcs=reward, train_dataset=grpo_dataset(samples))
    trainer.train()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random-tiny", help="preset, 'base' or a checkpoint folder")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (after warm-up)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=4, help="prompts per step")
    parser.add_argument("--generations", type=int, default=8, help="group size G")
    parser.add_argument("--max-tokens", type=int, default=40, help="max completion length")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--tier", default="open", help="judge, choice or open")
    parser.add_argument("--train-scenes", type=int, default=300, help="scenes per family")
    output_options(parser)
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be at least 2")

    from reftbench.training.splits import train_samples
    from trainers.curr_rl import CurrRLConfig
    from trainers.presets import presets_for

    total = args.warmup + args.steps
    tiny = presets_for(CurrRLConfig)["tiny"]
    cfg = CurrRLConfig(**{**tiny, "model": args.model, "grpo_lr": args.lr,
                          "prompts_per_step": args.prompts, "beta": 0.0,
                          "max_completion_length": args.max_tokens, "n_train": args.train_scenes,
                          "stages": (args.tier,), "stage_steps": (total,),
                          "stage_generations": (args.generations,), "evaluate": False})
    model = resolve_model(args.model)
    samples = train_samples(cfg, tiers=(args.tier,))  # generated (and cached) before any timing
    clock = StepClock()
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("plain TRL", lambda: plain_run(cfg, model, samples, Path(tmp) / "p")),
                         ("reftbench curr-rl", lambda: reftbench_run(cfg, model, Path(tmp) / "r"))):
            start = time.perf_counter()
            steps = clock.run(fn)[args.warmup:]
            runs[name] = {k: statistics.mean(s[k] for s in steps) for k in ["wall", *PARTS]}
            runs[name]["sd"] = statistics.stdev(s["wall"] for s in steps) if len(steps) > 1 else 0
            runs[name]["run"] = time.perf_counter() - start
            print(f"{name}: {runs[name]['wall']:.3f} s/step", flush=True)
    clock.phases.unwrap()

    plain, ours = runs["plain TRL"], runs["reftbench curr-rl"]
    rows = [[name, f"{r['wall']:.3f} ± {r['sd']:.3f}", *(r[k] for k in PARTS), r["run"]]
            for name, r in runs.items()]
    rows.append(["overhead %", 100 * (ours["wall"] - plain["wall"]) / plain["wall"],
                 *(100 * (ours[k] - plain[k]) / plain["wall"] for k in PARTS), ""])
    notes = [f"{args.prompts} prompts x G={args.generations}, <= {args.max_tokens} completion "
             f"tokens, lr {args.lr}, beta 0, tier {args.tier}, model {args.model}; means (± "
             f"standard deviation) of {args.steps} steps after {args.warmup} warm-up steps, in s "
             "per step",
             "overhead row: (reftbench - plain) / plain s/step, per column in % of plain s/step",
             f"reftbench checkpoints every {cfg.save_steps} steps (save_steps) and saves the final "
             "model after the last step (in 'run s', outside the step means); plain saves nothing",
             "run s: whole run, model load, trainer set-up and final save included"]
    summary = (f"a curr-rl step {ours['wall']:.2f} s against plain TRL's {plain['wall']:.2f} s "
               f"({100 * (ours['wall'] - plain['wall']) / plain['wall']:+.1f}%), model {args.model}")
    report("GRPO step: reftbench curr-rl stage vs plain TRL GRPOTrainer",
           ["run", "s/step", *PARTS, "run s"], rows, notes, summary=summary,
           append=not args.no_append)


if __name__ == "__main__":
    main()
