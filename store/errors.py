"""Errors a user can cause. Each carries a message fit to show as it is."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose. ``str(error)`` is the message to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(StoreError):
    """Input refused; ``field`` names the offending field (or JSON path) when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(StoreError):
    """The named row does not exist (or no longer does)."""


class AlreadyExists(ValidationError):
    """A unique name is already taken."""


class Conflict(StoreError):
    """Somebody else changed the row since it was read; nothing was written."""

    def __init__(self, message: str, current: object | None = None) -> None:
        super().__init__(message)
        self.current = current


class Refused(StoreError):
    """The operation is not allowed (for example disabling root)."""
