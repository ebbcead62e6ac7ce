"""Messages between the console's parts, named as past events."""

from __future__ import annotations

from textual.message import Message


class DirectoryChanged(Message):
    """Another process committed to the directory (``PRAGMA data_version`` moved): redraw what is shown."""


class ItemSaved(Message):
    """A form saved an item: lists showing it reload."""

    def __init__(self, item: object) -> None:
        super().__init__()
        self.item = item
