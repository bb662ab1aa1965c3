"""experiments/skill_probe.py: the upscaled start model, and a one-step probe end to end on micro."""

import sys
from pathlib import Path

import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments import skill_probe  # noqa: E402
from reftbench.model.load import load_model  # noqa: E402


def _grid(model_dir) -> list[int]:
    _, processor = load_model(str(model_dir))
    image = Image.new("RGB", (112, 112))
    return processor.image_processor(images=[image],
                                     return_tensors="pt")["image_grid_thw"][0].tolist()


def test_image_side_upscales_a_copy_and_leaves_the_start_alone(tmp_path):
    assert skill_probe.start_copy("random-micro", 0, tmp_path / "same") == "random-micro"
    copy = skill_probe.start_copy("random-micro", 224, tmp_path / "big")
    assert _grid(copy) == [1, 16, 16]  # 224 / 14 patches a side: 64 image tokens after merging
    assert _grid("random-micro") == [1, 8, 8]
    with pytest.raises(SystemExit, match="--image-side 200 must be a multiple of 28"):
        skill_probe.start_copy("random-micro", 200, tmp_path / "odd")


def test_probe_trains_one_skill_and_prints_every_family(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["skill_probe.py", "--metric", "math_equiv", "--steps", "1",
                                      "--start", "random-micro", "--scenes", "12", "--limit", "2",
                                      "--n-test", "6", "--no-append"])
    skill_probe.main()
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("| trained on"))
    row = next(line for line in out.splitlines() if line.startswith("| math_equiv"))
    assert header.count("|") == row.count("|") == 14  # 7 settings + 6 family/split columns
    assert "| random-micro | as made | 1 |" in row and "| cpu |" in row and "appended" not in out
