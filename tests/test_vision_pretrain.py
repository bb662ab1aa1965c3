"""Vision-tower pretraining: dense targets from drawn-object lists, and a micro run."""

import pytest
import torch
from safetensors.torch import load_file

from reftbench.data.generated import load_split
from reftbench.base_build.vision_pretrain import CLASSES, COLOURS, NO_DIGIT, pretrain_vision, targets


def test_targets_put_each_object_in_the_cell_of_its_centre():
    record = {"objects": [["circle", "red", 0, 0, 20, 20], ["star", None, 60, 80, 100, 110]],
              "number": 7}
    t = targets(record, grid=4, side=112)
    assert t["obj"].nonzero().flatten().tolist() == [0, 14]  # (0, 0) and row 3, column 2
    assert t["cls"][0] == CLASSES.index("circle") and t["cls"][14] == CLASSES.index("star")
    assert t["colour"][0] == COLOURS.index("red") and t["colour"][14] == len(COLOURS)
    assert t["box"][14].tolist() == pytest.approx([60 / 112, 80 / 112, 100 / 112, 110 / 112])
    assert t["present"].sum() == 2 and t["count"] == 2
    assert (t["tens"], t["units"]) == (NO_DIGIT, 7)
    assert targets({"number": 42}, 4, 112)["tens"] == 4
    empty = targets({}, 4, 112)
    assert empty["obj"].sum() == 0 and empty["tens"] == -100 and (empty["cls"] == -100).all()


def test_general_records_carry_the_drawn_objects():
    rows = load_split("general", "train", n=12)
    own = [r for r in rows if r.get("n_objects")]
    assert own and all(len(r["objects"]) == r["n_objects"] for r in own)
    assert all(name in CLASSES for r in rows for name, *_ in r.get("objects", []))


def test_micro_pretraining_changes_only_the_vision_tower(tmp_path):
    from reftbench.model.names import ensure_preset, preset_path

    records = [r for r in load_split("general", "train", n=24) if r["tier"] == "open"]
    logged = []
    out = pretrain_vision("random-micro", records, tmp_path, steps=3, lr=1e-3, batch_size=4, seed=0,
                          log=logged.append, held_out=records[:5])
    before = load_file(str(ensure_preset("random-micro") / "model.safetensors"))
    after = load_file(str(out / "model.safetensors"))
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".visual." in k or k.startswith("visual.") for k in changed)
    assert logged[-1]["held_out"] == 5 and 0 <= logged[-1]["heldout_set"] <= 1
    assert preset_path("random-micro").exists()


def test_batches_cut_patches_exactly_as_the_processor_does():
    from reftbench.data.generated import load_image
    from reftbench.model.load import load_model
    from reftbench.base_build.vision_pretrain import Batches

    _, processor = load_model("random-micro")
    records = [r for r in load_split("general", "train", n=6) if r["tier"] == "open"]
    batches = Batches(records, processor, batch_size=3, seed=0)
    pixels, grid = batches.encode([0, 2, 5])
    want = processor.image_processor(images=[load_image(records[i]["image_path"])
                                             for i in (0, 2, 5)], return_tensors="pt")
    assert torch.equal(grid, want["image_grid_thw"])
    assert torch.allclose(pixels, want["pixel_values"], atol=1e-5)
    got_pixels, got_grid, gold = batches.next()
    assert (got_pixels.shape == (3 * 64, want["pixel_values"].shape[1])
            and gold["obj"].shape == (3, 16))


def test_a_killed_pretraining_goes_on_from_its_checkpoint_and_ends_the_same(tmp_path):
    from reftbench.base_build.vision_pretrain import CHECKPOINT, checkpoint_step

    records = [r for r in load_split("general", "train", n=24) if r["tier"] == "open"]
    common = dict(steps=4, lr=1e-3, batch_size=4, seed=0, save_every=2)
    whole = pretrain_vision("random-micro", records, tmp_path / "whole", **common)

    class Killed(BaseException):
        pass

    def killed_at_step_3(row):
        if row.get("step") == 3:
            raise Killed

    with pytest.raises(Killed):  # logs every step below 25 only at the end: log each step
        pretrain_vision("random-micro", records, tmp_path / "cut", **common,
                        log=killed_at_step_3, held_out=records[:2], eval_every=1)
    assert checkpoint_step(tmp_path / "cut") == 2
    resumed = pretrain_vision("random-micro", records, tmp_path / "cut", **common)
    assert not (tmp_path / "cut" / CHECKPOINT).exists()
    a, b = (load_file(str(folder / "model.safetensors")) for folder in (whole, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)
