"""``python -m tui``: the same as the ``tui`` command."""

from tui.cli import main

main()
