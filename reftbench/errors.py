"""The one exception type that reaches the user as a single clear line.

Raise `UserError("what went wrong, naming the file/row/option, and what to do")` for bad input;
the CLI prints it without a traceback (unless `--debug`) and exits non-zero.
"""


class UserError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""
