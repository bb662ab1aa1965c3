"""A model's fingerprint names its weights and config, not its path."""

import shutil

from reftbench.provenance import model_fingerprint


def _model(folder, weights: bytes):
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "metrics.jsonl").write_text("{}")
    return folder


def test_fingerprint_follows_the_weights_not_the_folder(tmp_path):
    a = _model(tmp_path / "a", b"\x00" * 1000)
    copy = shutil.copytree(a, tmp_path / "copy")
    (copy / "metrics.jsonl").write_text('{"other": "log"}')  # logs are not the model
    assert model_fingerprint(a) == model_fingerprint(copy)
    assert len(model_fingerprint(a)) == 12
    (copy / "model.safetensors").write_bytes(b"\x00" * 999 + b"\x01")  # rebuilt in place
    assert model_fingerprint(copy) != model_fingerprint(a)
    (a / "config.json").write_text('{"model_type": "qwen2_vl"}')
    assert model_fingerprint(a) != model_fingerprint(copy)


def test_resume_refuses_a_run_started_from_another_model(tmp_path):
    import json

    import pytest

    from reftbench.errors import UserError
    from reftbench.training.run import check_same_start, start_fingerprint

    base = _model(tmp_path / "base", b"\x00" * 100)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"start_fingerprint": start_fingerprint(base)}))
    check_same_start(run, str(base))  # same model: resumes
    check_same_start(run, "random-micro")  # a preset name has no folder to compare: allowed
    (base / "model.safetensors").write_bytes(b"\x01" * 100)  # the base was rebuilt in place
    with pytest.raises(UserError, match="started from another model"):
        check_same_start(run, str(base))


def test_only_code_changes_make_the_checkout_dirty(tmp_path, monkeypatch):
    """Results the harness writes (results/) are data: a rerun that replaces them is still
    made by a clean tree's code."""
    import subprocess

    from reftbench import provenance

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "LEADERBOARD.md").write_text("old\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    monkeypatch.setattr(provenance, "ROOT", tmp_path)
    (tmp_path / "results" / "LEADERBOARD.md").write_text("new\n")
    (tmp_path / "untracked.py").write_text("")
    assert provenance.changed_files() == []
    assert not provenance.git_commit().endswith("-dirty") and not provenance.describe()["dirty"]
    (tmp_path / "code.py").write_text("x = 2\n")
    assert provenance.changed_files() == ["code.py"]
    assert provenance.git_commit().endswith("-dirty") and provenance.describe()["dirty"]
