"""Reading files people hand us: size limits and encodings, refused with messages that say what to do."""

from __future__ import annotations

from pathlib import Path

from store.errors import ValidationError

MAX_IMPORT_BYTES = 512 * 1024 * 1024  # 512 MiB: ~1.5 million users in our JSON


def read_limited(path: Path, limit: int = MAX_IMPORT_BYTES) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise ValidationError(f"{path}: is {size:,} bytes; the import limit is {limit:,} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def decode_utf8(raw: bytes, file_name: str) -> str:
    """UTF-8, with or without a byte-order mark. Anything else is refused with a way out."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValidationError(
            f"{file_name}: is UTF-16; tui reads UTF-8 only. Convert it first, e.g. "
            f"iconv -f UTF-16 -t UTF-8 {file_name} > converted"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"{file_name}: line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8 (is the file Latin-1 or "
            "Windows-1252? Convert it first, e.g. iconv -f LATIN1 -t UTF-8)"
        ) from None
    return text.removeprefix("\ufeff")
