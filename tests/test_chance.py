"""`reftbench chance`: image-blind answers scored by the one scorer, written as leaderboard rows."""

from reftbench.evaluation import chance
from reftbench.reports.leaderboard import build, collect, row_values


def _box(i, answer):
    return {"id": f"d{i}", "family": "detection", "split": "id", "tier": "open",
            "image": "x.png", "question": "Where?", "answer": answer, "metric": "box_iou"}


def test_constant_answer_is_the_best_one_and_reaches_the_leaderboard(tmp_path, monkeypatch):
    common, rare = "[10, 10, 50, 50]", "[60, 60, 100, 100]"
    # Test questions: 3 of 4 have the common box; the pool beyond the limit offers both boxes.
    records = [_box(0, common), _box(1, common), _box(2, common), _box(3, rare),
               _box(4, rare), _box(5, common)]
    monkeypatch.setattr(chance, "load_split", lambda *a, **k: records)
    level = chance.chance_levels("detection", "id", limit=4, draws=50, seed=0)
    assert level["answer"] == common and level["constant"] == 0.75 and level["n"] == 4
    assert 0.25 <= level["random"] <= 0.75  # a mix of the two boxes' scores
    chance.write_runs([level], tmp_path, limit=4, draws=50, seed=0)
    grouped = collect(tmp_path)
    assert set(grouped) == {"chance: random answer", "chance: best constant"}
    cell = row_values(grouped["chance: best constant"])["detection/id"]
    assert cell[0] == 0.75
    # The leaderboard says which rows no model produced.
    build(tmp_path)
    text = (tmp_path / "LEADERBOARD.md").read_text()
    assert "not by evaluating a model: chance: best constant (`reftbench chance`)" in text


def test_label_sets_are_scored_as_exact_sets(monkeypatch):
    rows = [{"id": f"c{i}", "family": "classification", "split": "id", "tier": "open",
             "image": "x.png", "question": "Which?", "answer": a, "metric": "label_set_iou"}
            for i, a in enumerate(["circle", "circle, star", "circle", "star", "circle",
                                  "circle, star"])]
    monkeypatch.setattr(chance, "load_split", lambda *a, **k: rows)
    level = chance.chance_levels("classification", "id", limit=3, draws=5, seed=0)
    # "circle" is exactly right on 2 of 3 (set-IoU would have given it 2.5 of 3).
    assert level["answer"] == "circle" and abs(level["constant"] - 2 / 3) < 1e-9


def test_chance_command_writes_both_rows(cli, tmp_path):
    code, out, err = cli("chance", "--limit", "3", "--draws", "2", "--n-test", "6",
                         "--results-dir", tmp_path)
    assert code == 0, err
    assert set(collect(tmp_path)) == {"chance: random answer", "chance: best constant"}
