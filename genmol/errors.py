"""User-facing errors.

Anything a user can cause (a wrong flag, a missing file, a malformed record, a graph
that does not fit its padding budget) raises :class:`GenmolError` with one sentence
naming the problem. The CLI prints that sentence and exits with status 2; ``--debug``
shows the traceback.
"""


class GenmolError(Exception):
    """An error caused by user input, reported without a traceback."""


class ConfigError(GenmolError, ValueError):
    """A config file or override is wrong (unknown key or name, bad value, missing file)."""


class BudgetError(GenmolError):
    """A graph does not fit the padding budget (nodes, edges or graphs)."""


class TrainingDiverged(GenmolError):
    """The loss became non-finite; the last good checkpoint is kept."""
