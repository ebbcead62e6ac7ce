"""Accounts, policies, permission sets and assignments (our whole-directory JSON): planned and written."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from store import accounts as account_rows
from store import assignments as assignment_rows
from store import clock, names
from store import permission_sets as permission_set_rows
from store import policies as policy_rows
from store.durations import parse_duration
from store.importer.current import _Current
from store.importer.document import ImportDocument, _Problems
from store.importer.plan import ImportPlan, SaveAssignment, SaveEntry
from store.names import quoted
from store.policy_documents import check_policy_text
from store.users import ROOT_NAME

if TYPE_CHECKING:
    from store.directory import Directory
    from store.importer.resolve import _Resolver


# -- accounts, policies, permission sets, assignments (our whole-directory JSON) ---------------------------


def _resolve_others(
    document: ImportDocument, current: _Current, problems: _Problems, resolver: _Resolver
) -> tuple[Any, ...]:
    accounts: dict[str, dict[str, Any]] = {}
    policies: dict[str, dict[str, Any]] = {}
    permission_sets: dict[str, dict[str, Any]] = {}
    attachments: dict[str, list[str]] = {}
    assignments: dict[tuple[str, str, str, str], str | None] = {}
    principals: dict[tuple[str, str], int] = {}
    first_seen: dict[tuple[str, str], str] = {}

    def unique(kind: str, key: str, where: str, shown: str) -> bool:
        earlier = first_seen.get((kind, key))
        if earlier is not None:
            problems.add(
                where,
                f"name: {quoted(shown)} is the same name as {earlier} (names are compared ignoring "
                "case and width)",
                conflict=True,
            )
            return False
        first_seen[(kind, key)] = where
        return True

    for account in document.accounts:
        name = problems.call(account.where, names.account_name, account.name)
        description = problems.call(
            account.where, names.display_text, account.description, "description", names.DESCRIPTION_MAX
        )
        if name is not None and unique("account", names.canonical(name), account.where, name):
            accounts[names.canonical(name)] = {
                "name": name,
                "description": description or "",
                "status": "active" if account.active else "disabled",
            }

    for policy in document.policies:
        name = problems.call(policy.where, names.policy_name, policy.name)
        description = problems.call(
            policy.where, names.display_text, policy.description, "description", names.DESCRIPTION_MAX
        )
        if not (isinstance(policy.document, str) and policy.document.strip()):
            problems.add(policy.where, "document: is required")
            continue
        text = problems.call(policy.where, check_policy_text, policy.document, "document")
        if name is not None and unique("policy", names.canonical(name), policy.where, name):
            policies[names.canonical(name)] = {
                "name": name,
                "document": text,
                "description": description or "",
            }

    for pset in document.permission_sets:
        where = pset.where
        name = problems.call(where, names.permission_set_name, pset.name)
        values = {
            "description": problems.call(
                where, names.display_text, pset.description, "description", names.DESCRIPTION_MAX
            )
            or "",
            "session_duration": problems.call(where, parse_duration, pset.session_duration),
            "inline_policy": problems.call(where, check_policy_text, pset.inline_policy, "inlinePolicy"),
            "boundary_policy": problems.call(
                where, check_policy_text, pset.boundary_policy, "permissionsBoundary"
            ),
        }
        if name is None or not unique("permission_set", names.canonical(name), where, name):
            continue
        key = names.canonical(name)
        permission_sets[key] = {"name": name, **values}
        attached = []
        for index, policy_name in enumerate(pset.managed_policies):
            policy_key = names.canonical(policy_name) if isinstance(policy_name, str) else ""
            if policy_key not in policies and policy_key not in current.policies:
                problems.add(
                    f"{where}.managedPolicies[{index}]",
                    f"no policy named {quoted(policy_name)} in the file or the policy library",
                )
            elif policy_key not in attached:  # listed twice: attached once, as the service does
                attached.append(policy_key)
        attachments[key] = attached

    for item in document.assignments:
        where = item.where
        if item.principal_type not in ("user", "group"):
            problems.add(where, "principalType: must be 'user' or 'group'")
            continue
        expiry = problems.call(where, clock.parse_moment, item.expires_at, "expiresAt")
        keys = []
        principal_key = names.canonical(item.principal) if isinstance(item.principal, str) else ""
        if item.principal_type == "user":
            ident = (
                resolver._user_by_name(item.principal)
                if principal_key and principal_key != ROOT_NAME
                else None
            )
        else:
            group = resolver.final_group_keys.get(principal_key)
            row = current.groups.get(principal_key)
            ident = group.ident if group is not None else (row["id"] if row is not None else None)
        if ident is None:
            problems.add(
                where, f"no {item.principal_type} named {quoted(item.principal)} in the file or the directory"
            )
        else:
            principals[(item.principal_type, principal_key)] = ident
        keys.append(principal_key)
        for label, value, known, existing in (
            ("account", item.account, accounts, current.accounts),
            ("permission set", item.permission_set, permission_sets, current.permission_sets),
        ):
            key = names.canonical(value) if isinstance(value, str) else ""
            if key not in known and key not in existing:
                problems.add(where, f"no {label} named {quoted(value)} in the file or the directory")
            keys.append(key)
        if ident is not None:
            assignments[(item.principal_type, keys[0], keys[1], keys[2])] = expiry
    return accounts, policies, permission_sets, attachments, assignments, principals


_ENTRY_COLUMNS = {
    "accounts": ("name", "description", "status"),
    "policies": ("name", "description", "document"),
    "permission_sets": ("name", "description", "session_duration", "inline_policy", "boundary_policy"),
}


# Each table's writes: its service's statements (policies before the permission sets that attach them).
_ROWS = {"accounts": account_rows, "policies": policy_rows, "permission_sets": permission_set_rows}


def _other_operations(
    plan: ImportPlan, others: tuple[Any, ...], current: _Current, unchanged: dict[str, int]
) -> None:
    accounts, policies, permission_sets, attachments, assignments, principals = others
    ops = plan.operations
    for concept, wanted, have in (
        ("accounts", accounts, current.accounts),
        ("policies", policies, current.policies),
        ("permission_sets", permission_sets, current.permission_sets),
    ):
        columns = _ENTRY_COLUMNS[concept]
        unchanged.setdefault(concept, 0)
        for key, fields in wanted.items():
            row = have.get(key)
            values = tuple((c, fields[c]) for c in columns)
            attached = None
            if concept == "permission_sets":
                attached = tuple(sorted(attachments.get(key, [])))
                if row is not None and list(attached) == sorted(current.attachments.get(row["id"], [])):
                    attached = None
            if row is None:
                ops.append(SaveEntry(concept, key, None, values, (), attached))
                continue
            changed = [c for c in columns if fields[c] != row[c]]
            if attached is not None:
                changed.append("managed_policies")
            if changed:
                ops.append(SaveEntry(concept, key, row["id"], values, tuple(changed), attached))
            else:
                unchanged[concept] += 1
    unchanged["assignments"] = 0
    for (kind, principal_key, account_key, set_key), expiry in assignments.items():
        ident = principals[(kind, principal_key)]
        account, pset = current.accounts.get(account_key), current.permission_sets.get(set_key)
        label = f"{kind}:{principal_key} → {set_key} in {account_key}"
        existing = None
        if ident > 0 and account is not None and pset is not None:
            existing = current.assignments.get((kind, ident, account["id"], pset["id"]))
        if existing is None:
            ops.append(SaveAssignment(kind, ident, account_key, set_key, expiry, label))
        elif existing[1] != expiry:
            ops.append(SaveAssignment(kind, ident, account_key, set_key, expiry, label, existing[0]))
        else:
            unchanged["assignments"] += 1


def _apply_others(
    directory: Directory,
    conn: sqlite3.Connection,
    by_kind: dict[type, list[Any]],
    now: str,
    user_id: Callable[[int], int],
    group_id: Callable[[int], int],
) -> None:
    entries: list[SaveEntry] = by_kind.get(SaveEntry, [])
    # Policies before the permission sets that attach them. Each row's values are in _ENTRY_COLUMNS' order:
    # the name, then the rest; the services' INSERTs put the name key after the name.
    for concept, rows in _ROWS.items():
        mine = [entry for entry in entries if entry.concept == concept]
        conn.executemany(
            rows.INSERT,
            [
                (entry.fields[0][1], entry.key, *(value for _, value in entry.fields[1:]), now, now)
                for entry in mine
                if entry.row_id is None
            ],
        )
        conn.executemany(
            rows.UPDATE_FROM_IMPORT,
            [
                (*(value for _, value in entry.fields), now, entry.row_id)
                for entry in mine
                if entry.row_id is not None and any(c != "managed_policies" for c in entry.changed)
            ],
        )
    # A disabled account grants nothing: its sessions end, as when an admin disables it.
    conn.executemany(
        account_rows.END_SESSIONS_OF_DISABLED,
        [
            (now, entry.row_id)
            for entry in entries
            if entry.concept == "accounts"
            and entry.row_id is not None
            and "status" in entry.changed
            and dict(entry.fields)["status"] == "disabled"
        ],
    )
    attaching = [entry for entry in entries if entry.policies is not None]
    if attaching:
        policy_ids = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM policies")}
        # A set created above has no id in the plan: it is found by its name key.
        by_key = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM permission_sets")}
        set_ids = [entry.row_id if entry.row_id is not None else by_key[entry.key] for entry in attaching]
        conn.executemany(permission_set_rows.DETACH_ALL, [(set_id,) for set_id in set_ids])
        conn.executemany(
            permission_set_rows.ATTACH,
            [
                (set_id, policy_ids[policy])
                for set_id, entry in zip(set_ids, attaching, strict=True)
                for policy in entry.policies or ()
            ],
        )
    saves: list[SaveAssignment] = by_kind.get(SaveAssignment, [])
    if not saves:
        return
    account_ids = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM accounts")}
    set_ids_by_key = {row[1]: row[0] for row in conn.execute("SELECT id, name_key FROM permission_sets")}
    expiries = [save for save in saves if save.row_id is not None]
    conn.executemany(
        assignment_rows.UPDATE_EXPIRY_FROM_IMPORT, [(save.expires_at, now, save.row_id) for save in expiries]
    )
    # A session never outlives its grant: those an expiry brought forward no longer covers end, as when an
    # admin brings it forward.
    for save in expiries:
        assignment_rows.end_sessions(
            directory,
            conn,
            "assignment expiry brought forward by import",
            save.kind,
            user_id(save.principal) if save.kind == "user" else group_id(save.principal),
            account_ids[save.account],
            set_ids_by_key[save.permission_set],
        )
    conn.executemany(
        assignment_rows.INSERT,
        [
            assignment_rows.insert_values(
                save.kind,
                user_id(save.principal) if save.kind == "user" else group_id(save.principal),
                account_ids[save.account],
                set_ids_by_key[save.permission_set],
                save.expires_at,
                now,
            )
            for save in saves
            if save.row_id is None
        ],
    )
