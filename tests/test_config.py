"""Dataclass configs: preset < YAML < command line, strict keys and types, clear YAML errors."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reftbench.config import coerce, load_yaml, parse_overrides, resolve
from reftbench.errors import UserError


@dataclass
class Demo:
    """A config with one field of every kind the real configs use."""

    # Learning rate.
    lr: float = 1e-5
    # Optimiser steps.
    steps: int = 10
    # A switch.
    use_vllm: bool = False
    # A name.
    name: str = "default"
    # A list of names.
    families: tuple[str, ...] = ("a", "b")
    # A list of numbers.
    sizes: tuple[int, ...] = (1, 2)
    # Optional cap.
    limit: int | None = None
    # Free-form mapping.
    extra: dict = field(default_factory=dict)


PRESETS = {"tiny": {"steps": 5, "name": "tiny"}, "large": {"steps": 500, "lr": 1e-6}}


def yaml_file(tmp_path, text, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def one_line(exc_info):
    message = str(exc_info.value)
    assert "\n" not in message, message
    return message


def test_preset_then_yaml_then_command_line(tmp_path):
    path = yaml_file(tmp_path, "steps: 7\nlr: 3.0e-4\nfamilies: [x, y, z]\n")
    cfg = resolve(Demo, PRESETS, "tiny", path, ["--steps", "9", "--use-vllm=true"])
    assert cfg == Demo(lr=3e-4, steps=9, use_vllm=True, name="tiny", families=("x", "y", "z"))
    assert resolve(Demo, PRESETS, "large") == Demo(steps=500, lr=1e-6)
    assert resolve(Demo, PRESETS, "tiny", overrides={"name": "dict-form"}).name == "dict-form"


def test_unknown_keys_and_presets_suggest_the_nearest(tmp_path):
    with pytest.raises(UserError) as err:
        resolve(Demo, PRESETS, "tiny", overrides=["--stpes", "3"])
    assert "unknown config key 'stpes' in the command line (did you mean steps?)" in one_line(err)
    path = yaml_file(tmp_path, "use_vlm: true\n")
    with pytest.raises(UserError) as err:
        resolve(Demo, PRESETS, "tiny", path)
    assert str(path) in one_line(err) and "did you mean use_vllm" in one_line(err)
    with pytest.raises(UserError) as err:
        resolve(Demo, PRESETS, "tinyy")
    assert "did you mean tiny" in one_line(err) and "tiny, large" in one_line(err)


@pytest.mark.parametrize("key, value", [
    ("steps", "abc"), ("steps", 1.5), ("steps", "1.5"), ("steps", True), ("lr", "fast"),
    ("lr", [1]), ("name", ["a"]), ("name", {"a": 1}), ("families", 5), ("sizes", "3,x"),
    ("extra", "a=1"), ("use_vllm", "maybe"), ("use_vllm", 2), ("limit", "lots"),
])
def test_wrong_types_name_the_key(key, value):
    with pytest.raises(UserError) as err:
        resolve(Demo, PRESETS, "tiny", overrides={key: value})
    assert f"config key '{key}' expects" in one_line(err)


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("True", True), ("yes", True), ("on", True), ("1", True), (True, True),
    ("false", False), ("no", False), ("off", False), ("0", False), (False, False),
])
def test_bool_parsing(text, expected):
    assert coerce("use_vllm", text, bool) is expected


def test_tuple_optional_and_number_parsing():
    cfg = resolve(Demo, PRESETS, "tiny", overrides=["--families", " p, q ,r ", "--sizes", "3,4",
                                                    "--limit", "none", "--lr", "1e-3"])
    assert (cfg.families, cfg.sizes, cfg.limit, cfg.lr) == (("p", "q", "r"), (3, 4), None, 1e-3)
    assert resolve(Demo, PRESETS, "tiny", overrides=["--families", ""]).families == ()
    assert resolve(Demo, PRESETS, "tiny", overrides=["--limit", "7"]).limit == 7
    assert resolve(Demo, PRESETS, "tiny", overrides={"steps": 4.0, "lr": 1}).steps == 4


def test_override_syntax():
    assert parse_overrides(["--lr", "-1e-5", "--beta=0.04"]) == {"lr": "-1e-5", "beta": "0.04"}
    for bad in (["--lr"], ["--lr", "--beta", "1"], ["lr", "1"]):
        with pytest.raises(UserError):
            parse_overrides(bad)


def test_missing_and_malformed_yaml(tmp_path):
    with pytest.raises(UserError) as err:
        load_yaml(tmp_path / "nope.yaml")
    assert "nope.yaml does not exist" in one_line(err)
    with pytest.raises(UserError) as err:
        load_yaml(tmp_path)  # a folder
    assert str(tmp_path) in one_line(err)
    bad = yaml_file(tmp_path, "steps: 3\nfamilies: [a, b\nlr: 1\n")
    with pytest.raises(UserError) as err:
        load_yaml(bad)
    assert "is not valid YAML at line" in one_line(err) and str(bad) in one_line(err)
    with pytest.raises(UserError) as err:
        load_yaml(yaml_file(tmp_path, "- a\n- b\n", "list.yaml"))
    assert "must hold a mapping" in one_line(err)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UserError):
        load_yaml(binary)
    assert load_yaml(yaml_file(tmp_path, "", "empty.yaml")) == {}
    assert isinstance(load_yaml(Path(yaml_file(tmp_path, "a: 1\n", "ok.yaml"))), dict)


def test_bounds_name_the_key_and_the_range():
    from reftbench.config import Bound, above, at_least, between, check_bounds, one_of

    @dataclass
    class C:
        # steps
        steps: int = 1
        # learning rate
        lr: float = 0.1
        # seed
        seed: int = 0
        # dtype
        dtype: str = "float32"
        # per-stage sizes
        sizes: tuple[int, ...] = (2, 2)
        # optional
        limit: int | None = None

    bounds = {"steps": at_least(1), "lr": above(0), "seed": between(0, 9),
              "dtype": one_of("float32", "bfloat16"), "sizes": at_least(2), "limit": at_least(1)}
    check_bounds(C(), bounds)
    for key, value, message in (
            ("steps", -5, "config key 'steps' must be at least 1, got -5"),
            ("lr", 0.0, "config key 'lr' must be above 0, got 0.0"),
            ("lr", float("nan"), "config key 'lr' must be a finite number, got nan"),
            ("lr", float("inf"), "config key 'lr' must be a finite number, got inf"),
            ("seed", 10, "config key 'seed' must be between 0 and 9, got 10"),
            ("seed", -1, "config key 'seed' must be between 0 and 9, got -1"),
            ("dtype", "float8",
             "config key 'dtype' must be one of float32, bfloat16, got 'float8'"),
            ("sizes", (2, 1), "config key 'sizes' must be at least 2, got 1"),
            ("limit", 0, "config key 'limit' must be at least 1, got 0")):
        with pytest.raises(UserError) as err:
            check_bounds(C(**{key: value}), bounds)
        assert str(err.value) == message
    assert Bound().problem(-1e300) is None
    # A range open at its low end says so (top_p = 0 is not "between 0 and 1").
    assert Bound(0, False, 1).problem(0) == "must be above 0 and at most 1"


def test_every_trainer_preset_is_within_bounds_and_every_number_is_bounded():
    import dataclasses

    from reftbench.registry import load_trainer, trainers
    from reftbench.training.config import BOUNDS, validate

    for name in trainers():
        plugin = load_trainer(name)
        for preset in plugin.presets:
            validate(resolve(plugin.config_cls, plugin.presets, preset))
        for f in dataclasses.fields(plugin.config_cls):
            numeric = f.type in ("int", "float", "int | None", "float | None",
                                 "tuple[int, ...]") or f.name == "dtype"
            assert not numeric or f.name in BOUNDS, f"{name}: {f.name} has no bound"


def test_a_later_group_of_overrides_replaces_an_earlier_ones_value():
    from reftbench.config import merge_overrides, parse_overrides

    assert merge_overrides(["--eval_limit", "500", "--seed", "1"], ["--eval_limit=5"]) == [
        "--eval_limit", "5", "--seed", "1"]
    with pytest.raises(UserError, match=r"override --beta is given twice \('0.1' and '0.2'\)"):
        parse_overrides(["--beta", "0.1", "--beta=0.2"])


def test_error_lines_show_a_huge_value_cut_short():
    from reftbench.config import shown

    assert len(shown("9" * 100_000)) <= 80 and len(shown([[["x"] * 9] * 9] * 9)) <= 80
