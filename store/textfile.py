"""Reading files people hand us: size limits and encodings, refused with messages that say what to do."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from store.errors import ValidationError

# 256 MiB: about 1.7 million users in our JSON or 2.5 million rows of CSV; well past the 100,000-user
# directories we measure (bench/bench_import.py: ~15 MB of JSON, under 500 MB of memory), and a bound on what
# one file may make the importer hold in memory.
MAX_IMPORT_BYTES = 256 * 1024 * 1024


def read_limited(path: Path, limit: int = MAX_IMPORT_BYTES) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise ValidationError(
                f"{path}: is {size:,} bytes; the import limit is {limit:,} bytes "
                f"({limit // (1024 * 1024)} MiB): split the file"
            )
        data = read_at_most(path, limit + 1)  # a file growing while we read cannot slip past the limit
        if len(data) > limit:
            raise ValidationError(f"{path}: is over the import limit of {limit:,} bytes: split the file")
        return data
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def read_at_most(path: Path, most: int) -> bytes:
    """At most ``most`` bytes of ``path``, to its end. A named pipe (FIFO) that nothing writes to is refused
    at once: ``open`` waited for a writer that never came (``tui import fifo.csv`` hung). A pipe with a
    writer, as process substitution gives (``tui import <(cat users.csv)``), is read to its end as before."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        handle = os.fdopen(fd, "rb")  # refuses a directory, without closing what it was given
    except BaseException:
        os.close(fd)
        raise
    with handle:
        first = b""
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            try:
                first = os.read(fd, most)
            except BlockingIOError:
                pass  # a writer that has not written yet: wait for it below
            else:
                if not first:  # the end at once: no writer (or one that wrote nothing and left)
                    raise ValidationError(
                        f"{path}: is a named pipe (FIFO) that nothing writes to; give a file, or start "
                        "the program writing to it first"
                    )
        os.set_blocking(fd, True)
        if len(first) >= most:
            return first
        rest = handle.read(most - len(first))
        return first + rest if first else rest


def _line_and_column(raw: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and character (not byte) column of ``raw[offset]``."""
    start = raw.rfind(b"\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1, len(raw[start:offset].decode("utf-8", "replace")) + 1


def decode_utf8(raw: bytes, file_name: str) -> str:
    """UTF-8, with or without a byte-order mark. Anything else is refused with a way out."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError(
            f"{file_name}: is UTF-16; tui reads UTF-8 only. Convert it first, e.g. "
            f"iconv -f UTF-16 -t UTF-8 {file_name} > converted"
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _line_and_column(raw, nul)
        hint = (
            " (every other byte is NUL: is it UTF-16 without a byte-order mark? Convert it first, e.g. "
            f"iconv -f UTF-16LE -t UTF-8 {file_name} > converted)"
            if raw[1::2].count(0) > len(raw) // 4
            else ""
        )
        raise ValidationError(
            f"{file_name}: line {line}, column {column}: a NUL character (U+0000) is not "
            f"allowed in an import file{hint}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_and_column(raw, exc.start)
        raise ValidationError(
            f"{file_name}: line {line}, column {column}: byte 0x{raw[exc.start]:02x} is not UTF-8 (is the "
            "file Latin-1 or Windows-1252? tui reads UTF-8 only. Convert it first, e.g. "
            f"iconv -f WINDOWS-1252 -t UTF-8 {file_name} > converted)"
        ) from None
    return text.removeprefix("\ufeff")
