"""`compare --jobs N`: runs trained N at a time in their own processes, recorded as a sequential
comparison records them; a failed run is named with its log once the others have ended."""

import json

import pytest

from reftbench.errors import UserError


def test_each_job_gets_its_share_of_threads_and_a_gpu_in_turn(monkeypatch):
    from reftbench import compare_jobs

    monkeypatch.setattr(compare_jobs, "cpu_count", lambda: 16)
    env = {"CUDA_VISIBLE_DEVICES": "3,5", "PATH": "/bin"}
    made = [compare_jobs.job_env(slot, 4, env) for slot in range(4)]
    assert [e["OMP_NUM_THREADS"] for e in made] == ["4"] * 4
    assert [e["MKL_NUM_THREADS"] for e in made] == ["4"] * 4
    assert [e["CUDA_VISIBLE_DEVICES"] for e in made] == ["3", "5", "3", "5"]
    assert made[0]["PATH"] == "/bin" and env["CUDA_VISIBLE_DEVICES"] == "3,5"
    # More jobs than CPUs: one thread each, never none; no GPU listed: none set.
    cpu_only = compare_jobs.job_env(0, 32, {"CUDA_VISIBLE_DEVICES": ""})
    assert cpu_only["OMP_NUM_THREADS"] == "1" and cpu_only["CUDA_VISIBLE_DEVICES"] == ""


def test_a_failed_job_is_named_with_its_log_and_the_others_are_recorded(tmp_path):
    from rich.console import Console

    from reftbench.compare_jobs import Job, run_jobs

    jobs = [Job("good", ["--list"], tmp_path / "good"),      # lists the trainers, exit 0
            Job("bad", ["no-such-trainer"], tmp_path / "bad")]  # exit 2 with one line
    done = {}
    with pytest.raises(UserError, match=r"1 run\(s\) failed: bad \(exit 2; log: .*bad\.log\)"):
        run_jobs(jobs, 2, lambda key, seconds: done.update({key: seconds}),
                 Console(file=open(tmp_path / "console.txt", "w")))
    assert list(done) == ["good"] and done["good"] > 0
    assert "curr-reft" in (tmp_path / "good.log").read_text()
    assert "no-such-trainer" in (tmp_path / "bad.log").read_text()


def test_compare_with_two_jobs_trains_and_records_every_run(cli, tmp_path, micro):
    command = ["compare", "--trainers", "sft", "--seeds", "0,1", "--jobs", "2", "--eval-limit",
               "2", "--general", "0", "--output", tmp_path / "out", "--results-dir",
               tmp_path / "res", "--model", "random-micro", "--families", "math",
               "--sft_steps", "1", "--sft_batch_size", "2", "--n_test", "4"]
    code, out, err = cli(*command)
    assert code == 0, err
    timings = json.loads((tmp_path / "out" / "timings.json").read_text())
    assert set(timings) == {"sft-seed0", "sft-seed1"}
    labels = [json.loads(p.read_text())["label"]
              for p in (tmp_path / "res" / "runs").glob("*/results.json")]
    assert sorted(labels) == ["base", "sft", "sft"]
    for seed in (0, 1):
        log = (tmp_path / "out" / f"sft-seed{seed}.log").read_text()
        assert "model:" in log
    assert "sft-seed1: finished in" in out
    # Run again: nothing left to train, nothing started.
    code, out, err = cli(*command)
    assert code == 0, err
    assert "started" not in out and out.count("finished earlier") == 2
    code, _, err = cli("compare", "--trainers", "sft", "--seeds", "0", "--jobs", "0",
                       "--output", tmp_path / "x", "--results-dir", tmp_path / "y")
    assert code == 2 and "--jobs must be at least 1" in err
