"""``python -m tuning_core``: the command line lives in :mod:`tuning_core.cli`."""

import sys

from tuning_core.cli import main

sys.exit(main())
