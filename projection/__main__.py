"""``python -m projection``: the same as the ``projection`` command."""

import sys

from ._cli import main

sys.exit(main())
