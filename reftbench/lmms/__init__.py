"""reftbench and lmms-eval: the `reftbench` model class; standard benchmarks in `reftbench eval`.

    lmms-eval --include_path tasks --tasks reftbench_math_ood --model reftbench \
              --model_args pretrained=base --batch_size 16

    from reftbench.lmms.run import run_lmms_tasks
    run_lmms_tasks("outputs/run1/final", ["ai2d", "mathvista_testmini"], limit=100)
    # {"lmms/ai2d": {"n": 100, "exact_match": 0.41, "exact_match_stderr": 0.05}, ...}

lmms-eval finds the model through the `lmms_eval.models` entry point (pyproject.toml), which
names `manifest` below: listing models imports only this file, never torch. The class lives in
`reftbench/lmms/model.py`, the runner in `reftbench/lmms/run.py`; lmms-eval is an optional
extra (`pip install -e '.[lmms]'`, see the README for the pins it needs).
"""

# The name lmms-eval knows the model by (--model reftbench).
MODEL_ID = "reftbench"
# Where the class is, as lmms-eval's registry wants it ("package.module.Class").
MODEL_CLASS = "reftbench.lmms.model.ReftbenchLMM"


def manifest():
    """The `lmms_eval.models` entry point: how lmms-eval registers the reftbench model class."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id=MODEL_ID, simple_class_path=MODEL_CLASS)
