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
