"""``python -m provable_mha.cli``: the same as the ``provable-mha`` console script."""

import sys

from . import main

sys.exit(main())
