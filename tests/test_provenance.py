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
