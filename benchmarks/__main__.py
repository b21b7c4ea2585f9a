"""``python -m benchmarks [--quick] [--output DIR] [--only WORKLOAD ...]``.

See ``benchmarks.harness``; ``python -m benchmarks --help`` lists the options.
"""

import sys

from benchmarks.harness import main

if __name__ == "__main__":
    sys.exit(main())
