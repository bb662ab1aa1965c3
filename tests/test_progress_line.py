"""The training progress line: s/step and tokens/s in the bar, plain lines when not a terminal."""

import io
from types import SimpleNamespace

from rich.console import Console
from rich.progress import Progress

from reftbench.training.callbacks import MetricsLog, ProgressLine


def run_steps(console: Console, tmp_path, steps: int = 3):
    progress = Progress(console=console)
    log = MetricsLog(tmp_path / "metrics.jsonl", "3-open")
    line = ProgressLine(progress, "3-open", steps, log, plain_every=0.0)
    args = SimpleNamespace(per_device_train_batch_size=16, world_size=2)
    state = SimpleNamespace(global_step=0, is_world_process_zero=True)
    line.on_train_begin(args, state, None)
    for step in range(1, steps + 1):
        state.global_step = step
        log.last = {"reward": 1.25, "completions/mean_length": 20.0}
        line.on_step_end(args, state, None)
    return progress.tasks[0].description


def test_a_log_file_gets_a_plain_line_with_step_speed_and_eta(tmp_path):
    out = io.StringIO()
    description = run_steps(Console(file=out, force_terminal=False, width=200), tmp_path)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("3-open step")]
    assert [line.split()[2] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all("s/step" in line and "ETA" in line and "reward=1.25" in line for line in lines)
    assert "tok/s" in description and "s/step" in description


def test_a_terminal_gets_the_live_bar_only(tmp_path):
    out = io.StringIO()
    run_steps(Console(file=out, force_terminal=True, width=200), tmp_path)
    assert "3-open step" not in out.getvalue()
