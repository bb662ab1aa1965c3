"""Detection family: referring-expression boxes on drawn shapes (see generate.py)."""
