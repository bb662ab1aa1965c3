"""experiments/perception_probe.py: its scenes and its exact-set breakdown."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.perception_probe import breakdown, scenes  # noqa: E402


def test_scenes_are_saved_with_their_objects_and_smallest_side(tmp_path):
    records = scenes("ood", 6, tmp_path)
    assert len(records) == 6 and all(Path(r["image_path"]).exists() for r in records)
    for r in records:
        sides = [x2 - x1 for _, _, x1, _, x2, _ in r["objects"]]
        assert r["smallest"] == min(sides)
        assert sorted({name for name, *_ in r["objects"]}) == r["labels"]
        assert all(colour is None for _, colour, *_ in r["objects"])  # ood inks: no colour name
    (tmp_path / "again").mkdir()
    again = scenes("ood", 6, tmp_path / "again")
    assert [r["labels"] for r in again] == [r["labels"] for r in records]  # own fixed seeds
    assert [r["labels"] for r in scenes("id", 6, tmp_path)] != [r["labels"] for r in records]


def test_breakdown_splits_by_objects_and_smallest_side():
    def held(objects, smallest):
        return {"objects": [None] * objects, "smallest": smallest}

    rows = [held(1, 40), held(1, 25), held(2, 30), held(4, 20)]
    out = breakdown([True, False, True, True], rows)
    assert out["all"] == "75.0 (4)"
    assert out["1 obj"] == "50.0 (2)" and out["2 obj"] == "100.0 (1)"
    assert out["3 obj"] == "-" and out["4 obj"] == "100.0 (1)"
    assert out["smallest 0-27"] == "50.0 (2)"
    assert out["smallest 28-33"] == "100.0 (1)" and out["smallest 34-98"] == "100.0 (1)"
