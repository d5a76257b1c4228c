"""Errors that are the user's to fix, as opposed to bugs.

`python3 -m training` prints a UsageError (and data/datasets.py's DataError, FileNotFoundError) as one `error: ...`
line with exit code 2. Every other exception, a KeyError from a typo in the code included, is a bug and keeps its
traceback: so raise UsageError only for a command line that cannot work, never a bare KeyError or ValueError.
"""


class UsageError(ValueError):
    """A command line that cannot work: an unknown --arch, an --init checkpoint of another architecture, a --teacher
    or --ensemble member that reads other input than the run."""
