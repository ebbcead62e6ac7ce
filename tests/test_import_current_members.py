"""What an import reads of the directory's memberships: each group's members as SQLite lists them, compared
with what a file gives (a re-import compares the lists as text) and looked into as a map, always exactly as
the dict of the same members would be."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.db import Database
from store.importer.current import _read_memberships

NOW = "2026-12-05T00:00:00Z"
EXPIRY = st.sampled_from([None, None, None, "2031-01-01T00:00:00Z", "2032-06-01T00:00:00Z"])
# A group's members: user id → expiry.
MEMBERS = st.dictionaries(st.integers(1, 40), EXPIRY, min_size=1, max_size=12)


def _stored(groups: list[dict[int, str | None]]) -> dict[int, object]:
    """``groups`` written into a directory's tables, read back as the import reads them."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(Path(folder) / "d.db")
        conn = db.conn
        with db.write():
            conn.executemany(
                "INSERT INTO users (id, user_name, user_name_key, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(i, f"u{i}", f"u{i}", NOW, NOW) for i in range(1, 41)],
            )
            for group_id, members in enumerate(groups, 1):
                conn.execute(
                    "INSERT INTO groups (id, name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (group_id, f"g{group_id}", f"g{group_id}", NOW, NOW),
                )
                # In reverse order: the table's key orders them, not the order they were added in.
                conn.executemany(
                    "INSERT INTO memberships (group_id, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
                    [(group_id, user, expiry, NOW) for user, expiry in reversed(members.items())],
                )
        with db.read() as reading:
            stored = dict(_read_memberships(reading))
        db.close()
    return stored


def _changed(members: dict[int, str | None], change: int) -> dict[int, str | None]:
    """``members`` with one thing different: a member more, one fewer, or one's expiry."""
    other = dict(members)
    first = next(iter(other))
    if change == 0:
        other[41 + len(other)] = None
    elif change == 1 and len(other) > 1:
        del other[first]
    else:
        other[first] = "2040-01-01T00:00:00Z" if other[first] is None else None
    return other


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MEMBERS, min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_stored_members_compare_and_read_as_the_same_dict(
    groups: list[dict[int, str | None]], random: object
) -> None:
    stored = _stored(groups)
    assert set(stored) == set(range(1, len(groups) + 1))
    for group_id, members in enumerate(groups, 1):
        found = stored[group_id]
        order = random.random  # type: ignore[attr-defined]
        shuffled = dict(sorted(members.items(), key=lambda item: order()))
        assert found == members and members == found and found == shuffled
        for change in range(3):
            other = _changed(members, change)
            assert found != other and other != found
        assert len(found) == len(members)
        assert dict(found) == members  # walked: the same members and expiries
        assert all(found.get(user) == expiry and user in found for user, expiry in members.items())
        assert found.get(99, "none") == "none" and 99 not in found


def test_a_group_without_members_is_not_listed() -> None:
    stored = _stored([{1: None}, {}])
    assert list(stored) == [1]
