"""Rollout throughput: completion tokens per second by batch size, transformers (and vLLM).

    python bench/rollout.py [--model random-tiny] [--batch-sizes 1,8,32,64] [--max-tokens 40]
                            [--seconds 20] [--no-append]

Samples at temperature 1 (top_p 1), as GRPO rollouts do, from open-tier test prompts of every
family (one image each). Tokens are counted per completion up to and including its first EOS
(or pad): what a batch computes after a row has finished is padding, not throughput. Each batch
size runs whole batches until `seconds` have passed (at least one), after one untimed warm-up
batch. With vLLM importable and a CUDA GPU, the same prompts also go through
`reftbench.generation.vllm_backend.VLLMBackend`'s engine; otherwise its line says why it is skipped.
"""

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import output_options, report  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402


def prompts(n: int, scenes: int) -> list[dict]:
    """n open-tier test samples, cycling over the families' id splits."""
    from reftbench.data.generated import load_split
    from reftbench.samples import FAMILIES

    pool = [s for f in FAMILIES for s in load_split(f, "id", n=scenes, tiers=("open",))]
    return [pool[i % len(pool)] for i in range(n)]


def counted(new_ids, stop_ids: set[int]) -> int:
    """Generated tokens per row, up to and including the first stop token."""
    total = 0
    for row in new_ids.tolist():
        hits = [i for i, t in enumerate(row) if t in stop_ids]
        total += hits[0] + 1 if hits else len(row)
    return total


def transformers_rate(backend, batch: int, max_tokens: int, seconds: float,
                      pool: list[dict]) -> tuple[float, float, float]:
    """(completion tokens/s, s per batch, tokens per completion) for one batch size."""
    import torch

    tok = backend.tokenizer
    stop = {t for t in (tok.eos_token_id, tok.pad_token_id) if t is not None}
    kwargs = dict(max_new_tokens=max_tokens, do_sample=True, temperature=1.0, top_p=1.0,
                  top_k=None,
                  pad_token_id=tok.eos_token_id if tok.pad_token_id is None else tok.pad_token_id)
    tokens = batches = 0
    elapsed = 0.0
    with torch.inference_mode():
        for i in itertools.count():
            inputs = backend.encode([pool[(i * batch + j) % len(pool)] for j in range(batch)])
            start = time.perf_counter()
            ids = backend.model.generate(**inputs, **kwargs)
            if backend.model.device.type == "cuda":
                torch.cuda.synchronize()
            took = time.perf_counter() - start
            if i == 0:
                continue  # warm-up
            tokens += counted(ids[:, inputs["input_ids"].shape[1]:], stop)
            batches, elapsed = batches + 1, elapsed + took
            if elapsed >= seconds:
                break
    return tokens / elapsed, elapsed / batches, round(tokens / (batches * batch), 1)


def vllm_rates(model_name: str, sizes: list[int], max_tokens: int, pool: list[dict]):
    """Rows for vLLM, or one row saying why it was skipped."""
    try:
        from reftbench.generation.vllm_backend import VLLMBackend
        backend = VLLMBackend(model_name)
        from vllm import SamplingParams
    except Exception as err:  # ImportError, or require_vllm's UserError (no CUDA)
        return [["vllm", "-", "-", "-", "-", f"skipped: {str(err).splitlines()[0]}"]]
    params = SamplingParams(n=1, temperature=1.0, top_p=1.0, max_tokens=max_tokens)
    rows = []
    for batch in sizes:
        requests = [backend.request(s) for s in pool[:batch]]
        backend.llm.generate(requests, params, use_tqdm=False)  # warm-up
        start = time.perf_counter()
        out = backend.llm.generate(requests, params, use_tqdm=False)
        took = time.perf_counter() - start
        tokens = sum(len(c.token_ids) for r in out for c in r.outputs)
        rows.append(["vllm", batch, tokens / took, took, round(tokens / batch, 1), ""])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random-tiny", help="preset, 'base' or a checkpoint folder")
    parser.add_argument("--batch-sizes", default="1,8,32,64")
    parser.add_argument("--max-tokens", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per size")
    parser.add_argument("--scenes", type=int, default=100, help="scenes per test split")
    parser.add_argument("--device", default="auto", help="cpu, cuda (auto: cuda if present)")
    parser.add_argument("--dtype", default=None, help="e.g. bfloat16 (default: the checkpoint's)")
    parser.add_argument("--no-vllm", action="store_true")
    output_options(parser)
    args = parser.parse_args()

    import torch

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    model = resolve_model(args.model)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    pool = prompts(max(sizes), args.scenes)
    from reftbench.generation.backends import TransformersBackend
    from reftbench.model.load import load_model

    backend = TransformersBackend(*load_model(model, dtype=args.dtype, device=args.device))
    rows = []
    for batch in sizes:
        rate, per_batch, length = transformers_rate(backend, batch, args.max_tokens,
                                                    args.seconds, pool)
        rows.append([f"transformers ({args.device})", batch, rate, per_batch, length, ""])
        print(rows[-1], flush=True)
    if not args.no_vllm:
        rows += vllm_rates(model, sizes, args.max_tokens, pool)
    notes = [f"model {args.model} ({args.dtype or 'checkpoint dtype'}), temperature 1, "
             f"max_new_tokens {args.max_tokens}, prompts from "
             "the open-tier id test splits; tokens counted up to and including EOS",
             "s/batch: one model.generate call (prompt encoding excluded)"]
    ours = [r for r in rows if r[0].startswith("transformers")]
    best = max(ours, key=lambda r: r[2])
    summary = (f"{best[2]:.0f} completion tokens/s at batch {best[1]} against {ours[0][2]:.0f} at "
               f"batch {ours[0][1]} ({best[2] / ours[0][2]:.1f}x), transformers on {args.device}, "
               f"model {args.model}")
    report("Rollout throughput by batch size", ["engine", "batch", "completion tok/s",
                                                "s/batch", "tokens/completion", "note"],
           rows, notes, summary=summary, append=not args.no_append)


if __name__ == "__main__":
    main()
