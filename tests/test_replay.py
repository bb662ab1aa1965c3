"""Curr-ReFT's rejection-sampling SFT replays the user's own general data (`replay_data`)."""

import json
import logging

import pytest
from PIL import Image

from reftbench.errors import UserError
from reftbench.training.datasets import THINK_TEMPLATES, target_completion
from reftbench.training.replay import load_replay

OPEN = THINK_TEMPLATES["open"]
# Each good row, and the SFT target it must give.
GOOD = [
    ({"image": "imgs/a.png", "question": "What colour is the bus?", "answer": "red"},
     f"<think>{OPEN}</think><answer>red</answer>"),
    ({"messages": [{"role": "user", "content": "<image>How many cats?"},
                   {"role": "assistant", "content": "<answer>3</answer>"}],
      "images": ["/home/authors/SFT_data/images/imgs/b.png"]},  # another machine's path
     f"<think>{OPEN}</think><answer>3</answer>"),
    ({"messages": [{"role": "system", "content": "You are helpful."},
                   {"role": "user", "content": [{"type": "image"},
                                                {"type": "text", "text": "Describe it."}]},
                   {"role": "assistant", "content": [
                       {"type": "text", "text": "<think>A dog lies on grass.</think>"
                                                "<answer>a dog on grass</answer>"}]}],
      "image": "imgs/a.png"},
     "<think>A dog lies on grass.</think><answer>a dog on grass</answer>"),
]
TEXT_ONLY = {"messages": [{"role": "user", "content": "What is 2 + 2?"},
                          {"role": "assistant", "content": "<answer>4</answer>"}]}
BAD = {  # line -> what the warning says
    5: ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
         "image": "imgs/a.png"}, "one user turn then one assistant turn"),
    6: ({"image": "imgs/a.png", "question": "Where?"}, "string question and answer"),
    7: ({"image": "../secret.png", "question": "Q", "answer": "x"}, "leaves the image root"),
    8: ({"image": "imgs/a.png", "question": "Q", "answer": "<answer>1</answer><answer>2"},
        "broken or repeated <answer> tags"),
    9: ({"images": ["imgs/a.png", "imgs/b.png"], "question": "Q", "answer": "x"}, "2 images"),
}


@pytest.fixture
def replay_file(tmp_path):
    for name in ("a.png", "b.png"):
        (tmp_path / "imgs").mkdir(exist_ok=True)
        Image.new("RGB", (32, 32), (200, 30, 30)).save(tmp_path / "imgs" / name)
    (tmp_path.parent / "secret.png").write_bytes(b"png")
    rows = [r for r, _ in GOOD] + [TEXT_ONLY] + [r for r, _ in BAD.values()]
    path = tmp_path / "general.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rows_of_both_forms_become_sft_targets(replay_file, caplog):
    with caplog.at_level(logging.WARNING):
        records = load_replay(replay_file)
    assert [r["id"] for r in records] == ["replay-1", "replay-2", "replay-3", "replay-4"]
    assert [target_completion(r) for r in records[:3]] == [target for _, target in GOOD]
    assert [r["question"] for r in records] == ["What colour is the bus?", "How many cats?",
                                                "Describe it.", "What is 2 + 2?"]
    assert records[1]["image_path"] == str((replay_file.parent / "imgs" / "b.png").resolve())
    # A text-only row is kept (the paper's replay had 500 of 1,520) and trains on its text.
    assert records[3]["image_path"] is None and records[3]["answer"] == "4"
    messages = [r.getMessage() for r in caplog.records]
    for line, (_, why) in BAD.items():
        assert any(f"general.jsonl:{line}: " in m and why in m for m in messages), (line, why)
    with pytest.raises(UserError, match="general.jsonl:5: "):
        load_replay(replay_file, strict=True)


def test_replay_samples_read_the_file_instead_of_the_generated_mixture(replay_file):
    from reftbench.config import resolve
    from reftbench.registry import load_trainer
    from reftbench.training.splits import replay_samples

    plugin = load_trainer("curr-reft")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny",
                  overrides={"replay_data": str(replay_file), "n_train": "12"})
    assert sorted(r["id"] for r in replay_samples(cfg, 10)) == ["replay-1", "replay-2", "replay-3",
                                                                "replay-4"]
    assert len(replay_samples(cfg, 2)) == 2
    generated = resolve(plugin.config_cls, plugin.presets, "tiny")
    assert all(r["family"] == "general" and not r["id"].startswith("replay-")
               for r in replay_samples(generated, 3))


def test_rejection_sft_trains_on_kept_answers_and_the_replay_file(replay_file, tmp_path,
                                                                   monkeypatch, micro):
    import reftbench.generation.backends
    import reftbench.training.datasets as datasets
    from reftbench.config import resolve
    from reftbench.registry import load_trainer
    from test_trainers import fast
    from trainers.curr_reft import rejection_stage

    class Gold:
        batch_size = 4

        def __init__(self, *a, **k):
            pass

        def generate(self, samples, sampling):
            return [[f"<think>t</think><answer>{s['answer']}</answer>"] * sampling.n
                    for s in samples]

    seen = []
    original = datasets.sft_dataset
    monkeypatch.setattr(reftbench.generation.backends, "TransformersBackend", Gold)
    monkeypatch.setattr(datasets, "sft_dataset",
                        lambda samples, completions: seen.append(completions) or
                        original(samples, completions))
    plugin = load_trainer("curr-reft")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny",
                  overrides=fast("curr-reft", replay_data=str(replay_file), replay_ratio="1.0",
                                 rs_sft_steps="1", families="math"))
    stage = tmp_path / "stage"
    stage.mkdir()
    rejection_stage(cfg, 4).run("random-micro", stage, None)
    (completions,) = seen
    kept = len(completions) - 3
    assert kept == 3  # rs_prompts math prompts, all right; then three of the four replay rows
    assert set(completions[kept:]) <= {target for _, target in GOOD} | {
        "<think>I look at the image and work out the answer.</think><answer>4</answer>"}
    assert (stage / "model" / "model.safetensors").exists()
    record = json.loads((stage / "replay.json").read_text())
    assert record["source"] == str(replay_file) and record["rows"] == 3


def test_image_and_text_only_examples_train_in_one_batch(replay_file, tmp_path, micro):
    from reftbench.config import resolve
    from reftbench.registry import load_trainer
    from reftbench.training.datasets import sft_dataset
    from reftbench.training.sft_stage import run_sft
    from test_trainers import fast

    records = load_replay(replay_file)
    data = sft_dataset(records)
    assert [len(row["images"]) for row in data] == [1, 1, 1, 0]
    plugin = load_trainer("sft")
    cfg = resolve(plugin.config_cls, plugin.presets, "tiny", overrides=fast("sft"))
    assert (run_sft(cfg, "random-micro", data, tmp_path / "s", 1, 1e-4, 4, "mixed")
            / "model.safetensors").exists()


def test_real_data_without_a_replay_file_refuses_synthetic_replay(tmp_path):
    from pathlib import Path

    from reftbench.config import resolve
    from reftbench.registry import load_trainer
    from reftbench.training.run import check_data

    fixture = Path(__file__).parent / "fixtures" / "refdata"
    plugin = load_trainer("curr-reft")

    def cfg(**extra):
        return resolve(plugin.config_cls, plugin.presets, "tiny",
                       overrides={"data": str(fixture), **extra})

    with pytest.raises(UserError, match="--replay_data FILE.*--replay_ratio 0.*--replay_synthetic"):
        check_data(cfg())
    check_data(cfg(replay_synthetic=True))
    check_data(cfg(replay_ratio=0))


def test_a_missing_replay_file_stops_the_run_before_training(tmp_path):
    from reftbench.training.run import train

    with pytest.raises(UserError, match="replay_data .* does not exist"):
        train("curr-reft", overrides={"model": "random-micro", "n_train": "12", "n_test": "8",
                                      "replay_data": str(tmp_path / "nope.jsonl")},
              output=tmp_path / "run")
    assert not (tmp_path / "run" / "stages").exists()
