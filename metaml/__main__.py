"""``python -m metaml`` is the ``metaml`` command."""

from metaml.cli import main

main()
