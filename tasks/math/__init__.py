"""Math family: counting and arithmetic read off the image (see generate.py and ood.py)."""
