"""Trainer plugins: one file per training method, each exporting `TRAINER`.

Found by name through `reftbench.registry` (lazily: listing them imports nothing here).
To add one, copy `sft.py` (one stage) or `curr_rl.py` (several), register it in
`reftbench.registry.BUILTIN_TRAINERS` or through the `reftbench.trainers` entry point.
"""
