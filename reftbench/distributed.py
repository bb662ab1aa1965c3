"""Which process writes, which device it uses, and how work is split under `accelerate launch`.

Every rank runs the same pipeline; only the main process writes run files (stage.json, metrics,
plots, results), the others wait. Generation (the rejection sampler, the evaluation) is split
across the ranks, each on its own device, and the results gathered on the main process:

    if is_main(): fileio.write_json(...)
    barrier()                        # everyone continues once the main process has written
    with main_first(): check_data()  # the main process builds caches, the others reuse them
    map_sharded(samples, 16, generate, write_rows)   # each rank generates its share

In a plain single process all of these are no-ops (or run the work in place), and nothing here
touches torch.distributed before `accelerate launch` (or torchrun) has set WORLD_SIZE.
"""

from __future__ import annotations

import contextlib
import datetime
import os

# Process-group timeout. A rank can wait on another's slow step: rank 0 writing and plotting, or
# an uneven last share of generation with a 3B model; torch's default (10 min for NCCL) would
# kill such a job in the middle of a run.
TIMEOUT = datetime.timedelta(hours=3)


def world_size() -> int:
    """Number of processes in the job (1 when not launched distributed)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's index in the job (0 when not launched distributed)."""
    return int(os.environ.get("RANK", "0"))


def check_launcher() -> None:
    """A UserError when several GPUs are visible to a process no launcher started: the Trainer
    would wrap the model in nn.DataParallel, which TRL's trainers do not support (it fails
    after the model has loaded). One line, before anything loads."""
    import torch

    if world_size() > 1 or not torch.cuda.is_available():
        return
    count = torch.cuda.device_count()
    if count > 1:
        from reftbench.errors import UserError

        raise UserError(f"{count} GPUs are visible but no launcher started this process: train on "
                        "all of them with `accelerate launch --num_processes "
                        f"{count} -m reftbench train ...` (docs/scaling.md), or on one with "
                        "CUDA_VISIBLE_DEVICES=0")


def device(name: str = "auto") -> str:
    """The torch device this rank generates on: "auto" is CUDA when present (the rank's own GPU
    under a launcher), else the CPU; a bare "cuda" also becomes the rank's own GPU."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and world_size() > 1:
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return name


def _state():
    """accelerate's process state, created the way the Trainer will create it (cpu without CUDA:
    gloo), with the long timeout, so the process group set up here is the one training then uses."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available(), timeout=TIMEOUT)


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


def broadcast(obj):
    """The main process's `obj` on every process (a picklable value)."""
    if world_size() == 1:
        return obj
    from accelerate.utils import broadcast_object_list

    _state()
    return broadcast_object_list([obj], from_process=0)[0]


def main_decides(decide):
    """`decide()` run on the main process only; its value, or the UserError it raised, on every
    process (so a refusal stops the whole job with the same line, not only rank 0)."""
    if world_size() == 1:
        return decide()
    from reftbench.errors import UserError

    value, error = None, None
    if is_main():
        try:
            value = decide()
        except UserError as err:
            error = str(err)
    value, error = broadcast((value, error))
    if error is not None:
        raise UserError(error)
    return value


def gather(rows: list) -> list[list]:
    """Every process's `rows`, as one list per rank in rank order (on every process)."""
    if world_size() == 1:
        return [rows]
    import torch.distributed as dist

    _state()
    found: list = [None] * world_size()
    dist.all_gather_object(found, rows)
    return found


def map_sharded(items: list, per_rank: int, work, collect) -> None:
    """`work(part) -> one row per item` over `items`, split across the ranks.

    Rounds of `per_rank` items per rank: each rank takes every world_size-th item of the round,
    the rows are gathered and `collect(rows)` gets them in item order, on the main process only,
    once per round (so a log written there is as resumable as in one process). `items` must be
    the same list on every rank; a rank with nothing left in a round still joins the gather.
    """
    world, me = world_size(), rank()
    step = max(1, per_rank) * world
    for start in range(0, len(items), step):
        block = items[start:start + step]
        mine = block[me::world]
        rows = list(work(mine)) if mine else []
        if len(rows) != len(mine):  # a short answer would pair rows with the wrong items
            raise RuntimeError(f"work returned {len(rows)} rows for {len(mine)} items")
        shares = gather(rows)
        if is_main():
            collect([shares[i % world][i // world] for i in range(len(block))])
