"""User-facing errors.

Anything a user can cause (a wrong flag, a missing file, a malformed record, a graph
that does not fit its padding budget) raises :class:`GenmolError` with one sentence
naming the problem. The CLI prints that sentence and exits with status 2; ``--debug``
shows the traceback. The scripts under ``scripts/`` and ``experiments/`` do the same through
:func:`run_script` (``GENMOL_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import os
import sys


class GenmolError(Exception):
    """An error caused by user input, reported without a traceback."""


class ConfigError(GenmolError, ValueError):
    """A config file or override is wrong (unknown key or name, bad value, missing file)."""


class BudgetError(GenmolError):
    """A graph does not fit the padding budget (nodes, edges or graphs)."""


class TrainingDiverged(GenmolError):
    """The loss became non-finite; the last good checkpoint is kept."""


class Interrupted(GenmolError):
    """The user stopped a long job (Ctrl-C); the sentence says what was kept. Exit status 130."""


def run_script(main) -> None:
    """Runs a script's ``main()``; a :class:`GenmolError` prints ``error: <sentence>`` to stderr and
    exits with status 2 instead of a traceback (``GENMOL_DEBUG=1`` in the environment re-raises it)."""
    try:
        main()
    except GenmolError as e:
        if os.environ.get("GENMOL_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
