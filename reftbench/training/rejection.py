"""Rejection sampling: Curr-ReFT's self-improvement data.

For each training prompt, sample K answers from the RL model, score them with the same strict
scorer as training and evaluation, and keep the best one only if it has the full format and a
reward at or above the threshold. (The paper used an external judge scoring 0-100, keeping
> 85; here the strict reward is the judge.) Sampling is logged per prompt to a JSONL file so a
killed stage resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path

from reftbench import fileio
from reftbench.rewards import score


def best_answer(sample: dict, completions: list[str], threshold: float) -> dict | None:
    """The highest-reward completion with format 1 and reward >= threshold (first on ties)."""
    best = None
    for completion in completions:
        s = score(sample, completion)
        if s["format"] < 1 or s["reward"] < threshold:
            continue
        if best is None or s["reward"] > best["reward"]:
            best = {"completion": completion, "reward": s["reward"], "accuracy": s["accuracy"]}
    return best


def sample_and_filter(backend, samples: list[dict], k: int, temperature: float,
                      threshold: float, log_path: Path, max_new_tokens: int = 64,
                      progress=None) -> list[dict]:
    """Sample k answers per prompt (resuming from `log_path`), return the kept rows."""
    from reftbench.generation import Sampling
    from reftbench.training.distributed import main_first

    # Under accelerate launch the main process samples; the others then find every prompt in
    # its log and only read it back (one log, no duplicated sampling).
    with main_first():
        done = {r["id"] for r in fileio.read_jsonl(log_path)}
        todo = [s for s in samples if s["id"] not in done]
        sampling = Sampling(max_new_tokens=max_new_tokens, temperature=temperature, n=k)
        task = progress.add_task("rejection sampling", total=len(samples),
                                 completed=len(done)) if progress else None
        batch = max(1, getattr(backend, "batch_size", 16))
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            outputs = backend.generate(chunk, sampling)
            rows = []
            for sample, completions in zip(chunk, outputs):
                kept = best_answer(sample, completions, threshold)
                rows.append({"id": sample["id"], "kept": kept, "n": len(completions)})
            fileio.append_jsonl(log_path, rows)
            if progress:
                progress.advance(task, len(chunk))
    wanted = {s["id"]: s for s in samples}
    return [{"sample": wanted[r["id"]], **r["kept"]}
            for r in fileio.read_jsonl(log_path) if r["kept"] and r["id"] in wanted]
