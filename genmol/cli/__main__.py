"""``python -m genmol.cli``: the same as the ``genmol`` command."""

import sys

from genmol.cli import main

sys.exit(main())
