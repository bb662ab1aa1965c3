"""Classification family: which shape categories appear, multi-label (see generate.py)."""
