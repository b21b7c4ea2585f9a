"""``python -m projection``: the same as the ``projection`` command."""

from ._cli import run

run()
