"""``python -m sm_clusterstack.cli``: the same as the console script."""

import sys

from sm_clusterstack.cli import main

sys.exit(main())
