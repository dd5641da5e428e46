"""``python -m faultmap.cli``: the ``faultmap`` command."""

import sys

from faultmap.cli import main

sys.exit(main())
