"""Task data: generated splits (`generated`), a flat real-data folder (`refdata`) and the
Curr-ReFT release layout (`release`), all read into the sample records of `reftbench.samples`."""
