"""`reftbench compare` refuses to resume work that another base model produced."""

import pytest

from reftbench.compare import FINGERPRINT, _same_base
from reftbench.errors import UserError
from reftbench.provenance import model_fingerprint


def _base(folder, weights: bytes):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(weights)
    return str(folder)


def test_fresh_folders_record_the_base(tmp_path):
    base = _base(tmp_path / "base", b"v1")
    fingerprint = _same_base(base, tmp_path / "out", tmp_path / "results/runs/compare-base")
    assert fingerprint == model_fingerprint(base)
    assert (tmp_path / "out" / FINGERPRINT).read_text().strip() == fingerprint


def test_runs_from_another_base_are_refused(tmp_path):
    out, base_run = tmp_path / "out", tmp_path / "results/runs/compare-base"
    base = _base(tmp_path / "base", b"v1")
    _same_base(base, out, base_run)
    (out / "timings.json").write_text('{"sft-seed0": 100}')
    _same_base(base, out, base_run)  # same base: resumes
    _base(tmp_path / "base", b"v2")  # the base is rebuilt in place
    with pytest.raises(UserError, match="another base model.*--output"):
        _same_base(base, out, base_run)
    # A base evaluation with no recorded fingerprint (or another one) is not reused either.
    base_run.mkdir(parents=True)
    (base_run / "results.json").write_text("{}")
    with pytest.raises(UserError, match="not recorded.*--results-dir"):
        _same_base(base, tmp_path / "new-out", base_run)
