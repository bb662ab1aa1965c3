"""The evaluation protocol: every setting that changes a score besides the model, as one record.

    protocol = describe(cfg, backend, samples, frame)   # written into results.json["protocol"]
    same_protocol(a, b)                                 # may two rows share a table?
    differences(a, b)                                   # ["max_new_tokens 64 vs 256", ...]

Two rows of a leaderboard compare models only if they were scored the same way: the same room to
answer (max_new_tokens), the same image size (the processor's pixel bounds, as applied), the same
weights' dtype, the same sampling, the same prompt wording, the same test questions (a digest
of their ids and gold answers) and boxes in the same frame. `reftbench compare`, `train` and
`demo` build the base's and every trained model's evaluation from one function
(reftbench/training/run.py `final_eval_config`), so their rows share one protocol; the
leaderboard refuses to put rows with different protocols in one table unless told to.

Results files written before the protocol was recorded have none: `of_results` rebuilds what
their config says (length, sampling, test size, data) and leaves the rest unknown, and an unknown
field never counts as a difference.
"""

from __future__ import annotations

import hashlib
import json

from reftbench.prompts import ANSWER_FORMS, FORMAT_INSTRUCTION

# Fields of the record, in the order they are shown.
FIELDS = ("max_new_tokens", "min_pixels", "max_pixels", "dtype", "samples", "sample_temperature",
          "prompt", "data", "limit", "questions", "box_frame", "box_metric")


def prompt_digest() -> str:
    """8 hex digits over the prompt's fixed wording (format instruction and answer forms)."""
    text = json.dumps([FORMAT_INSTRUCTION, ANSWER_FORMS], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def data_source(cfg) -> str:
    """Where the questions came from: a real-data folder, or the generated data's version."""
    if cfg.data:
        return f"folder {cfg.data}"
    from tasks import DATA_VERSION

    return f"generated v{DATA_VERSION} seed {cfg.seed} n_test {cfg.n_test or 'default'}"


def _pixels(backend) -> tuple[int | None, int | None]:
    image_processor = getattr(getattr(backend, "processor", None), "image_processor", None)
    size = getattr(image_processor, "size", None)
    try:
        return int(size["shortest_edge"]), int(size["longest_edge"])
    except (TypeError, KeyError, ValueError):
        return None, None


def _dtype(backend, cfg) -> str:
    model = getattr(backend, "model", None)
    dtype = getattr(model, "dtype", None)
    return str(dtype).removeprefix("torch.") if dtype is not None else cfg.dtype


def describe(cfg, backend, samples: list[dict], frame: str) -> dict:
    """The protocol of an evaluation with config `cfg` on `backend` (the values as applied)."""
    from reftbench.evaluation.run_identity import samples_digest

    low, high = _pixels(backend)
    return {
        "max_new_tokens": cfg.max_new_tokens,
        "min_pixels": low,
        "max_pixels": high,
        "dtype": _dtype(backend, cfg),
        "samples": cfg.samples,
        "sample_temperature": cfg.sample_temperature if cfg.samples else None,
        "prompt": prompt_digest(),
        "data": data_source(cfg),
        "limit": cfg.limit,
        "questions": samples_digest(samples),
        "box_frame": frame,
        "box_metric": cfg.box_metric,
    }


def of_results(results: dict) -> dict:
    """A results file's protocol; for an older file, what its config tells (the rest None)."""
    recorded = results.get("protocol")
    if isinstance(recorded, dict):
        return {key: recorded.get(key) for key in FIELDS}
    config = results.get("config") if isinstance(results.get("config"), dict) else {}
    samples = config.get("samples") or 0
    rebuilt = dict.fromkeys(FIELDS)
    rebuilt.update(max_new_tokens=config.get("max_new_tokens"), samples=samples,
                   limit=config.get("limit"),
                   sample_temperature=config.get("sample_temperature") if samples else None)
    return rebuilt


def differences(a: dict, b: dict) -> list[str]:
    """'field A vs B' for each field both record with different values (unknown ones skipped).

    The question digest is left out: rows over different question counts (a general-mixture
    check, a --limit) are told apart by their own columns; the data source is compared.
    """
    return [f"{key} {a[key]} vs {b[key]}" for key in FIELDS
            if key != "questions" and a.get(key) is not None and b.get(key) is not None
            and a[key] != b[key]]


def same_protocol(a: dict, b: dict) -> bool:
    """True when no field recorded by both differs."""
    return not differences(a, b)


def comparable(grouped: dict[str, list[dict]], reference: str = "base"):
    """(rows scored under the reference row's protocol, {left-out label: why}).

    The reference is the `reference` row when there is one (the start model of a comparison),
    else the row with most runs. A row some of whose runs differ keeps the runs that match.
    """
    if not grouped:
        return grouped, {}
    ref_label = reference if reference in grouped else max(grouped, key=lambda k: len(grouped[k]))
    ref = of_results(grouped[ref_label][0])
    kept, left = {}, {}
    for label, runs in grouped.items():
        matching = [run for run in runs if same_protocol(ref, of_results(run))]
        if matching:
            kept[label] = matching
        if len(matching) < len(runs):
            other = next(run for run in runs if run not in matching)
            left[label] = (f"{len(runs) - len(matching)} of its {len(runs)} run(s) scored under "
                           f"another protocol than {ref_label}: "
                           + ", ".join(differences(of_results(other), ref)))
    return kept, left
