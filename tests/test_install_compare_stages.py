("experiments/install_compare_stages.py: probe-made comparison stages equal what the build "
 "would train.")

import sys
from pathlib import Path

from safetensors.torch import load_file
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments import install_compare_stages as install  # noqa: E402
from reftbench.cli import app  # noqa: E402
from reftbench.base_build.compare_pretrain import pretrain_compare  # noqa: E402
from reftbench.model.names import resolve_model  # noqa: E402

SETTINGS = ["--model", "random-micro", "--n_general", "12", "--vision_steps", "2",
            "--vision_batch_size", "4", "--compare_number_steps", "2", "--compare_steps", "0",
            "--compare_sequences", "2", "--compare_lines", "2", "--compare_lr", "1e-3"]


def test_installed_stages_equal_the_build_s_own_and_the_build_goes_on_from_them(
        tmp_path, monkeypatch):
    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, ["base", *SETTINGS, "--n_test", "10", "--stop_after",
                                      "vision"])
    assert result.exit_code == 0, result.output
    work = tmp_path / "home" / "models" / "base.work-random-micro"
    # The probe's run: the same loop from the random preset, text only.
    probe = pretrain_compare(Path(resolve_model("random-micro")), tmp_path / "probe",
                             [(("number",), 2)], 1e-3, 2, 2, 0, held_out=2)
    log = tmp_path / "probe.log"
    log.write_text("2 5 3.25 50.0 20.0\n- a note line\n")
    monkeypatch.setattr(sys, "argv", ["install", "--stages", str(probe), "--logs", str(log),
                                      "--", *SETTINGS])
    install.main()
    # What the build's own phase trains from its vision phase, for comparison.
    own = pretrain_compare(work / "vision" / "model", tmp_path / "own", [(("number",), 2)],
                           1e-3, 2, 2, 0, held_out=2)
    installed = load_file(str(work / "compare" / "stage0" / "model.safetensors"))
    trained = load_file(str(own / "model.safetensors"))
    assert set(installed) == set(trained)
    assert all((installed[k] == trained[k]).all() for k in trained)
    # The build reuses the installed phase (no training: its log holds the probe's row only).
    result = CliRunner().invoke(app, ["base", *SETTINGS, "--n_test", "10", "--stop_after",
                                      "compare"])
    assert result.exit_code == 0, result.output
    rows = (work / "compare" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 1 and '"heldout_judge": 50.0' in rows[0]
    assert (work / "compare" / "provenance.json").exists()
