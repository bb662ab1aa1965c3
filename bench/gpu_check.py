"""GPU check: GRPO steps, SFT steps and an evaluation on CUDA in bf16, with throughput and MFU.

    python bench/gpu_check.py [--model tiny] [--grpo-steps 8] [--sft-steps 20] [--eval-limit 64]
                              [--peak-tflops 989] [--no-append]

Meant as one prepared run on a CUDA machine (well under 10 minutes with the defaults; most of
it is start-up and data generation). It trains the tiny trainers' stages through reftbench's own
runners (`run_grpo`, `run_sft`, dtype bfloat16) and evaluates through `evaluate` on a bf16
model, and prints per phase: seconds per step, tokens/s, and achieved FLOP/s as a fraction of
the card's dense bf16 peak. FLOPs are estimated as 6 x params x tokens for training (forward
and backward) and 2 x params x tokens for generation; tokens count prompt (image tokens
included) plus completion, padding excluded. The peak comes from a small table by
`torch.cuda.get_device_name()`, or from --peak-tflops. Without CUDA it exits at once, status 1,
with one line saying so.
"""

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="preset, 'base' or a checkpoint folder")
    parser.add_argument("--grpo-steps", type=int, default=8)
    parser.add_argument("--sft-steps", type=int, default=20)
    parser.add_argument("--eval-limit", type=int, default=64, help="samples per family x split")
    parser.add_argument("--scenes", type=int, default=100, help="scenes per train/test split")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="dense bf16 peak of the card (default: looked up by name)")
    parser.add_argument("--cpu", action="store_true",
                        help="run the same on the CPU, to test this script (figures meaningless)")
    parser.add_argument("--no-append", action="store_true", help="do not write results/PERF.md")
    args = parser.parse_args()
    if min(args.grpo_steps, args.sft_steps) < 3:
        parser.error("--grpo-steps and --sft-steps must be at least 3 (times are step to step)")
    if not args.cpu:
        require_cuda()

    import torch
    from transformers.trainer_callback import CallbackHandler
    from trl import GRPOTrainer, SFTTrainer

    from bench.common import cpu_name, report, resolve_model
    from reftbench.evaluate import EvalConfig, evaluate
    from reftbench.generation import TransformersBackend
    from reftbench.model.load import load_model
    from reftbench.training.datasets import sft_dataset
    from reftbench.training.grpo_stage import run_grpo
    from reftbench.training.sft_stage import run_sft
    from reftbench.training.splits import train_samples
    from trainers.curr_rl import CurrRLConfig
    from trainers.presets import TINY, pick

    where = "cpu" if args.cpu else "cuda"
    device = cpu_name() if args.cpu else torch.cuda.get_device_name(0)
    peak = peak_flops(device, args.peak_tflops)
    model = resolve_model(args.model)
    cfg = CurrRLConfig(**{**pick(TINY, CurrRLConfig), "model": args.model, "dtype": "bfloat16",
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
           notes, append=not args.no_append)


if __name__ == "__main__":
    main()
