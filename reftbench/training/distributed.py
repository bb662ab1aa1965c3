"""Which process writes: under `accelerate launch` every rank runs the same pipeline, but only
the main process writes run files (stage.json, metrics, plots, results); the others wait.

    if is_main(): fileio.write_json(...)
    barrier()                        # everyone continues once the main process has written
    with main_first(): check_data()  # the main process builds caches, the others reuse them

In a plain single process all three are no-ops, and nothing here touches torch.distributed
before `accelerate launch` (or torchrun) has set WORLD_SIZE.
"""

from __future__ import annotations

import contextlib
import os


def world_size() -> int:
    """Number of processes in the job (1 when not launched distributed)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _state():
    """accelerate's process state, created the way the Trainer will create it (cpu without CUDA:
    gloo), so the process group set up here is the one training then uses."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def is_main() -> bool:
    """True on the process that writes run files (rank 0 of the whole job)."""
    return world_size() == 1 or _state().is_main_process


def barrier() -> None:
    """Wait until every process gets here."""
    if world_size() > 1:
        _state().wait_for_everyone()


@contextlib.contextmanager
def main_first():
    """Run the block on the main process first, then on the others (shared caches)."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()
