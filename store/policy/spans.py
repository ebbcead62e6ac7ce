"""Where each statement of a policy document sits in its text: for showing the deciding statement."""

from __future__ import annotations

import bisect
import re

from store.policy.document import _TOKEN


def statement_lines(text: str) -> list[tuple[int, int]]:
    """1-based, inclusive ``(first, last)`` lines of each statement of ``text`` (a valid policy), in order.

    A document whose ``Statement`` is a single object has one span. Best effort: text that is not a policy
    gives ``[]``."""
    newlines = [found.start() for found in re.finditer("\n", text)]
    tokens = [(found.group(), found.start()) for found in _TOKEN.finditer(text)]

    def line_of(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    def skip(position: int) -> int:
        """The position just past the value starting at ``position``."""
        depth = 0
        while position < len(tokens):
            token = tokens[position][0]
            if token in ("{", "["):
                depth += 1
            elif token in ("}", "]"):
                depth -= 1
            position += 1
            if depth == 0:
                return position
        return position

    spans: list[tuple[int, int]] = []
    try:
        if not tokens or tokens[0][0] != "{":
            return []
        position = 1
        while position < len(tokens) and tokens[position][0] != "}":
            if tokens[position][0] == ",":
                position += 1
                continue
            key = tokens[position][0]
            start = position + 2  # past the key and its colon
            end = skip(start)
            if key == '"Statement"':
                if tokens[start][0] == "{":
                    spans.append((line_of(tokens[start][1]), line_of(tokens[end - 1][1])))
                elif tokens[start][0] == "[":
                    inner = start + 1
                    while inner < end - 1:
                        if tokens[inner][0] == ",":
                            inner += 1
                            continue
                        after = skip(inner)
                        spans.append((line_of(tokens[inner][1]), line_of(tokens[after - 1][1])))
                        inner = after
                return spans
            position = end
    except IndexError:
        return []
    return spans
