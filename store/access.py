"""Effective access: who may use which permission set in which account, and why (or why not).

A user holds a permission set in an account through a *path*: an assignment naming the user (``direct``), or
one naming a group the user belongs to (``group X``). A path applies only while the assignment and (for a
group) the membership have not expired and the user, the account and the permission set are active; a path
that does not apply says why ("assignment expired 2026-01-01", "membership in group Ops expired 2026-01-01",
"user disabled"). Times compare as the directory's clock says (``Directory(clock=...)``), or as ``now`` given.

The small API for the sessions engine (and anything else that must decide "may this user assume this?")::

    from store.access import is_assigned
    grant = is_assigned(directory, user_id, account_id, permission_set_id, now=None)
    if grant is None: refuse                 # no path applies now
    grant.granted_by                         # "direct" or "group Ops": the path it applies through
    grant.expires_at                         # when that path ends (None: never); cap a session's expiry by it

``is_assigned`` reads through the directory's connection, so it may be called inside a write transaction
(``with directory.db.write() as conn: ... is_assigned(directory, ...)``) and then sees that transaction's
view. When it returns None, ``access_paths(directory, user_id, account_id=..., permission_set_id=...)`` lists
the paths that exist but do not apply, each with ``why_not``: what to tell the user.

Also here: :func:`effective_access` (a user's every path, optionally in one account), :func:`who_can_reach`
(the reverse: every user who reaches an account, optionally with one permission set, and through what),
:func:`access_matrix_rows` / :func:`write_access_matrix_csv` (users × accounts → permission sets, streamed),
and :func:`simulate_user` (decide one request for a user in an account, set by set).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from store.clock import to_text
from store.csvsafe import neutralise
from store.errors import NotFound
from store.policy import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, Decision, RequestContext
from store.policy.patterns import ContextValue

if TYPE_CHECKING:
    from store.directory import Directory
    from store.permission_sets import CompiledPermissionSet

MATRIX_CHUNK = 1000  # users per query while streaming the matrix

_COLUMNS = (
    "u.id AS user_id, u.user_name, u.user_name_key, u.status AS user_status, "
    "a.account_id, ac.name AS account_name, ac.name_key AS account_key, ac.status AS account_status, "
    "a.permission_set_id, ps.name AS permission_set_name, ps.name_key AS permission_set_key, "
    "ps.status AS permission_set_status, a.expires_at AS assignment_expires_at"
)
_JOINS = "JOIN accounts ac ON ac.id = a.account_id JOIN permission_sets ps ON ps.id = a.permission_set_id"


def _paths_sql(direct_where: str, group_where: str) -> str:
    """Every path (direct and through groups) matching the filters, one row each."""
    return (
        f"SELECT a.id AS assignment_id, {_COLUMNS}, NULL AS group_id, NULL AS group_name, "
        "NULL AS membership_expires_at "
        f"FROM assignments a JOIN users u ON u.id = a.user_id {_JOINS} "
        f"WHERE a.user_id IS NOT NULL AND {direct_where} "
        "UNION ALL "
        f"SELECT a.id, {_COLUMNS}, g.id, g.name, m.expires_at "
        "FROM assignments a JOIN memberships m ON m.group_id = a.group_id JOIN users u ON u.id = m.user_id "
        f"JOIN groups g ON g.id = a.group_id {_JOINS} WHERE a.group_id IS NOT NULL AND {group_where}"
    )


def moment(text: str) -> str:
    """A stored time as people read it: ``2026-01-01`` at midnight, else ``2026-01-01T09:30:00Z``."""
    return text[:10] if text.endswith("T00:00:00Z") else text


@dataclass(frozen=True)
class Grant:
    """One path by which a user holds a permission set in an account. ``reasons`` is empty when it applies
    now; otherwise it says why it does not (several reasons may hold at once)."""

    user_id: int
    user_name: str
    account_id: int
    account_name: str
    permission_set_id: int
    permission_set_name: str
    assignment_id: int
    group_id: int | None
    group_name: str | None
    expires_at: str | None  # when this path ends: the earlier of the assignment's and the membership's expiry
    reasons: tuple[str, ...] = ()

    @property
    def applies(self) -> bool:
        return not self.reasons

    @property
    def via(self) -> str:
        return "direct" if self.group_id is None else "group"

    @property
    def granted_by(self) -> str:
        return "direct" if self.group_name is None else f"group {self.group_name}"

    @property
    def why_not(self) -> str:
        return "; ".join(self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user_name,
            "account": self.account_name,
            "permission_set": self.permission_set_name,
            "granted_by": {"type": self.via, "group": self.group_name},
            "applies": self.applies,
            "expires_at": self.expires_at,
            "why_not": list(self.reasons),
        }

    @staticmethod
    def from_row(row: Mapping[str, Any], now: str) -> Grant:
        reasons = []
        if row["user_status"] != "active":
            reasons.append("user disabled")
        if row["account_status"] != "active":
            reasons.append("account disabled")
        if row["permission_set_status"] != "active":
            reasons.append("permission set disabled")
        assignment_expiry, membership_expiry = row["assignment_expires_at"], row["membership_expires_at"]
        if assignment_expiry is not None and assignment_expiry <= now:
            reasons.append(f"assignment expired {moment(assignment_expiry)}")
        if membership_expiry is not None and membership_expiry <= now:
            reasons.append(f"membership in group {row['group_name']} expired {moment(membership_expiry)}")
        ends = [t for t in (assignment_expiry, membership_expiry) if t is not None]
        return Grant(
            row["user_id"],
            row["user_name"],
            row["account_id"],
            row["account_name"],
            row["permission_set_id"],
            row["permission_set_name"],
            row["assignment_id"],
            row["group_id"],
            row["group_name"],
            min(ends) if ends else None,
            tuple(reasons),
        )


def _now(directory: Directory, now: datetime | str | None) -> str:
    if now is None:
        return directory.now_text()
    return now if isinstance(now, str) else to_text(now)


def _sort_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        row["account_key"],
        row["permission_set_key"],
        row["group_name"] is not None,
        row["group_name"] or "",
    )


def _lasts_longer(grant: Grant) -> tuple[bool, str, bool]:
    # The path that keeps access longest: no expiry first, then the latest; a direct one wins a tie.
    return (grant.expires_at is None, grant.expires_at or "", grant.group_id is None)


# -- one user --------------------------------------------------------------------------------------------


def access_paths(
    directory: Directory,
    user_id: int,
    *,
    account_id: int | None = None,
    permission_set_id: int | None = None,
    now: datetime | str | None = None,
) -> list[Grant]:
    """Every path (applying or not) from the user to a permission set, optionally in one account and for one
    permission set; by account, permission set, then direct before groups."""
    when = _now(directory, now)
    direct, group, params_d, params_g = ["a.user_id = ?"], ["m.user_id = ?"], [user_id], [user_id]
    for column, value in (("a.account_id", account_id), ("a.permission_set_id", permission_set_id)):
        if value is not None:
            direct.append(f"{column} = ?")
            group.append(f"{column} = ?")
            params_d.append(value)
            params_g.append(value)
    with directory.db.read() as conn:
        rows = conn.execute(
            _paths_sql(" AND ".join(direct), " AND ".join(group)), [*params_d, *params_g]
        ).fetchall()
    return [Grant.from_row(row, when) for row in sorted(rows, key=_sort_key)]


def is_assigned(
    directory: Directory,
    user_id: int,
    account_id: int,
    permission_set_id: int,
    now: datetime | str | None = None,
) -> Grant | None:
    """The path through which the user may use the permission set in the account now, or None.

    None when there is no assignment, when every assignment or group membership that would grant it has
    expired, or when the user, the account or the permission set is disabled. Of several applying paths, the
    one that lasts longest (no expiry, else the latest; direct before group on a tie)."""
    applying = [
        grant
        for grant in access_paths(
            directory, user_id, account_id=account_id, permission_set_id=permission_set_id, now=now
        )
        if grant.applies
    ]
    return max(applying, key=_lasts_longer) if applying else None


@dataclass(frozen=True)
class EffectiveAccess:
    """A user's access: every path, those that apply first. ``granted`` are the (account, permission set)
    pairs the user can use now, each with the path that lasts longest."""

    user_id: int
    user_name: str
    user_status: str
    is_root: bool
    paths: tuple[Grant, ...]

    @property
    def applying(self) -> list[Grant]:
        return [grant for grant in self.paths if grant.applies]

    @property
    def not_applying(self) -> list[Grant]:
        return [grant for grant in self.paths if not grant.applies]

    @property
    def granted(self) -> list[Grant]:
        best: dict[tuple[int, int], Grant] = {}
        for grant in self.applying:
            key = (grant.account_id, grant.permission_set_id)
            if key not in best or _lasts_longer(grant) > _lasts_longer(best[key]):
                best[key] = grant
        return [
            grant for grant in self.applying if best.get((grant.account_id, grant.permission_set_id)) is grant
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user_name,
            "status": self.user_status,
            "root": self.is_root,
            "access": [grant.to_json() for grant in self.paths],
        }


def effective_access(
    directory: Directory, user_id: int, *, account_id: int | None = None, now: datetime | str | None = None
) -> EffectiveAccess:
    """Everything the user holds (or held, or would hold if not disabled), optionally in one account."""
    user = directory.users.get(user_id)  # NotFound for an unknown user
    paths = access_paths(directory, user_id, account_id=account_id, now=now)
    return EffectiveAccess(user.id, user.user_name, user.status, user.is_root, tuple(paths))


# -- the reverse -----------------------------------------------------------------------------------------


def who_can_reach(
    directory: Directory,
    account_id: int,
    *,
    permission_set_id: int | None = None,
    now: datetime | str | None = None,
    include_inactive: bool = False,
) -> list[Grant]:
    """Every user who reaches the account (with that permission set, if given), with the path: by user name,
    then permission set. Paths that do not apply (expired, disabled) only with ``include_inactive``."""
    when = _now(directory, now)
    where, params = ["a.account_id = ?"], [account_id]
    if permission_set_id is not None:
        where.append("a.permission_set_id = ?")
        params.append(permission_set_id)
    clause = " AND ".join(where)
    with directory.db.read() as conn:
        if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone() is None:
            raise NotFound(f"account #{account_id} does not exist")
        rows = conn.execute(_paths_sql(clause, clause), [*params, *params]).fetchall()
    rows = sorted(
        rows,
        key=lambda row: (
            row["user_name_key"],
            row["permission_set_key"],
            row["group_name"] is not None,
            row["group_name"] or "",
        ),
    )
    grants = (Grant.from_row(row, when) for row in rows)
    return [grant for grant in grants if include_inactive or grant.applies]


# -- the matrix ------------------------------------------------------------------------------------------


def access_matrix_rows(
    directory: Directory, *, now: datetime | str | None = None, chunk: int = MATRIX_CHUNK
) -> Iterator[list[str]]:
    """Users × accounts → the permission sets that apply, as rows: first the header (``userName``, ``status``,
    then one column per account by name), then one row per user (root excluded) by user name, each cell the
    applying permission sets joined with ``;``. Streams: memory stays flat however many users there are.
    Reads one snapshot, holding the directory's connection until the iterator is exhausted or closed."""
    return _matrix(directory, _now(directory, now), chunk, lambda text: text)


def _matrix(directory: Directory, when: str, chunk: int, cell: Callable[[str], str]) -> Iterator[list[str]]:
    with directory.db.read() as conn:
        accounts = conn.execute("SELECT id, name, status FROM accounts ORDER BY name_key").fetchall()
        column = {row["id"]: index for index, row in enumerate(accounts)}
        yield [cell("userName"), cell("status"), *(cell(row["name"]) for row in accounts)]
        live = "(a.expires_at IS NULL OR a.expires_at > ?) AND ac.status = 'active' AND ps.status = 'active'"
        by_group: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for row in conn.execute(
            f"SELECT a.group_id, a.account_id, ps.name FROM assignments a {_JOINS} "
            f"WHERE a.group_id IS NOT NULL AND {live}",
            (when,),
        ):
            by_group[row[0]].append((column[row[1]], row[2]))
        empty = [""] * len(accounts)
        after = ""
        while True:
            users = conn.execute(
                "SELECT id, user_name, user_name_key, status FROM users WHERE is_root = 0 AND user_name_key "
                "> ? ORDER BY user_name_key LIMIT ?",
                (after, chunk),
            ).fetchall()
            if not users:
                return
            after = users[-1]["user_name_key"]
            ids = json.dumps([row["id"] for row in users])
            # only users who hold something get cells: most rows are mostly empty
            cells: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
            for row in conn.execute(
                f"SELECT a.user_id, a.account_id, ps.name FROM assignments a {_JOINS} "
                f"WHERE a.user_id IN (SELECT value FROM json_each(?)) AND {live}",
                (ids, when),
            ):
                cells[row[0]][column[row[1]]].add(row[2])
            if by_group:
                for row in conn.execute(
                    "SELECT user_id, group_id FROM memberships WHERE user_id IN (SELECT value FROM "
                    "json_each(?)) AND (expires_at IS NULL OR expires_at > ?)",
                    (ids, when),
                ):
                    granted = by_group.get(row[1])
                    if granted:
                        mine = cells[row[0]]
                        for index, name in granted:
                            mine[index].add(name)
            for row in users:
                tail = list(empty)
                held = cells.get(row["id"])
                if held and row["status"] == "active":
                    for index, names_ in held.items():
                        tail[index] = cell(";".join(sorted(names_, key=str.casefold)))
                yield [cell(row["user_name"]), row["status"], *tail]
            if len(users) < chunk:
                return


def write_access_matrix_csv(directory: Directory, out: IO[str], *, now: datetime | str | None = None) -> int:
    """Write the matrix as CSV to ``out`` (cells a spreadsheet would run as formulas neutralised); returns how
    many users it wrote."""
    writer = csv.writer(out, lineterminator="\r\n")
    rows = _matrix(directory, _now(directory, now), MATRIX_CHUNK, neutralise)
    writer.writerow(next(rows))
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


# -- simulation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetDecision:
    """One permission set's answer to a simulated request, and the path the user holds it through."""

    grant: Grant | None  # None when a permission set is simulated on its own
    permission_set_id: int
    permission_set_name: str
    decision: Decision
    compiled: CompiledPermissionSet

    def to_json(self) -> dict[str, Any]:
        return {
            "permission_set": self.permission_set_name,
            "granted_by": None if self.grant is None else self.grant.granted_by,
            **self.decision.to_json(),
        }


@dataclass(frozen=True)
class Simulation:
    """The request's answer across the permission sets considered: allowed if any set allows it (a user may
    assume any set they hold), else an explicit deny if any set denies it, else an implicit deny."""

    results: tuple[SetDecision, ...]
    # The paths to this account that do not apply, each with why ("ReadOnly (group Testers): user disabled"):
    # with no applying set, what a person asks next.
    not_applying: tuple[str, ...] = ()

    @property
    def decision(self) -> str:
        names = {result.decision.decision for result in self.results}
        return ALLOW if ALLOW in names else EXPLICIT_DENY if EXPLICIT_DENY in names else IMPLICIT_DENY

    @property
    def deciding(self) -> list[SetDecision]:
        return [result for result in self.results if result.decision.decision == self.decision]

    def to_json(self) -> dict[str, Any]:
        statements = [
            {**ref.to_json(), "permission_set": result.permission_set_name}
            for result in self.deciding
            for ref in result.decision.statements
        ]
        return {
            "decision": self.decision,
            "statements": statements,
            "permission_sets": [result.to_json() for result in self.results],
        }


def request_context(
    directory: Directory,
    extra: Mapping[str, ContextValue | None] | None = None,
    *,
    user_name: str | None = None,
) -> RequestContext:
    """The context of a simulated request: the directory's clock for ``aws:CurrentTime``, the user's name for
    ``aws:username`` (unless ``extra`` sets them), then ``extra``."""
    values: dict[str, ContextValue | None] = {}
    if user_name is not None and not any(key.lower() == "aws:username" for key in (extra or {})):
        values["aws:username"] = user_name
    values.update(extra or {})
    return RequestContext.build(values, now=directory.clock())


def simulate_user(
    directory: Directory,
    user_id: int,
    account_id: int,
    action: str,
    resource: str,
    context: Mapping[str, ContextValue | None] | None = None,
    *,
    now: datetime | str | None = None,
) -> Simulation:
    """Decide ``action`` on ``resource`` for the user in the account, once per permission set that applies
    (each set is a role the user may assume). No applying set: an empty simulation, an implicit deny."""
    user = directory.users.get(user_id)
    access = effective_access(directory, user_id, account_id=account_id, now=now)
    granted = access.granted
    not_applying = tuple(
        f"{grant.permission_set_name} ({grant.granted_by}): {grant.why_not}"
        for grant in access.paths
        if not grant.applies
    )
    request = request_context(directory, context, user_name=user.user_name)
    results = []
    for grant in granted:
        compiled = directory.permission_sets.compiled(grant.permission_set_id)
        results.append(
            SetDecision(
                grant,
                grant.permission_set_id,
                grant.permission_set_name,
                compiled.evaluate(action, resource, request),
                compiled,
            )
        )
    return Simulation(tuple(results), not_applying)


def simulate_permission_set(
    directory: Directory,
    permission_set_id: int,
    action: str,
    resource: str,
    context: Mapping[str, ContextValue | None] | None = None,
) -> Simulation:
    """Decide one request against one permission set, whoever holds it."""
    compiled = directory.permission_sets.compiled(permission_set_id)
    request = request_context(directory, context)
    decision = compiled.evaluate(action, resource, request)
    return Simulation((SetDecision(None, permission_set_id, compiled.name, decision, compiled),))
