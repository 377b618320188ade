"""``python -m core.judgments``: see :mod:`core.judgments.cli`."""

import sys

from core.judgments.cli import main

sys.exit(main())
