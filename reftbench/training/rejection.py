"""Rejection sampling: Curr-ReFT's self-improvement data.

For each training prompt, sample K answers from the RL model, score them with the same strict
scorer as training and evaluation, and keep the best one only if it has the full format and a
reward at or above the threshold. (The paper used an external judge scoring 0-100, keeping
> 85; here the strict reward is the judge.) Sampling is logged per prompt to a JSONL file so a
killed stage resumes where it stopped; under `accelerate launch` the prompts are split across
the ranks, each sampling on its own GPU.
"""

from __future__ import annotations

from pathlib import Path

from reftbench import fileio
from reftbench.scoring.rewards import score


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
    """Sample k answers per prompt (resuming from `log_path`), return the kept rows.

    Under `accelerate launch` every rank samples its share of the prompts with its own backend
    (reftbench.distributed.map_sharded); the main process writes the one log, round by
    round, and every rank then reads the kept rows back from it.
    """
    from reftbench.generation.decoding import Sampling
    from reftbench.distributed import barrier, broadcast, map_sharded

    done = broadcast({r["id"] for r in fileio.read_jsonl(log_path)})
    todo = [s for s in samples if s["id"] not in done]
    sampling = Sampling(max_new_tokens=max_new_tokens, temperature=temperature, n=k)
    task = progress.add_task("rejection sampling", total=len(samples),
                             completed=len(samples) - len(todo)) if progress else None

    def judge(chunk: list[dict]) -> list[dict]:
        outputs = backend.generate(chunk, sampling)
        return [{"id": sample["id"], "kept": best_answer(sample, completions, threshold),
                 "n": len(completions)} for sample, completions in zip(chunk, outputs)]

    def write(rows: list[dict]) -> None:
        fileio.append_jsonl(log_path, rows)
        if progress:
            progress.advance(task, len(rows))

    map_sharded(todo, max(1, getattr(backend, "batch_size", 16)), judge, write)
    barrier()  # the log is complete before any rank reads it
    wanted = {s["id"]: s for s in samples}
    return [{"sample": wanted[r["id"]], **r["kept"]}
            for r in fileio.read_jsonl(log_path) if r["kept"] and r["id"] in wanted]
