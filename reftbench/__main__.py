"""`python -m reftbench ...` = the `reftbench` command; also what launchers run:
`accelerate launch --num_processes 8 -m reftbench train grpo ...` (see README, Scaling out)."""

from reftbench.cli import main

main()
