"""GPU check: the researcher's whole path on one GPU in bf16, stage by stage; and throughput.

    python bench/gpu_check.py [--model base] [--stage-steps 10] [--rs-prompts 32] [--eval-limit 50]
                              [--throughput] [--no-append]
    python bench/gpu_check.py --device cpu --model random-micro --stage-steps 2 --rs-prompts 2 \
                              --eval-limit 2 --scenes 12 --no-append     # smoke test, any machine

The path: `reftbench train curr-reft` (every stage: judge, choice and open GRPO, the rejection
sampler, its SFT, the final evaluation; dtype bfloat16, so fp32 weights under bf16 autocast),
then `reftbench eval --device <device> --dtype bfloat16` on the trained model in a fresh process,
as a user types it. One row per stage: seconds, steps or samples, seconds per unit and peak GPU
memory; the rest of the training run (data, checks, saving) is its own row. Every figure comes
from this run; nothing needs the network. Without CUDA and without `--device cpu` it exits at
once, status 1, with one line saying so.

`--throughput` adds the earlier table: GRPO and SFT steps and an evaluation through reftbench's
own runners, with tokens/s and achieved FLOP/s as a fraction of the card's dense bf16 peak. FLOPs
are estimated as 6 x params x tokens for training (forward and backward) and 2 x params x tokens
for generation; tokens count prompt (image tokens included) plus completion, padding excluded.
The peak comes from a small table by `torch.cuda.get_device_name()`, or from --peak-tflops.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Dense bf16 peak TFLOP/s by a substring of the device name (first match wins).
PEAK_TFLOPS = [("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("GH200", 989.0),
               ("A100", 312.0), ("L40S", 362.0), ("A10G", 70.0), ("L4", 121.0)]


def require_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device visible (torch {torch.__version__}, CUDA build "
              f"{torch.version.cuda or 'none'}); run it on a CUDA machine", file=sys.stderr)
        sys.exit(1)


def peak_flops(name: str, given: float | None) -> float | None:
    if given:
        return given * 1e12
    return next((t * 1e12 for key, t in PEAK_TFLOPS if key in name), None)


class TokenCount:
    """Tokens seen by wrapped methods (attention-mask sums of inputs, or generated ids)."""

    def __init__(self):
        self.train = self.generated = 0

    def wrap_loss(self, cls):
        original = cls.compute_loss

        def counted(trainer, model, inputs, *args, **kwargs):
            mask = inputs.get("attention_mask")
            if mask is None:  # GRPO: prompt and completion masks are separate
                mask = inputs["completion_mask"].sum() + inputs["prompt_mask"].sum()
            self.train += int(mask.sum())
            return original(trainer, model, inputs, *args, **kwargs)

        cls.compute_loss = counted

    def wrap_generate(self, model, pad_id):
        original = model.generate

        def counted(*args, **kwargs):
            ids = original(*args, **kwargs)
            prompt = kwargs["input_ids"].shape[1]
            self.generated += int(kwargs["attention_mask"].sum()) * (
                ids.shape[0] // kwargs["input_ids"].shape[0])
            self.generated += int((ids[:, prompt:] != pad_id).sum())
            return ids

        model.generate = counted


def parse_args():
    from bench.common import output_options

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                        help="cuda (the check), or cpu to smoke-test the script")
    parser.add_argument("--model", default="base", help="preset, 'base' or a checkpoint folder")
    parser.add_argument("--stage-steps", type=int, default=10, help="GRPO steps per stage")
    parser.add_argument("--rs-prompts", type=int, default=32,
                        help="rejection-sampler prompts per family")
    parser.add_argument("--rs-sft-steps", type=int, default=10, help="steps of the rejection SFT")
    parser.add_argument("--rs-engine", default="transformers",
                        choices=["transformers", "auto", "vllm"],
                        help="rejection-sampler engine (auto: vLLM when installed; the embedded "
                        "models may not be vLLM-supported builds)")
    parser.add_argument("--eval-limit", type=int, default=50, help="samples per family x split")
    parser.add_argument("--scenes", type=int, default=100, help="scenes per train/test split")
    parser.add_argument("--throughput", action="store_true",
                        help="also time GRPO/SFT steps and evaluation, with FLOP/s")
    parser.add_argument("--grpo-steps", type=int, default=8, help="with --throughput")
    parser.add_argument("--sft-steps", type=int, default=20, help="with --throughput")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="dense bf16 peak of the card (default: looked up by name)")
    output_options(parser)
    args = parser.parse_args()
    if args.throughput and min(args.grpo_steps, args.sft_steps) < 3:
        parser.error("--grpo-steps and --sft-steps must be at least 3 (times are step to step)")
    return args


def main() -> None:
    args = parse_args()
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch loads: every step on the CPU
    else:
        require_cuda()
    import torch

    from bench.common import cpu_name, report

    device = cpu_name() if args.device == "cpu" else torch.cuda.get_device_name(0)
    rows, notes = path_rows(args)
    report(f"GPU check: curr-reft path, bf16, {args.device}",
           ["phase", "s", "units", "s/unit", "peak GiB"], rows,
           [f"model {args.model}, bf16, on {device}", *notes],
           summary=f"curr-reft, every stage, then eval: {rows[-1][1]:.0f} s on {device}, "
                   f"model {args.model}", append=not args.no_append)
    if args.throughput:
        throughput(args, device)


class StageTimer:
    """Wall time and peak GPU memory of every stage runner call, as table rows."""

    def __init__(self, cuda: bool):
        self.cuda, self.rows = cuda, []

    def wrap(self, owner, attr: str, describe) -> None:
        """Time `owner.attr`; `describe(args, kwargs, result)` -> (phase, units, unit name)."""
        original = getattr(owner, attr)

        def timed(*args, **kwargs):
            import torch

            if self.cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            result = original(*args, **kwargs)
            if self.cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            phase, units, unit = describe(args, kwargs, result)
            peak = torch.cuda.max_memory_allocated() / 2**30 if self.cuda else "-"
            self.rows.append([phase, seconds, f"{units} {unit}", seconds / max(units, 1), peak])
            print(self.rows[-1], flush=True)
            return result

        setattr(owner, attr, timed)


def protocol_match(in_run: dict | None, fresh: dict) -> str:
    """'same' or the fields that differ (dtype, pixels, length, ...), ignoring the questions."""
    from reftbench.evaluation.protocol import differences

    if not in_run:
        return "no in-run evaluation"
    found = differences(in_run.get("protocol") or {}, fresh.get("protocol") or {})
    return ", ".join(found) if found else "same (dtype " + str(fresh["protocol"]["dtype"]) + ")"


def path_rows(args) -> tuple[list[list], list[str]]:
    """Train curr-reft (every stage, short) and evaluate it from the command line; one row per
    stage, the rest of the run, the separate `reftbench eval` and the total."""
    import json
    import subprocess

    import reftbench.evaluation.evaluate
    from bench.common import ROOT
    from reftbench.training import rejection, trl_common
    from reftbench.training.run import train

    timer = StageTimer(cuda=args.device == "cuda")
    timer.wrap(trl_common, "fit", lambda a, k, r: (f"train {a[5]}", a[6], "steps"))
    timer.wrap(rejection, "sample_and_filter",
               lambda a, k, r: (f"rejection sampling (x{a[2]}, {len(r)} kept)", len(a[1]),
                                "prompts"))
    timer.wrap(reftbench.evaluation.evaluate, "evaluate", lambda a, k, r: (
        "final evaluation (in train)", sum(m["n"] for m in r["metrics"].values()), "samples"))
    steps = args.stage_steps
    overrides = ["--model", args.model, "--dtype", "bfloat16", "--n_train", str(args.scenes),
                 "--n_test", str(args.scenes), "--stage_steps", f"{steps},{steps},{steps}",
                 "--rs_prompts", str(args.rs_prompts), "--rs_sft_steps", str(args.rs_sft_steps),
                 "--rs_engine", args.rs_engine,
                 "--eval_limit", str(args.eval_limit), "--save_steps", "1000000"]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = train("curr-reft", overrides=overrides, output=Path(tmp) / "run",
                    results_dir=Path(tmp) / "results")
        trained = time.perf_counter() - start
        rows = list(timer.rows)
        rows.append(["rest of the training run (data, checks, saving)",
                     trained - sum(r[1] for r in rows), "-", "-", "-"])
        length = json.loads((Path(out["run_dir"]) / "config.json").read_text())["config"][
            "max_completion_length"]
        # No --dtype: a saved stage records its training dtype, so the checkpoint's own (auto)
        # must give the in-run evaluation's protocol.
        command = [sys.executable, "-m", "reftbench", "eval", "--model", out["model"],
                   "--device", args.device, "--max-new-tokens", str(length),
                   "--limit", str(args.eval_limit), "--n-test", str(args.scenes),
                   "--run-id", "gpu-check", "--results-dir", str(Path(tmp) / "cli")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        begun = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - begun
        result = json.loads((Path(tmp) / "cli/runs/gpu-check/results.json").read_text())
        n = sum(m["n"] for m in result["metrics"].values())
        rows.append([f"reftbench eval --device {args.device} (new process, load included)",
                     seconds, f"{n} samples", seconds / n, "-"])
        rows.append(["total", time.perf_counter() - start, "-", "-", "-"])
        final = out["results"]["metrics"] if out["results"] else {}
        notes = [f"curr-reft: {steps} GRPO steps per stage (judge, choice, open), "
                 f"{args.rs_prompts} rejection prompts per family, {args.rs_sft_steps} SFT steps, "
                 f"completions up to {length} tokens, {args.scenes} scenes per split",
                 "train rows: model load, trainer set-up, steps and final save of each stage",
                 f"final evaluation open-tier accuracy: " + ", ".join(
                     f"{k.split('/open')[0]} {v['accuracy']:.3f}" for k, v in final.items()),
                 f"reftbench eval device recorded: {result['config']['device']}",
                 "protocol of the fresh eval against the in-run one: " + protocol_match(
                     out["results"], result)]
        if not any(r[0] == "train rs-sft" for r in rows):
            notes.append("rejection SFT skipped: no sampled answer reached rs_threshold")
    return rows, notes


def throughput(args, device: str) -> None:
    import torch
    from transformers.trainer_callback import CallbackHandler
    from trl import GRPOTrainer, SFTTrainer

    from bench.common import report
    from reftbench.evaluation.evaluate import EvalConfig, evaluate
    from reftbench.generation.backends import TransformersBackend
    from reftbench.model.load import load_model
    from reftbench.model.names import resolve_model
    from reftbench.training.datasets import sft_dataset
    from reftbench.training.grpo_stage import run_grpo
    from reftbench.training.sft_stage import run_sft
    from reftbench.training.splits import train_samples
    from trainers.curr_rl import CurrRLConfig
    from trainers.presets import presets_for

    where = args.device
    peak = peak_flops(device, args.peak_tflops)
    model = resolve_model(args.model)
    tiny = presets_for(CurrRLConfig)["tiny"]
    cfg = CurrRLConfig(**{**tiny, "model": args.model, "dtype": "bfloat16",
                          "n_train": args.scenes, "save_steps": 10**6, "evaluate": False})
    params = sum(p.numel() for p in load_model(model)[0].parameters())
    counts = TokenCount()
    counts.wrap_loss(GRPOTrainer)
    counts.wrap_loss(SFTTrainer)
    ends: list[float] = []
    step_end = CallbackHandler.on_step_end

    def timed_end(handler, *a, **k):
        if where == "cuda":
            torch.cuda.synchronize()
        ends.append(time.perf_counter())
        return step_end(handler, *a, **k)

    CallbackHandler.on_step_end = timed_end
    rows = []

    def add(phase, seconds_per_step, tokens, seconds, factor):
        flops = factor * params * tokens / seconds
        rows.append([phase, seconds_per_step, tokens / seconds, flops / 1e12,
                     f"{100 * flops / peak:.3f}%" if peak else "peak unknown"])
        print(rows[-1], flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        samples = train_samples(cfg, tiers=("open",))
        for name, steps, run in (
                ("GRPO step (open tier, 4 x 8)", args.grpo_steps,
                 lambda: run_grpo(cfg, model, samples, Path(tmp) / "grpo", args.grpo_steps, 8,
                                  "g")),
                ("SFT step (batch 32)", args.sft_steps,
                 lambda: run_sft(cfg, model, sft_dataset(samples), Path(tmp) / "sft",
                                 args.sft_steps, 5e-5, 32, "s"))):
            ends.clear()
            counts.train = 0
            run()
            per_step = statistics.median(b - a for a, b in zip(ends, ends[1:]))
            tokens_per_step = counts.train / steps
            # GRPO also generates its rollouts: 2 x params per token more.
            add(name, per_step, tokens_per_step, per_step, 8 if "GRPO" in name else 6)

        loaded, processor = load_model(model, dtype="bfloat16", device=where)
        backend = TransformersBackend(loaded, processor, batch_size=64)
        counts.wrap_generate(loaded, processor.tokenizer.pad_token_id)
        ecfg = EvalConfig(model=model, limit=args.eval_limit, n_test=args.scenes,
                          batch_size=64, device=where, run_id="gpu-check")
        start = time.perf_counter()
        res = evaluate(ecfg, Path(tmp) / "results", backend=backend)
        seconds = time.perf_counter() - start
        n = sum(m["n"] for m in res["metrics"].values())
        add(f"evaluation ({n} samples, batch 64, greedy)", seconds / n, counts.generated,
            seconds, 2)
    notes = [f"model {args.model} ({params / 1e6:.1f}M params), bf16, on {device}; peak "
             f"{peak / 1e12 if peak else '?'} TFLOP/s dense bf16",
             "FLOPs: training 6 x params x tokens (GRPO: 8 x, rollout generation included), "
             "generation 2 x params x tokens; tokens = prompt (with image tokens) + completion",
             "s/step: median over steps; evaluation row: s per sample"]
    report("GPU check (bf16)", ["phase", "s/step", "tokens/s", "TFLOP/s", "of peak"], rows,
           notes, summary=f"a GRPO step {rows[0][1]:.3f} s, {rows[0][4]} of {device}'s bf16 peak, "
                          f"model {args.model}",
           section="bench/gpu_check.py --throughput", append=not args.no_append)


if __name__ == "__main__":
    main()
