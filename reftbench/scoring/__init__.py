"""Scoring: the one strict scorer (`rewards.score`), the built-in metrics it dispatches to, and the
time-limited maths checker. Training rewards and evaluation metrics both come from here."""
