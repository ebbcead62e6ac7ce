"""Names and display text: canonical forms, the characters we refuse, and how we show them when we must.

Names (users, groups, accounts, permission sets, policies) are compared in their canonical form,
NFKC + casefold, so ``Alice``, ``ALICE`` and ``Ａｌｉｃｅ`` are one user.

Every stored string a user or a file controls passes one check here (names, display names, descriptions,
emails, external ids, SSH key comments): controls (Cc: C0, DEL, C1), format characters (Cf: bidi overrides and
isolates, zero-width characters, the soft hyphen, the BOM, tag characters) and the line and paragraph
separators (Zl, Zp) are refused, and so are the other characters drawn as nothing (:data:`INVISIBLE`:
variation selectors, the combining grapheme joiner, the Hangul fillers), a value that begins with a combining
mark, and more than :data:`MARKS_MAX` marks on one character. They hide text, reorder it on screen, make two
names look alike or smuggle escape sequences into terminals and spreadsheets. No field allows a line break:
every field is one line on screen and one cell in an export. The exceptions are in display text (display
names, given and family names, descriptions, key comments): U+200D ZERO WIDTH JOINER between two emoji, which
emoji sequences (a person at a laptop, a family) need, and a presentation selector (U+FE0E, U+FE0F) after the
symbol it styles ("❤️"); neither hides letters nor reorders text.

Text that was never validated (a failed sign-in's user name, or a value planted in the database file) is shown
and exported through :func:`visible` or :func:`escape_json`, which escape the same characters.
"""

from __future__ import annotations

import re
import unicodedata

from store.errors import ValidationError

USER_NAME_MAX = 128
GROUP_NAME_MAX = 128
DISPLAY_TEXT_MAX = 256
DESCRIPTION_MAX = 1024
EMAIL_MAX = 254
EXTERNAL_ID_MAX = 256

ACCOUNT_NAME = re.compile(r"^([0-9]{12}|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$")
# AWS's permission-set and policy name alphabet.
_SPACE = re.compile(r"\s")  # what str.isspace() calls a space, found without a per-character loop
PERMISSION_SET_NAME = re.compile(r"^[\w+=,.@-]{1,32}$", re.ASCII)
POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$", re.ASCII)


def canonical(name: str) -> str:
    """The form names are compared and indexed in: NFKC, casefolded, NFKC again (casefold can denormalise)."""
    if name.isascii():
        # NFKC leaves ASCII as it is and casefolds it to lower case; a name already in that form is itself
        # (one string, not a copy per name, when an import keeps 100,000 of them).
        lowered = name.lower()
        return name if lowered == name else lowered
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def describe_char(ch: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: a safe way to name a character in a message."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X} {name}" if name else f"U+{ord(ch):04X}"


UNSAFE_CATEGORIES = {"Cc": "control character", "Cf": "invisible formatting character", "Zl": "line break"}
UNSAFE_CATEGORIES["Zp"] = UNSAFE_CATEGORIES["Zl"]
ZERO_WIDTH_JOINER = "\u200d"
_EMOJI_BEFORE_JOINER = ("So", "Sk", "Mn")  # an emoji, a skin tone (Sk) or a variation selector (Mn) ends it
# Default-ignorable code points that are not format characters: drawn as nothing, so six users all showed
# as "ab" ("a\ufe0fb", "a\u3164b", …). Variation selectors, the combining grapheme joiner, Mongolian free
# variation selectors, Khmer inherent vowels and the Hangul fillers (Unicode's Default_Ignorable_Code_Point,
# less Cf, which is refused as a category).
INVISIBLE = frozenset(
    map(
        chr,
        (
            0x034F,
            0x115F,
            0x1160,
            0x17B4,
            0x17B5,
            *range(0x180B, 0x180E),
            0x180F,
            0x3164,
            0xFFA0,
            *range(0xFE00, 0xFE10),
            *range(0xE0100, 0xE01F0),
        ),
    )
)
EMOJI_STYLE = "\ufe0e\ufe0f"  # text and emoji presentation: "❤️" is U+2764 U+FE0F
# The most combining marks one character carries: the scripts people write need a few (Vietnamese two,
# Hebrew with points three or four); a hundred stacked ("Zalgo") paint over the lines around them.
MARKS_MAX = 8
_MARKS = ("Mn", "Mc", "Me")


def _joins_emoji(text: str, index: int) -> bool:
    """Is ``text[index]`` (a zero width joiner) inside an emoji sequence: an emoji before it and after it?"""
    return (
        0 < index < len(text) - 1
        and unicodedata.category(text[index - 1]) in _EMOJI_BEFORE_JOINER
        and unicodedata.category(text[index + 1]) == "So"
    )


def _styles_emoji(text: str, index: int) -> bool:
    """Is ``text[index]`` a text or emoji presentation selector right after a character it can style: a
    symbol, digit or punctuation mark ("❤️", "1️⃣", "‼️"), never a letter or a space it would hide in?"""
    return (
        text[index] in EMOJI_STYLE
        and index > 0
        and text[index - 1] not in INVISIBLE
        and unicodedata.category(text[index - 1])[0] in "SNP"
    )


def _refuse_unsafe(value: str, field: str, *, emoji: bool, label: str | None = None) -> None:
    """Refuse the characters the module docstring lists (``emoji``: but a joiner inside an emoji sequence,
    and a presentation selector after the character it styles)."""
    if value.isascii() and value.isprintable():
        return  # the common case, without a per-character look-up (imports check millions of names)
    where = label or field
    marks = 0
    for index, ch in enumerate(value):
        category = unicodedata.category(ch)
        kind = UNSAFE_CATEGORIES.get(category)
        if kind and not (emoji and ch == ZERO_WIDTH_JOINER and _joins_emoji(value, index)):
            raise ValidationError(
                f"{where}: {kind} {describe_char(ch)} at position {index + 1} is not allowed", field
            )
        if category in ("Cs", "Co", "Cn"):
            raise ValidationError(
                f"{where}: {describe_char(ch)} at position {index + 1} is not a usable character", field
            )
        if ch in INVISIBLE and not (emoji and _styles_emoji(value, index)):
            raise ValidationError(
                f"{where}: invisible character {describe_char(ch)} at position {index + 1} is not allowed",
                field,
            )
        marks = marks + 1 if category in _MARKS else 0
        if marks and index == 0:
            raise ValidationError(
                f"{where}: must not begin with a combining mark ({describe_char(ch)})", field
            )
        if marks > MARKS_MAX:
            raise ValidationError(
                f"{where}: more than {MARKS_MAX} combining marks on one character at position {index + 1}",
                field,
            )


_unsafe: re.Pattern[str] | None = None


def _unsafe_pattern() -> re.Pattern[str]:
    """One character class of every unsafe code point (built on first use: controls, separators, format
    characters and surrogates live in planes 0, 1 and 14)."""
    global _unsafe
    if _unsafe is None:
        ranges: list[list[int]] = []
        for code in (*range(0x20000), *range(0xE0000, 0xE1000)):
            category = unicodedata.category(chr(code))
            # Surrogates too: a file name's bytes that are not UTF-8 reach Python as lone surrogates, which
            # the terminal would get back as those raw bytes (0x9B is a C1 control: CSI).
            if category in UNSAFE_CATEGORIES or category == "Cs" or chr(code) in INVISIBLE:
                if ranges and ranges[-1][1] == code - 1:
                    ranges[-1][1] = code
                else:
                    ranges.append([code, code])
        _unsafe = re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]")
    return _unsafe


def visible(value: object) -> str:
    """``value`` as one line of plain text safe for a terminal or a spreadsheet cell: controls shown as
    ``\\x1b`` (``\\x85`` for C1), format characters and line separators as ``<U+202E>``; a joiner inside an
    emoji stays."""
    text = "" if value is None else str(value)
    if text.isascii() and text.isprintable():
        return text

    def shown(match: re.Match[str]) -> str:
        ch = match.group()
        if (ch == ZERO_WIDTH_JOINER and _joins_emoji(text, match.start())) or _styles_emoji(
            text, match.start()
        ):
            return ch
        code = ord(ch)
        if unicodedata.category(ch) == "Cc":
            return f"\\x{code:02x}"
        return f"<U+{code:04X}>"

    return _unsafe_pattern().sub(shown, text)


# The most of a value a message quotes: every valid name, address and id whole (the longest field is 256),
# while a file's 100,000-character value is named by its start and its length, never echoed whole.
QUOTED_MAX = 256


def quoted(value: object) -> str:
    """``repr(value)`` for a message, at most :data:`QUOTED_MAX` characters of it (then its length)."""
    if isinstance(value, str):
        if len(value) <= QUOTED_MAX:
            return repr(value)
        return f"{value[:QUOTED_MAX]!r}… ({len(value):,} characters)"
    shown = repr(value)
    return shown if len(shown) <= QUOTED_MAX else f"{shown[:QUOTED_MAX]}… (a {type(value).__name__})"


def clipped(text: str) -> str:
    """``text`` as it is, for a message that must keep another tool's wording (moto's, in policy messages),
    but at most :data:`QUOTED_MAX` characters of it (then its length): a 100,000-character value was echoed
    whole."""
    return text if len(text) <= QUOTED_MAX else f"{text[:QUOTED_MAX]}… ({len(text):,} characters)"


def json_kind(value: object, numbers: tuple[type, ...] = (int, float)) -> str:
    """How a message names the kind of a parsed JSON value ("must be a string, not a list"): ``numbers`` are
    the types its parser gave numbers (a policy document's parser has a type of its own)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, numbers):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else "an object"


def escape_json(text: str) -> str:
    """JSON text (from ``json.dumps``) with every unsafe character inside its strings written as a ``\\u``
    escape: ``json.dumps`` escapes C0 but passes DEL, C1 and bidi controls raw. The value it decodes to is
    unchanged; outside strings JSON holds only ASCII punctuation, digits, letters and whitespace."""
    if text.isascii():
        return text.replace("\x7f", "\\u007f")

    def escaped(match: re.Match[str]) -> str:
        code = ord(match.group())
        if code < 0x20:
            return match.group()  # json.dumps escaped C0 in strings: this is the layout's own line break
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000  # a surrogate pair, as JSON writes characters beyond the BMP
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return _unsafe_pattern().sub(escaped, text)


def _check_name(value: object, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{field}: must be text", field)
    if not value:
        raise ValidationError(f"{field}: is required", field)
    _refuse_unsafe(value, field, emoji=False)
    if value != value.strip():
        raise ValidationError(f"{field}: must not start or end with spaces", field)
    if len(value) > max_length:
        raise ValidationError(f"{field}: is {len(value)} characters long; the limit is {max_length}", field)
    return value


def user_name(value: object, field: str = "userName") -> str:
    name = _check_name(value, field, USER_NAME_MAX)
    if _SPACE.search(name):
        raise ValidationError(f"{field}: must not contain spaces", field)
    return name


def group_name(value: object, field: str = "displayName") -> str:
    return _check_name(value, field, GROUP_NAME_MAX)


def account_name(value: object, field: str = "name") -> str:
    name = _check_name(value, field, 64)
    if not ACCOUNT_NAME.match(name):
        raise ValidationError(
            f"{field}: must be a 12-digit account id or a short name of letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit)",
            field,
        )
    return name


def permission_set_name(value: object, field: str = "name") -> str:
    name = _check_name(value, field, 32)
    if not PERMISSION_SET_NAME.match(name):
        raise ValidationError(f"{field}: use 1 to 32 of the characters A-Z a-z 0-9 and + = , . @ - _", field)
    return name


def policy_name(value: object, field: str = "name") -> str:
    name = _check_name(value, field, 128)
    if not POLICY_NAME.match(name):
        raise ValidationError(f"{field}: use 1 to 128 of the characters A-Z a-z 0-9 and + = , . @ - _", field)
    return name


def display_text(
    value: object,
    field: str,
    max_length: int = DISPLAY_TEXT_MAX,
    *,
    emoji: bool = True,
    label: str | None = None,
) -> str:
    """Free text shown to people: stored verbatim, never with control or invisible characters (``emoji``: a
    joiner inside an emoji sequence is allowed). ``label``: the value's name in messages, if not ``field``."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{field}: must be text", field)
    _refuse_unsafe(value, field, emoji=emoji, label=label)
    if len(value) > max_length:
        raise ValidationError(f"{field}: is {len(value)} characters long; the limit is {max_length}", field)
    return value


def email(value: object, field: str = "email") -> str:
    text = display_text(value, field, EMAIL_MAX, emoji=False)
    if text and (text.count("@") != 1 or _SPACE.search(text) or text.startswith("@") or text.endswith("@")):
        raise ValidationError(f"{field}: {quoted(text)} is not an email address", field)
    return text


def external_id(value: object, field: str = "externalId") -> str | None:
    if value is None or value == "":
        return None
    return display_text(value, field, EXTERNAL_ID_MAX, emoji=False)
