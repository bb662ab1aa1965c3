"""`reftbench compare --jobs N`: train N of the comparison's runs at once, each in its own process.

    finished = run_jobs(jobs, slots=2, on_done=record)   # jobs: [Job], record(key, seconds)

Each run is the same `reftbench train` a user would type (the comparison's own overrides, seed,
output folder and results folder; `--resume` when its folder holds stages), so a parallel
comparison trains, evaluates and records exactly what a sequential one does. The CPU threads
are split among the jobs (`OMP_NUM_THREADS`, `MKL_NUM_THREADS`), and with GPUs each job sees
one (`CUDA_VISIBLE_DEVICES`, in turn). A job's output goes to `<run folder>.log`; the console
gets one line when a job starts and one when it ends. Jobs die with the comparison (the kernel's
parent-death signal), and a killed comparison resumes every unfinished run when it is run again.
A failed job lets the running ones finish, starts no more, and is named with its log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from reftbench.errors import UserError
from reftbench.workers import die_with_parent


@dataclass
class Job:
    """One (trainer, seed) run of a comparison."""

    # The run's key in timings.json ("curr-rl-bandit-seed0").
    key: str
    # `reftbench train` arguments after "train" (trainer, options, overrides).
    args: list[str] = field(default_factory=list)
    # The run folder; its log is "<run folder>.log" beside it.
    run_dir: Path = Path()


def job_env(slot: int, slots: int, base: dict | None = None) -> dict:
    """The environment of job `slot` of `slots`: its share of the CPU threads and, with GPUs,
    one of them."""
    env = dict(os.environ if base is None else base)
    threads = max(1, cpu_count() // slots)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    gpus = visible_gpus(env)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    return env


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def visible_gpus(env: dict) -> list[str]:
    """The CUDA devices a job may be given: CUDA_VISIBLE_DEVICES's entries, else every device
    torch sees (none on a CPU machine)."""
    listed = env.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def run_jobs(jobs: list[Job], slots: int, on_done, console) -> None:
    """Run `jobs`, at most `slots` at a time; `on_done(key, seconds)` after each success. A
    UserError naming the failed runs and their logs once the running ones have ended."""
    parent = os.getpid()
    waiting, running, failed = list(jobs), {}, []
    free = list(range(slots))
    try:
        while waiting or running:
            while waiting and free and not failed:
                job, slot = waiting.pop(0), free.pop(0)
                log = job.run_dir.with_name(job.run_dir.name + ".log")
                log.parent.mkdir(parents=True, exist_ok=True)
                with open(log, "ab") as out:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "reftbench", "train", *job.args],
                        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        env=job_env(slot, slots), preexec_fn=lambda: die_with_parent(parent))
                running[proc] = (job, slot, log, time.perf_counter())
                console.print(f"{job.key}: started (log: {log})", markup=False)
            if not running:
                break
            time.sleep(0.5)
            for proc in [p for p in running if p.poll() is not None]:
                job, slot, log, started = running.pop(proc)
                free.append(slot)
                if proc.returncode == 0:
                    seconds = round(time.perf_counter() - started, 1)
                    on_done(job.key, seconds)
                    console.print(f"{job.key}: finished in {seconds} s", markup=False)
                else:
                    failed.append(f"{job.key} (exit {proc.returncode}; log: {log})")
                    console.print(f"{job.key}: failed, exit {proc.returncode}; running jobs "
                                  "finish, no new one starts", markup=False)
    finally:
        for proc in running:  # interrupted: the runs resume when the comparison is rerun
            proc.terminate()
        for proc in running:
            proc.wait()
    if failed:
        raise UserError(f"{len(failed)} run(s) failed: {'; '.join(failed)}; rerun the same "
                        "compare to resume them")
