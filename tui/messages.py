"""Messages between the console's parts, named as past events."""

from __future__ import annotations

from textual.message import Message


class DirectoryChanged(Message):
    """The directory changed (another process's commit moved ``PRAGMA data_version``, or this console
    committed): redraw what is shown."""


class ItemSaved(Message):
    """A form saved an item: lists showing it reload."""

    def __init__(self, item: object) -> None:
        super().__init__()
        self.item = item
