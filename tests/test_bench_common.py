"""bench/common.py: a benchmark keeps one current section of PERF.md, a probe adds to its
question's notebook file, and the glance table follows the sections."""

import argparse
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PERF = """# Performance

## At a glance

<!-- at a glance -->
<!-- end at a glance -->

<!-- bench/a.py -->
## A (2026-01-01T00:00:00+00:00)

- commit: 1111111111111111
- command: `python bench/a.py`

| x |
|---|
| 1 |

- in short: old figure
<!-- end bench/a.py -->
"""


@pytest.fixture
def files(tmp_path, monkeypatch):
    """PERF.md and the notebook folder in a temporary checkout, the header made cheap."""
    (tmp_path / "PERF.md").write_text(PERF)
    monkeypatch.setattr(common, "ROOT", tmp_path)
    monkeypatch.setattr(common, "PERF", tmp_path / "PERF.md")
    monkeypatch.setattr(common, "NOTEBOOK", tmp_path / "notebook")
    monkeypatch.setattr(common, "header", lambda title: f"## {title} (2026-02-02T00:00:00+00:00)"
                        "\n\n- commit: 2222222222222222-dirty\n- command: `python x`\n")
    return tmp_path


def test_a_benchmark_replaces_its_own_section_and_the_glance_row(files):
    common.report("A", ["x"], [[2]], summary="new figure", section="bench/a.py")
    common.report("B", ["y"], [[3]], summary="b figure", section="bench/b.py")
    common.report("A", ["x"], [[4]], summary="newer figure", section="bench/a.py")
    doc = (files / "PERF.md").read_text()
    assert doc.count("<!-- bench/a.py -->") == 1 and "old figure" not in doc
    assert "| 4 |" in doc and "| 2 |" not in doc and "| 3 |" in doc
    assert doc.index("<!-- bench/a.py -->") < doc.index("<!-- bench/b.py -->")  # kept its place
    glance = doc[doc.index("<!-- at a glance -->"):doc.index("<!-- end at a glance -->")]
    assert "| `bench/a.py` | newer figure | `python x` | 2222222-dirty | 2026-02-02 |" in glance
    assert "| `bench/b.py` | b figure |" in glance


def test_a_probe_adds_to_its_notebook_file_and_leaves_perf_alone(files, capsys):
    common.report("Probe", ["x"], [[1]], notebook="some-question")
    common.report("Probe", ["x"], [[2]], notebook="some-question")
    text = (files / "notebook" / "some-question.md").read_text()
    assert text.startswith("# some-question") and text.index("| 1 |") < text.index("| 2 |")
    assert "README.md" in capsys.readouterr().out  # a new file is to be added to the index
    assert (files / "PERF.md").read_text() == PERF
    with pytest.raises(SystemExit, match="lower-case words"):
        common.report("Probe", ["x"], [[1]], notebook="../PERF")


def test_no_append_only_prints(files, capsys):
    common.report("A", ["x"], [[9]], append=False, section="bench/a.py")
    common.report("P", ["x"], [[9]], append=False, notebook="q")
    assert (files / "PERF.md").read_text() == PERF and not (files / "notebook").exists()
    assert capsys.readouterr().out.count("| 9 |") == 2


def test_probes_default_to_a_notebook_file_that_exists():
    parser = argparse.ArgumentParser()
    common.output_options(parser, notebook="rl-settings")
    assert parser.parse_args([]).notebook == "rl-settings"
    defaults = {probe.name: re.findall(r'notebook="([a-z-]+)"', probe.read_text())
                for probe in (ROOT / "experiments").glob("*.py")}
    assert defaults["rl_probe.py"] == ["rl-settings"]
    for probe, names in defaults.items():
        for name in names:
            assert (ROOT / "results" / "notebook" / f"{name}.md").exists(), probe


def test_the_committed_perf_md_is_short_and_every_section_is_a_benchmark():
    doc = (ROOT / "results" / "PERF.md").read_text()
    assert len(doc.splitlines()) < 300
    keys = [m.group("key") for m in common.SECTION.finditer(doc)]
    scripts = {k.split()[0] for k in keys}
    assert scripts == {f"bench/{p.name}" for p in (ROOT / "bench").glob("*.py")
                       if p.name != "common.py"}
    assert common.glance(doc) == doc  # the glance table is current
