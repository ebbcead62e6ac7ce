"""Completion for name fields, from the store (a prefix query on an index, off the UI thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.suggester import Suggester


class NameSuggester(Suggester):
    """Suggest the first name that starts with what was typed. ``lookup(prefix)`` lists candidates."""

    def __init__(self, lookup: Callable[[str], list[str]]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._lookup = lookup

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        candidates = await asyncio.to_thread(self._lookup, value)
        # Only a completion of what was typed (in any case) is offered.
        for suggestion in candidates:
            if suggestion.casefold().startswith(value.casefold()):
                return value + suggestion[len(value) :]
        return None
