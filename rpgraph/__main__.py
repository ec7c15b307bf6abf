"""``python -m rpgraph ...``: the ``rpgraph`` command without the console script on PATH."""

from .cli import run

if __name__ == "__main__":
    run()
