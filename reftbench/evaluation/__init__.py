"""Evaluation: every family x split x tier scored strictly, resumable (`evaluate`), what produced a
run (`run_identity`), per-cell aggregates (`stats`) and the image-blind chance rows (`chance`)."""
