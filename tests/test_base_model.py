"""`reftbench base`: the general mixture it trains on, its box oversampling, and a micro build."""

import json
import os
from collections import Counter

import pytest
from typer.testing import CliRunner

from reftbench.base_build.recipe import (BASE_PRESETS, WARM_UP_SETTINGS, BaseConfig, _fresh_unless_same,
                                  base_mixture, box_questions)
from reftbench.cli import app
from tasks.common import scene_rng
from tasks.general import generate as general


def _sample(i, tier, metric):
    return {"id": f"s{i}-{tier}", "tier": tier, "metric": metric}


def test_base_mixture_repeats_only_open_box_and_label_questions():
    samples = [_sample(0, "open", "box_iou"), _sample(0, "judge", "yes_no"),
               _sample(1, "open", "math_equiv"), _sample(2, "choice", "letters"),
               _sample(3, "open", "box_iou"), _sample(4, "open", "label_set_iou"),
               _sample(5, "judge", "yes_no")]
    counts = Counter(s["id"] for s in base_mixture(samples, 3))
    assert counts == {"s0-open": 3, "s3-open": 3, "s0-judge": 1, "s1-open": 1, "s2-choice": 1,
                      "s4-open": 1, "s5-judge": 1}
    counts = Counter(s["id"] for s in base_mixture(samples, 1, 4))
    assert counts["s4-open"] == 4 and counts["s0-open"] == 1 and len(counts) == 7
    counts = Counter(s["id"] for s in base_mixture(samples, 2, 1, 3))
    assert (counts["s1-open"], counts["s0-open"], counts["s4-open"], counts["s5-judge"]) == (
        3, 2, 1, 1)
    assert base_mixture(samples, 1) == samples


def test_warm_up_can_keep_only_flat_scenes_with_few_objects():
    def box(i, n, look):
        return {**_sample(i, "open", "box_iou"), "n_objects": n, "look": look}

    samples = [box(0, 1, "flat"), box(1, 2, "flat"), box(2, 1, "varied"), box(3, 3, "flat"),
               _sample(4, "open", "box_iou"),  # a borrowed detection question: no scene fields
               {**_sample(5, "judge", "yes_no"), "n_objects": 1, "look": "flat"}]
    assert [s["id"] for s in box_questions(samples, 1)] == ["s0-open"]
    assert [s["id"] for s in box_questions(samples, 2)] == ["s0-open", "s1-open"]
    assert len(box_questions(samples)) == 5


def _earlier_work(folder):
    (folder / "trainer" / "checkpoint-2").mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("{}\n")


def test_earlier_build_work_is_kept_only_with_the_same_settings(tmp_path):
    cfg = BaseConfig(**BASE_PRESETS["tiny"])
    folder = tmp_path / "locate"
    _earlier_work(folder)
    # Work from before settings were recorded is not trusted.
    _fresh_unless_same(cfg, folder, WARM_UP_SETTINGS, ("trainer", "metrics.jsonl"))
    assert sorted(p.name for p in folder.iterdir()) == ["settings.json"]
    _earlier_work(folder)
    _fresh_unless_same(cfg, folder, WARM_UP_SETTINGS, ("trainer", "metrics.jsonl"))
    assert (folder / "trainer" / "checkpoint-2").exists() and (folder / "metrics.jsonl").exists()
    # A setting the phase depends on changed: its earlier work goes, the new settings are kept.
    changed = BaseConfig(**{**BASE_PRESETS["tiny"], "locate_objects": 2})
    _fresh_unless_same(changed, folder, WARM_UP_SETTINGS, ("trainer", "metrics.jsonl"))
    assert not (folder / "trainer").exists() and not (folder / "metrics.jsonl").exists()
    assert json.loads((folder / "settings.json").read_text())["locate_objects"] == 2
    # One it does not depend on (the mixture's length) changes nothing.
    _earlier_work(folder)
    longer = BaseConfig(**{**BASE_PRESETS["tiny"], "locate_objects": 2, "sft_steps": 9})
    _fresh_unless_same(longer, folder, WARM_UP_SETTINGS, ("trainer", "metrics.jsonl"))
    assert (folder / "trainer" / "checkpoint-2").exists()


def test_general_mixture_locates_in_half_its_own_scenes_with_few_objects():
    kinds, sizes, looks = Counter(), Counter(), Counter()
    own = [i for i in range(400) if not general.is_borrowed(i)][:120]
    for index in own:  # the mixture's own questions
        image, scene = general.make_scene("train", index, scene_rng(0, "general", "train", index))
        assert "borrowed" not in scene
        kinds[scene["kind"]] += 1
        if scene["kind"] != "read":
            corners = {image.getpixel((x, y)) for x in (0, 111) for y in (0, 111)}
            look = scene["extras"]["look"]
            looks[look] += 1
            # The records say what the image shows (the warm-up selects flat scenes by it).
            assert (look == "flat") == (len(corners) == 1)
            assert scene["extras"]["n_objects"] == len(scene["objects"])
            assert [o[0] for o in scene["extras"]["objects"]] == [
                o["shape"] for o in scene["objects"]]
        if scene["kind"] == "locate":
            sizes[len(scene["objects"])] += 1
            assert scene["metric"] == "box_iou" and scene["answer"].startswith("[")
    assert kinds["locate"] == 60 and set(kinds) == {"locate", "describe", "count", "read"}
    assert set(sizes) == {1, 2}
    # The own object scenes come in three looks, about a third each.
    assert set(looks) == {"flat", "varied", "ood"}
    assert all(0.2 < n / sum(looks.values()) < 0.45 for n in looks.values()), looks


@pytest.mark.parametrize("share", [(1, 2), (1, 4), (3, 4)])
def test_borrowed_share_is_exact_and_both_orders_count_up(monkeypatch, share):
    monkeypatch.setattr(general, "BORROWED_SHARE", share)
    picked = [general.is_borrowed(i) for i in range(400)]
    assert sum(picked) == 400 * share[0] // share[1]
    # Each borrowed scene knows how many came before it, and so does each own one: the two
    # orders run 0, 1, 2, ... with no gap, so families and kinds are dealt round in turn.
    assert [general.borrowed_before(i) for i in range(400) if picked[i]] == list(range(sum(picked)))
    own = [i - general.borrowed_before(i) for i in range(400) if not picked[i]]
    assert own == list(range(400 - sum(picked)))


def test_borrowed_questions_come_in_both_looks_and_never_use_test_digits():
    from tasks.math import ood

    looks, digits = Counter(), set()
    for index in [i for i in range(800) if general.is_borrowed(i)][:200]:  # benchmark forms
        _, scene = general.make_scene("train", index, scene_rng(0, "general", "train", index))
        looks[(scene["borrowed"], scene["extras"]["look"])] += 1
        if scene.get("kind") in ("digit_sum", "digit_difference"):
            digits.add(scene["question"])
    assert {look for _, look in looks} == {"id", "ood"}
    assert all(looks[(f, "ood")] > 10 for f in ("detection", "classification", "math")), looks
    # The two halves of the bundled digits never meet: the general half is the odd indices.
    images, labels = ood._digits()
    import random

    rng = random.Random(0)
    picks = [ood.digit_sprite(rng, ood.GENERAL_DIGITS)[0] for _ in range(200)]
    assert all(any((p == images[i]).all() for i in range(1, len(images), 2)) for p in picks[:5])
    assert digits


def test_bad_mixture_settings_are_refused_before_any_work(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "home"))
    for key, value, message in (("--box_repeat", "0", "--box_repeat must be at least 1"),
                                ("--label_repeat", "0", "--label_repeat must be at least 1"),
                                ("--math_repeat", "0", "--math_repeat must be at least 1"),
                                ("--locate_steps", "-1", "--locate_steps must be 0 or more"),
                                ("--locate_objects", "-1", "--locate_objects must be 0 or more"),
                                ("--compare_steps", "-1", "--compare_steps must be 0 or more"),
                                ("--compare_number_steps", "-2",
                                 "--compare_number_steps must be 0 or more"),
                                ("--compare_rehearsal", "-1",
                                 "--compare_rehearsal must be 0 or more"),
                                ("--compare_chat", "-3", "--compare_chat must be 0 or more"),
                                ("--compare_kinds", "number,cube", "--compare_kinds must name"),
                                ("--compare_kinds", "box,box", "--compare_kinds must name"),
                                ("--compare_kinds", " , ", "--compare_kinds must name"),
                                ("--compare_lines", "0", "--compare_lines must be at least 1"),
                                ("--compare_sequences", "0",
                                 "--compare_sequences must be at least 1"),
                                ("--stop_after", "compare", "--stop_after compare: that phase "
                                                            "is off")):
        code, _, err = cli("base", key, value, "--output", tmp_path / "o")
        assert code == 2 and message in err, err
    assert not (tmp_path / "o").exists() and not (tmp_path / "home" / "data").exists()


def test_a_second_build_stops_instead_of_wiping_the_first_ones_work(cli, tmp_path,
                                                                      monkeypatch):
    from reftbench.runlock import RunLock

    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "home"))
    work = tmp_path / "home" / "models" / "base.work-random-micro"
    (work / "vision").mkdir(parents=True)
    (work / "vision" / "metrics.jsonl").write_text('{"step": 1}\n')
    with RunLock(work, "base build"):  # the first build, still running
        code, _, err = cli("base", "--model", "random-micro", "--fresh", "--vision_steps", "0",
                           "--sft_steps", "1", "--n_general", "12", "--output", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1, err
    assert f"{work} is in use by base build process {os.getpid()}" in err
    assert (work / "vision" / "metrics.jsonl").read_text() == '{"step": 1}\n'
    assert not (tmp_path / "o").exists()


def test_micro_base_builds_and_records_its_mixture(tmp_path, monkeypatch):
    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "home"))
    out = tmp_path / "base"
    result = CliRunner().invoke(app, ["base", "--model", "random-micro", "--sft_steps", "2",
                                      "--sft_batch_size", "4", "--n_general", "12",
                                      "--box_repeat", "2", "--locate_steps", "2",
                                      "--locate_objects", "1", "--locate_scenes", "40",
                                      "--logging_steps", "1", "--n_test", "10",
                                      "--vision_steps", "0", "--freeze_vision", "false",
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "reftbench_run.json").read_text())
    assert run["config"]["box_repeat"] == 2 and run["config"]["n_general"] == 12
    assert run["config"]["locate_objects"] == 1
    # The box-only warm-up ran first (its own log) and the mixture stage started from it.
    warm = [json.loads(line) for line in (out / "locate_metrics.jsonl").read_text().splitlines()]
    assert {row["stage"] for row in warm} == {"locate"} and warm[-1]["step"] == 2
    assert (out / "model.safetensors").exists() and (out / "config.json").exists()
    # The work folder is gone once the model is installed.
    assert not list((tmp_path / "home" / "models").glob("base.work-*"))


def _stop_after_then_finish(tmp_path, phase, settings):
    """Build a micro base in two calls, stopping after `phase` the first time; (the phase's
    work folder, its log lines when stopped, the shared command line)."""
    common = ["base", "--model", "random-micro", "--sft_steps", "1", "--sft_batch_size", "2",
              "--n_general", "12", "--n_test", "10", *settings,
              "--output", str(tmp_path / "base")]
    result = CliRunner().invoke(app, common + ["--stop_after", phase])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "home" / "models" / "base.work-random-micro" / phase
    assert not (tmp_path / "base").exists()
    logged = (folder / "metrics.jsonl").read_text().splitlines()
    result = CliRunner().invoke(app, common)  # goes on from the finished phase
    assert result.exit_code == 0, result.output
    return folder, logged, common


def test_a_build_can_stop_after_the_vision_phase_and_go_on_later(tmp_path, monkeypatch):
    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "home"))
    vision, logged, common = _stop_after_then_finish(
        tmp_path, "vision", ["--vision_steps", "2", "--vision_batch_size", "4",
                             "--locate_steps", "1", "--locate_scenes", "40"])
    last = json.loads(logged[-1])
    assert last["step"] == 2 and "heldout_cls" in last
    # The vision model was reused, not retrained: the installed log is the stopped one.
    assert (tmp_path / "base" / "vision_metrics.jsonl").read_text().splitlines() == logged
    assert json.loads((tmp_path / "base" / "vision_provenance.json").read_text())["git_commit"]
    bad = CliRunner().invoke(app, common + ["--stop_after", "mixture"])
    assert bad.exit_code != 0


def test_a_build_can_stop_after_the_comparison_phase_and_finish_from_it(tmp_path, monkeypatch):
    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "home"))
    _, logged, _ = _stop_after_then_finish(
        tmp_path, "compare", ["--vision_steps", "0", "--freeze_vision", "false",
                              "--locate_steps", "0", "--compare_number_steps", "1",
                              "--compare_steps", "1", "--compare_sequences", "2",
                              "--compare_lines", "2"])
    assert {json.loads(line)["stage"] for line in logged} == {"compare0", "compare1"}
    assert (tmp_path / "base" / "compare_metrics.jsonl").read_text().splitlines() == logged
    built = json.loads((tmp_path / "base" / "reftbench_run.json").read_text())
    assert built["config"]["compare_number_steps"] == 1 and built["config"]["compare_steps"] == 1


def test_resumed_build_retrains_a_warm_up_made_with_other_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("REFTBENCH_HOME", str(tmp_path / "home"))
    # A "finished" warm-up of an interrupted build with --locate_objects 2: unloadable on
    # purpose, so the build only succeeds if it trains the warm-up again.
    stale = tmp_path / "home" / "models" / "base.work-random-micro" / "locate"
    (stale / "model").mkdir(parents=True)
    (stale / "model" / "config.json").write_text("not a model")
    earlier = BaseConfig(**{**BASE_PRESETS["tiny"], "model": "random-micro", "sft_batch_size": 2,
                            "locate_steps": 1, "locate_objects": 2, "locate_scenes": 40,
                            "lr_scheduler": "constant", "sft_lr": 5e-5})
    settings = {name: getattr(earlier, name) for name in WARM_UP_SETTINGS}
    (stale / "settings.json").write_text(json.dumps(settings))
    result = CliRunner().invoke(app, ["base", "--model", "random-micro", "--sft_steps", "1",
                                      "--sft_batch_size", "2", "--n_general", "12",
                                      "--locate_steps", "1", "--locate_objects", "1",
                                      "--locate_scenes", "40", "--lr_scheduler", "constant",
                                      "--sft_lr", "5e-5", "--n_test", "10",
                                      "--vision_steps", "0", "--freeze_vision", "false",
                                      "--output", str(tmp_path / "base")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "base" / "locate_metrics.jsonl").exists()


def test_the_shipped_base_was_built_with_the_tiny_preset_as_it_stands():
    # `reftbench base` must rebuild what ships: a changed preset needs a rebuilt base.
    from reftbench.model.names import SHIPPED

    built = json.loads((SHIPPED / "reftbench_run.json").read_text())
    assert built["built_by"] == "reftbench base"
    differs = {k: (built["config"].get(k), v) for k, v in BASE_PRESETS["tiny"].items()
               if built["config"].get(k) != v}
    assert not differs, f"shipped base vs BASE_PRESETS['tiny'] (built, preset): {differs}"


def test_no_general_image_equals_a_test_image():
    from reftbench.data.generated import load_split
    from reftbench.samples import FAMILIES, TEST_SPLITS
    from reftbench.training.overlap import check_images_apart

    general = load_split("general", "train", n=60, tiers=("open",))
    tests = [s for f in FAMILIES for split in TEST_SPLITS
             for s in load_split(f, split, n=20, tiers=("open",))]
    check_images_apart(general, tests)  # passes: the streams never share a scene
    import pytest

    from reftbench.errors import UserError

    with pytest.raises(UserError, match="equal a test image"):
        check_images_apart(general + [tests[3]], tests)
