"""``python -m rpgraph ...``: the ``rpgraph`` command without the console script on PATH."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
