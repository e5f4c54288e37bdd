"""``python -m amccl``: see :mod:`amccl.cli`."""

import sys

from amccl.cli import main

if __name__ == "__main__":
    sys.exit(main())
