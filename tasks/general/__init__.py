"""The base model's general mixture (not a benchmark family): see generate.py."""
