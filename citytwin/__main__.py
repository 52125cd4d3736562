"""``python -m citytwin`` is the ``citytwin`` command."""

from citytwin.cli import main

main()
