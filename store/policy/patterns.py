"""Wildcards, policy variables and the request context they read from.

IAM patterns use ``*`` (any run, crossing ``:`` and ``/``) and ``?`` (one character). Resources and
condition values may hold policy variables: ``${aws:username}``, ``${aws:PrincipalTag/team, 'default'}``, and
the escapes ``${*}``, ``${?}``, ``${$}`` for a literal ``*``, ``?``, ``$``. A variable's value is inserted
literally (a user named ``*`` must not turn a pattern into match-all), and a variable the request does not
carry makes the pattern match nothing, as AWS does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from store import clock
from store.policy.values import parse_date as parse_date  # read here, and by the callers of old

ContextValue = str | bool | int | float | datetime | Iterable[str | bool | int | float | datetime]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_VARIABLE_BODY = re.compile(r"^\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?$")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def _text(value: str | float | datetime) -> str:
    # AWS compares every context value as text: booleans are "true"/"false", times ISO 8601 in UTC.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return clock.to_text(value if value.tzinfo else value.replace(tzinfo=UTC))
    return str(value)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The request's condition keys, keys lower-cased (IAM keys are case-insensitive), every value a tuple.

    Build it once with :meth:`build` and reuse it across evaluations; ``aws:CurrentTime`` and
    ``aws:EpochTime`` are filled in from ``now`` (or from each other) when the caller leaves them out.
    """

    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls, context: Mapping[str, ContextValue | None] | None = None, *, now: datetime | None = None
    ) -> RequestContext:
        values: dict[str, tuple[str, ...]] = {}
        for key, raw in (context or {}).items():
            if raw is None:  # an absent value: the key is not in the request
                continue
            if isinstance(raw, (str, bool, int, float, datetime)):
                items: tuple[str, ...] = (_text(raw),)
            else:
                items = tuple(_text(item) for item in raw)
            lowered = key.lower()
            values[lowered] = values.get(lowered, ()) + items
        if "aws:currenttime" not in values or "aws:epochtime" not in values:
            derived = _moment_from(values)
            if derived is None:
                moment = now or datetime.now(UTC)
                derived = (_text(moment), str(int(moment.timestamp())))
            values.setdefault("aws:currenttime", (derived[0],))
            values.setdefault("aws:epochtime", (derived[1],))
        return cls(values)

    def get(self, key: str) -> tuple[str, ...] | None:
        """The values of ``key`` (any case), or ``None`` when the request does not carry it."""
        return self.values.get(key.lower())

    def single(self, key: str) -> str | None:
        """The one value of ``key`` (already lower-cased), or ``None`` if absent or multi-valued."""
        found = self.values.get(key)
        return found[0] if found is not None and len(found) == 1 else None


def _moment_from(values: Mapping[str, tuple[str, ...]]) -> tuple[str, str] | None:
    # One of the two time keys was given: derive the other from it so they never disagree. A time beyond
    # what a datetime holds (the year 292278993, epoch 2**63 - 1: IAM's own bounds) keeps its epoch text.
    for key in ("aws:currenttime", "aws:epochtime"):
        given = values.get(key)
        seconds = parse_date(given[0]) if given else None
        if given and seconds is not None:
            epoch = str(math.floor(seconds))
            try:
                moment = datetime.fromtimestamp(float(seconds), UTC)
            except (OverflowError, OSError, ValueError):
                return (epoch, epoch) if seconds >= 0 else (given[0], given[0])
            return _text(moment), epoch
    return None


@dataclass(frozen=True, slots=True)
class Variable:
    """``${key}`` or ``${key, 'default'}`` inside a pattern; ``key`` is lower-cased."""

    key: str
    default: str | None = None

    def resolve(self, context: RequestContext) -> str | None:
        value = context.single(self.key)
        return self.default if value is None else value


# A pattern cut into pieces: str pieces keep their wildcard meaning, Escaped ones (${*} ...) do not,
# Variables resolve per request.
@dataclass(frozen=True, slots=True)
class Escaped:
    text: str


Piece = str | Escaped | Variable


def split_variables(pattern: str) -> tuple[Piece, ...]:
    """Cut ``pattern`` at its ``${...}`` variables; text that is not a well-formed variable stays as is."""
    pieces: list[Piece] = []
    position = 0
    for found in _VARIABLE.finditer(pattern):
        body = found.group(1)
        if body in _ESCAPES:
            piece: Piece = Escaped(_ESCAPES[body])
        else:
            parsed = _VARIABLE_BODY.match(body)
            if parsed is None:
                continue
            piece = Variable(parsed.group(1).lower(), parsed.group(2))
        if found.start() > position:
            pieces.append(pattern[position : found.start()])
        pieces.append(piece)
        position = found.end()
    if position < len(pattern):
        pieces.append(pattern[position:])
    return tuple(pieces)


def split_arn(pattern: str) -> list[str]:
    """``pattern`` cut at its first five colons, ignoring the colons inside ``${aws:...}`` variables."""
    parts: list[str] = []
    start = position = 0
    while position < len(pattern) and len(parts) < 5:
        if pattern.startswith("${", position):
            close = pattern.find("}", position)
            position = len(pattern) if close == -1 else close + 1
            continue
        if pattern[position] == ":":
            parts.append(pattern[start:position])
            start = position + 1
        position += 1
    parts.append(pattern[start:])
    return parts


def mask_variables(pattern: str) -> str:
    """``pattern`` with every ``${...}`` replaced by a colon-free stand-in, for shape checks."""
    return _VARIABLE.sub("${}", pattern)


def has_variables(pieces: tuple[Piece, ...]) -> bool:
    return any(isinstance(piece, Variable) for piece in pieces)


# A wildcard pattern, compiled: its segments between ``*``, each a fixed-length run of text in which the
# positions of ``?`` match any character. Matched without regular expressions: ``re`` backtracks on a pattern
# such as ``*a*a*a…*b`` (12 stars took minutes over a 40-character ARN, found by hostile-input testing); the
# segments placed leftmost in turn decide any pattern in time linear in the value for each segment.
@dataclass(frozen=True, slots=True)
class _Segment:
    text: str  # a "?" position holds a stand-in character
    wild: tuple[int, ...]  # the positions of "?"

    def fits(self, value: str, at: int) -> bool:
        size = len(self.text)
        if at < 0 or at + size > len(value):
            return False
        if not self.wild:
            return value.startswith(self.text, at)
        start = 0
        for position in (*self.wild, size):  # the literal runs between the "?" positions
            if value[at + start : at + position] != self.text[start:position]:
                return False
            start = position + 1
        return True

    def find(self, value: str, start: int, end: int) -> int:
        """The leftmost place at or after ``start`` where the segment fits and ends by ``end``; -1: none."""
        if not self.wild:
            return value.find(self.text, start, end)
        for at in range(start, end - len(self.text) + 1):
            if self.fits(value, at):
                return at
        return -1


_ANY = "\x00"  # the stand-in for "?" inside a segment's text (never compared: its position is wild)


def _segments(parts: Iterable[tuple[str, bool]]) -> tuple[_Segment, ...]:
    """The segments of a pattern given as (text, wildcards mean wildcards) parts."""
    segments: list[_Segment] = []
    text: list[str] = []
    wild: list[int] = []
    for part, wildcards in parts:
        for char in part:
            if wildcards and char == "*":
                segments.append(_Segment("".join(text), tuple(wild)))
                text, wild = [], []
            elif wildcards and char == "?":
                wild.append(len(text))
                text.append(_ANY)
            else:
                text.append(char)
    segments.append(_Segment("".join(text), tuple(wild)))
    return tuple(segments)


def _matches(segments: tuple[_Segment, ...], value: str) -> bool:
    first, last = segments[0], segments[-1]
    if len(segments) == 1:
        return len(value) == len(first.text) and first.fits(value, 0)
    end = len(value) - len(last.text)
    if end < len(first.text) or not first.fits(value, 0) or not last.fits(value, end):
        return False
    position = len(first.text)
    for segment in segments[1:-1]:  # each as far left as it fits: leaves the most room for the rest
        found = segment.find(value, position, end)
        if found < 0:
            return False
        position = found + len(segment.text)
    return True


def resolve_text(pieces: tuple[Piece, ...], context: RequestContext) -> str | None:
    """The pattern with its variables filled in, or ``None`` if one has no value (then nothing matches)."""
    parts: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            parts.append(piece)
        elif isinstance(piece, Escaped):
            parts.append(piece.text)
        else:
            value = piece.resolve(context)
            if value is None:
                return None
            parts.append(value)
    return "".join(parts)


Matcher = Callable[[str, RequestContext], bool]


def _always(value: str, context: RequestContext) -> bool:
    return True


def compile_glob(pattern: str, *, ignore_case: bool = False, variables: bool = True) -> Matcher:
    """A matcher ``(value, context) -> bool`` for an IAM wildcard pattern.

    Patterns without variables get a fast path (match-all, equality, prefix) or one compiled regex; with
    ``ignore_case`` the caller passes an already lower-cased value (actions are lower-cased once a request).
    """
    pieces: tuple[Piece, ...] = split_variables(pattern) if variables else (pattern,)
    if ignore_case:
        pieces = tuple(
            piece.lower()
            if isinstance(piece, str)
            else Escaped(piece.text.lower())
            if isinstance(piece, Escaped)
            else piece
            for piece in pieces
        )
    if not has_variables(pieces):
        return _compile_static(pieces)

    def match_with_variables(value: str, context: RequestContext) -> bool:
        parts: list[tuple[str, bool]] = []
        for piece in pieces:
            if isinstance(piece, str):
                parts.append((piece, True))
            elif isinstance(piece, Escaped):
                parts.append((piece.text, False))
            else:
                resolved = piece.resolve(context)
                if resolved is None:
                    return False
                # A variable's value is text, never wildcards (a user named "*" matches only "*").
                parts.append((resolved.lower() if ignore_case else resolved, False))
        return _matches(_segments(parts), value)

    return match_with_variables


def any_of(matchers: tuple[Matcher, ...]) -> Matcher:
    """One matcher for a list of patterns (most statements name one, which then costs a single call)."""
    if len(matchers) == 1:
        return matchers[0]

    def matches_any(value: str, context: RequestContext) -> bool:
        return any(match(value, context) for match in matchers)

    return matches_any


def _compile_static(pieces: tuple[Piece, ...]) -> Matcher:
    globs = [piece for piece in pieces if isinstance(piece, str)]
    literal_text = "".join(
        piece if isinstance(piece, str) else piece.text for piece in pieces if not isinstance(piece, Variable)
    )
    if not any("*" in glob or "?" in glob for glob in globs):

        def equals(value: str, context: RequestContext) -> bool:
            return value == literal_text

        return equals
    if len(pieces) == 1 and isinstance(pieces[0], str):
        glob = pieces[0]
        if glob.strip("*") == "":
            return _always
        head = glob[:-1]
        if glob.endswith("*") and "*" not in head and "?" not in head:

            def starts_with(value: str, context: RequestContext) -> bool:
                return value.startswith(head)

            return starts_with
    segments = _segments(
        (piece, True) if isinstance(piece, str) else (piece.text, False)
        for piece in pieces
        if not isinstance(piece, Variable)
    )

    def matches(value: str, context: RequestContext) -> bool:
        return _matches(segments, value)

    return matches
