"""The whole-directory JSON document (SPEC §6): what ``tui export --format json`` writes and import reads."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from store import scim_kept
from store.durations import format_duration
from store.errors import ValidationError
from store.formats.scim import ENTERPRISE_USER
from store.importer import (
    AccountIn,
    AssignmentIn,
    GroupIn,
    ImportDocument,
    MemberIn,
    PermissionSetIn,
    PolicyIn,
    Problem,
    UserIn,
)
from store.names import quoted
from store.textfile import decode_utf8

if TYPE_CHECKING:
    from store.directory import Directory

MAX_DEPTH = 32
TOP_LEVEL = ("users", "groups", "accounts", "policies", "permission_sets", "assignments")
USER_FIELDS = {
    "userName",
    "displayName",
    "givenName",
    "familyName",
    "email",
    "externalId",
    "active",
    "groups",
    "sshPublicKeys",
    "source",
    "scimId",
    "scimAttributes",
    "scimDeleted",
}
GROUP_FIELDS = {"displayName", "description", "externalId", "members", "source", "scimId", "scimDeleted"}
# What this file calls the field SCIM calls ``id`` (the importer's messages name fields by their SCIM names).
ID_LABELS = {"id": "scimId"}
ACCOUNT_FIELDS = {"name", "description", "active"}
POLICY_FIELDS = {"name", "description", "document"}
PERMISSION_SET_FIELDS = {
    "name",
    "description",
    "sessionDuration",
    "inlinePolicy",
    "managedPolicies",
    "permissionsBoundary",
}
ASSIGNMENT_FIELDS = {"principalType", "principal", "account", "permissionSet", "expiresAt"}


class _Duplicated(dict[str, Any]):
    """An object that repeated a key: kept so its path can be named after parsing."""

    duplicate = ""


class _NotANumber:
    def __init__(self, text: str) -> None:
        self.text = text


def repeated_key(pairs: list[tuple[str, Any]]) -> str:
    """The first key that an object's ``pairs`` (as ``json`` parses them) hold twice; "" when none does."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return ""


class _Strict:
    """Parse hooks that mark what JSON parsers allow but we refuse, for ``_locate`` to find afterwards."""

    def __init__(self) -> None:
        self.suspect = False

    def pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) == len(pairs):
            return result
        self.suspect = True
        duplicated = _Duplicated(result)
        duplicated.duplicate = repeated_key(pairs)
        return duplicated

    def constant(self, text: str) -> _NotANumber:
        self.suspect = True
        return _NotANumber(text)


def _locate(value: Any) -> str | None:
    """The first refused thing in ``value`` as "path: reason" (iterative, so depth cannot hurt)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, _NotANumber):
            return f"{where or 'top level'}: {item.text} is not a number JSON allows"
        if isinstance(item, _Duplicated):
            return f"{where or 'top level'}: duplicate key {quoted(item.duplicate)} in one object"
        if isinstance(item, dict):
            stack.extend((v, f"{where}.{k}" if where else k) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(item))))
    return None


def _depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests (a scalar inside a list at depth n is at n + 1), or the first depth found
    over ``limit``. Level by level, so hostile nesting cannot exhaust the stack; each level's containers are
    gathered in one comprehension (a big file is 100,000 objects at one level)."""
    containers = (dict, list)
    if not isinstance(value, containers):
        return 1
    deepest, level, current = 1, 1, [value]
    while current:
        deepest = level
        below = [
            child
            for item in current
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, containers)
        ]
        if sum(map(len, current)) > len(below):  # a scalar one level down
            deepest = level + 1
        if below and level + 1 > limit:
            return level + 1
        level, current = level + 1, below
    return deepest


def load_json(raw: bytes, file_name: str) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, at most MAX_DEPTH levels."""
    return load_text(decode_utf8(raw, file_name), file_name)


def json_refusal(exc: ValueError | RecursionError) -> str:
    """Why ``json.loads`` refused, in our words: besides a syntax error (with its line and column), a number
    of more digits than Python converts (a ValueError that named sys.set_int_max_str_digits) and nesting
    that exhausts the parser's recursion."""
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"
    if isinstance(exc, RecursionError):
        return f"nested deeper than {MAX_DEPTH} levels"
    if isinstance(exc, UnicodeError):  # read from a stream decoded strictly
        return "not UTF-8 text"
    return f"not valid JSON: a number has more than {sys.get_int_max_str_digits()} digits"


def load_text(text: str, file_name: str) -> Any:
    """Strict JSON from decoded text (see :func:`load_json`)."""
    strict = _Strict()
    try:
        value = json.loads(text, object_pairs_hook=strict.pairs, parse_constant=strict.constant)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(f"{file_name}: {json_refusal(exc)}") from None
    if _depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise ValidationError(f"{file_name}: nested deeper than {MAX_DEPTH} levels")
    if strict.suspect and (problem := _locate(value)):
        raise ValidationError(f"{file_name}: {problem}")
    return value


class _Reader:
    """Turns the parsed JSON into an ImportDocument, collecting shape problems with their JSON paths."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def objects(
        self, document: dict[str, Any], key: str, allowed: set[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """The entries of one list, each with its JSON path. Each parsed entry is let go once it has been
        read, so the parsed file and the document made from it are not both whole in memory."""
        items = document.get(key, [])
        if not isinstance(items, list):
            self.problems.append(Problem(key, "must be a list"))
            return
        for index, item in enumerate(items):
            where = f"{key}[{index}]"
            if not isinstance(item, dict):
                self.problems.append(Problem(where, "must be an object"))
                continue
            if not item.keys() <= allowed:
                for unknown in sorted(set(item) - allowed):
                    self.problems.append(
                        Problem(
                            where, f"unknown field {quoted(unknown)} (known: {', '.join(sorted(allowed))})"
                        )
                    )
            yield where, item
            items[index] = None

    def text(self, item: dict[str, Any], key: str, where: str, default: str | None = "") -> Any:
        value = item.get(key, default)
        if value is not None and not isinstance(value, str):
            self.problems.append(Problem(f"{where}.{key}", "must be text"))
            return default
        return value

    def boolean(self, item: dict[str, Any], key: str, where: str) -> bool:
        value = item.get(key, True)
        if not isinstance(value, bool):
            self.problems.append(Problem(f"{where}.{key}", "must be true or false"))
            return True
        return value

    def strings(self, item: dict[str, Any], key: str, where: str) -> list[str] | None:
        if key not in item:
            return None
        value = item[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problems.append(Problem(f"{where}.{key}", "must be a list of text"))
            return []
        return value

    def scim_attributes(self, item: dict[str, Any], key: str, where: str) -> str | None:
        """What a user of a SCIM source keeps (its emails as sent, the enterprise extension), checked as
        ``tui scim serve`` checks them: the column's text, "" for none (null or {}), None when left out."""
        if key not in item:
            return None
        value = item[key]
        if value is None:
            return ""
        if not isinstance(value, dict):
            self.problems.append(
                Problem(f"{where}.{key}", f"must be an object with emails and {ENTERPRISE_USER}")
            )
            return None
        known = {"emails", ENTERPRISE_USER.casefold()}
        for unknown in sorted(k for k in value if k.casefold() not in known):
            self.problems.append(
                Problem(
                    f"{where}.{key}",
                    f"unknown attribute {quoted(unknown)} (known: emails, the enterprise extension)",
                )
            )
        try:
            return scim_kept.as_text(scim_kept.from_resource(value)) or ""
        except scim_kept.Invalid as invalid:
            self.problems.append(Problem(f"{where}.{key}", invalid.message))
            return None

    def deleted(self, item: dict[str, Any], key: str, where: str) -> str | None:
        """When the source deleted a user or group (``tui scim serve``'s DELETE): its time, "" for none
        (null), None when left out. The importer checks the time."""
        if key not in item:
            return None
        value = item[key]
        if value is None:
            return ""
        if not isinstance(value, str) or not value:
            self.problems.append(
                Problem(f"{where}.{key}", "must be a time such as 2027-01-31T09:00:00Z, or null")
            )
            return None
        return value

    def policy(self, item: dict[str, Any], key: str, where: str) -> str | None:
        value = item.get(key)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict):
            return json.dumps(value, indent=2)
        self.problems.append(Problem(f"{where}.{key}", "must be a policy document (a JSON object)"))
        return None


def read_document(raw: bytes, file_name: str) -> ImportDocument:
    """Parse our whole-directory JSON. Raises ValidationError (syntax) or ImportRefused (shape)."""
    return read_value(load_json(raw, file_name), file_name)


def read_value(data: Any, file_name: str) -> ImportDocument:
    """Our whole-directory JSON, already parsed (strictly, by :func:`load_json`)."""
    if not isinstance(data, dict):
        raise ValidationError(f"{file_name}: the top level must be an object with {', '.join(TOP_LEVEL)}")
    reader = _Reader()
    for unknown in sorted(set(data) - set(TOP_LEVEL)):
        reader.problems.append(
            Problem("", f"unknown top-level key {quoted(unknown)} (known: {', '.join(TOP_LEVEL)})")
        )
    doc = ImportDocument()
    # An entry is the whole user (or group): what it leaves out is empty, as the export writes it.
    for where, item in reader.objects(data, "users", USER_FIELDS):
        # The common entry (its fields text, active true or false, groups a list of text, no keys): read
        # without a method call per field. Anything else goes the long way, which names what is wrong.
        get = item.get
        user_name, display, given = get("userName"), get("displayName", ""), get("givenName", "")
        family, email, external = get("familyName", ""), get("email", ""), get("externalId", "")
        active, groups, source = get("active", True), get("groups"), get("source")
        if (
            type(user_name) is type(display) is type(given) is type(family) is str
            and type(email) is type(external) is str
            and type(active) is bool
            and (source is None or type(source) is str)
            and "sshPublicKeys" not in item
            and "scimAttributes" not in item
            and "scimId" not in item
            and "scimDeleted" not in item
            and (groups is None or (type(groups) is list and all(type(g) is str for g in groups)))
        ):
            groups = groups or None  # none and empty alike (no list per user: 5 MB at 100,000)
            doc.users.append(
                UserIn(
                    where, user_name, display, given, family, email, external, active, groups, source=source
                )
            )
            continue
        user_name = reader.text(item, "userName", where, None)
        doc.users.append(
            UserIn(
                where,
                user_name if user_name is not None else "",
                display_name=reader.text(item, "displayName", where),
                given_name=reader.text(item, "givenName", where),
                family_name=reader.text(item, "familyName", where),
                email=reader.text(item, "email", where),
                external_id=reader.text(item, "externalId", where),
                active=reader.boolean(item, "active", where),
                groups=reader.strings(item, "groups", where) or [],
                ssh_keys=reader.strings(item, "sshPublicKeys", where),
                source=reader.text(item, "source", where, None),
                scim_id=reader.text(item, "scimId", where, None),
                scim_attributes=reader.scim_attributes(item, "scimAttributes", where),
                scim_deleted_at=reader.deleted(item, "scimDeleted", where),
                labels=ID_LABELS,
            )
        )
    # A member named as a user of the file is given that user's name object: 300,000 members would otherwise
    # hold 300,000 more copies of 100,000 names (20 MB).
    user_names: dict[str, str] = {user.user_name: user.user_name for user in doc.users if user.user_name}
    for where, item in reader.objects(data, "groups", GROUP_FIELDS):
        members: list[MemberIn | str] = []
        raw_members = item.get("members", [])
        if not isinstance(raw_members, list):
            reader.problems.append(Problem(f"{where}.members", "must be a list"))
            raw_members = []
        if all(type(member) is str for member in raw_members):  # names only: kept as names, in place
            members = list(map(user_names.get, raw_members, raw_members))
            raw_members = []
        for index, member in enumerate(raw_members):
            if isinstance(member, str):
                members.append(MemberIn(where, member, index=index))
                continue
            member_where = f"{where}.members[{index}]"
            if isinstance(member, dict) and set(member) <= {"userName", "expiresAt"}:
                members.append(
                    MemberIn(
                        where,
                        reader.text(member, "userName", member_where, None),
                        reader.text(member, "expiresAt", member_where, None),
                        index=index,
                    )
                )
            else:
                reader.problems.append(
                    Problem(member_where, 'must be a user name or {"userName": …, "expiresAt": …}')
                )
        group_name = reader.text(item, "displayName", where, None)
        doc.groups.append(
            GroupIn(
                where,
                group_name if group_name is not None else "",
                reader.text(item, "description", where),
                reader.text(item, "externalId", where),
                members,
                source=reader.text(item, "source", where, None),
                scim_id=reader.text(item, "scimId", where, None),
                scim_deleted_at=reader.deleted(item, "scimDeleted", where),
                labels=ID_LABELS,
            )
        )
    for where, item in reader.objects(data, "accounts", ACCOUNT_FIELDS):
        doc.accounts.append(
            AccountIn(
                where,
                reader.text(item, "name", where, None),
                reader.text(item, "description", where),
                reader.boolean(item, "active", where),
            )
        )
    for where, item in reader.objects(data, "policies", POLICY_FIELDS):
        doc.policies.append(
            PolicyIn(
                where,
                reader.text(item, "name", where, None),
                reader.policy(item, "document", where) or "",
                reader.text(item, "description", where),
            )
        )
    for where, item in reader.objects(data, "permission_sets", PERMISSION_SET_FIELDS):
        doc.permission_sets.append(
            PermissionSetIn(
                where,
                reader.text(item, "name", where, None),
                reader.text(item, "description", where),
                item.get("sessionDuration", "PT1H"),
                reader.policy(item, "inlinePolicy", where),
                reader.strings(item, "managedPolicies", where) or [],
                reader.policy(item, "permissionsBoundary", where),
            )
        )
    for where, item in reader.objects(data, "assignments", ASSIGNMENT_FIELDS):
        doc.assignments.append(
            AssignmentIn(
                where,
                reader.text(item, "principalType", where, "user"),
                reader.text(item, "principal", where, None),
                reader.text(item, "account", where, None),
                reader.text(item, "permissionSet", where, None),
                reader.text(item, "expiresAt", where, None),
            )
        )
    doc.problems = reader.problems
    doc.description = (
        f"whole-directory JSON: {len(doc.users):,} users, {len(doc.groups):,} groups, "
        f"{len(doc.accounts):,} accounts, {len(doc.policies):,} policies, "
        f"{len(doc.permission_sets):,} permission sets, "
        f"{len(doc.assignments):,} assignments"
    )
    return doc


def _policy_value(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def export_document(directory: Directory) -> dict[str, Any]:
    """The whole directory (without root, secrets or sessions) in a stable order: equal directories export
    byte-identical documents."""
    with directory.db.read() as conn:
        group_names = {row[0]: row[1] for row in conn.execute("SELECT id, name FROM groups")}
        user_groups: dict[int, list[str]] = {}
        members: dict[int, list[Any]] = {}
        for row in conn.execute(
            "SELECT m.group_id, m.user_id, u.user_name, m.expires_at FROM memberships m "
            "JOIN users u ON u.id = m.user_id JOIN groups g ON g.id = m.group_id "
            "ORDER BY g.name_key, u.user_name_key"
        ):
            members.setdefault(row[0], []).append(
                row[2] if row[3] is None else {"userName": row[2], "expiresAt": row[3]}
            )
            user_groups.setdefault(row[1], []).append(group_names[row[0]])
        ssh: dict[int, list[str]] = {}
        for row in conn.execute("SELECT user_id, public_key FROM ssh_keys ORDER BY id"):
            ssh.setdefault(row[0], []).append(row[1])
        users = []
        for row in conn.execute("SELECT * FROM users WHERE is_root = 0 ORDER BY user_name_key"):
            entry: dict[str, Any] = {"userName": row["user_name"]}
            for column, key in (
                ("display_name", "displayName"),
                ("given_name", "givenName"),
                ("family_name", "familyName"),
                ("email", "email"),
            ):
                if row[column]:
                    entry[key] = row[column]
            if row["external_id"] is not None:
                entry["externalId"] = row["external_id"]
            entry["active"] = row["status"] == "active"
            entry["groups"] = sorted(user_groups.get(row["id"], []), key=str.casefold)
            if row["id"] in ssh:
                entry["sshPublicKeys"] = ssh[row["id"]]
            if row["source"] != "local":
                entry["source"] = row["source"]
            if row["scim_id"] is not None:
                entry["scimId"] = row["scim_id"]
            if row["scim_attributes"]:
                entry["scimAttributes"] = scim_kept.loaded(row["scim_attributes"])
            if row["scim_deleted_at"] is not None:
                entry["scimDeleted"] = row["scim_deleted_at"]
            users.append(entry)
        groups = []
        for row in conn.execute("SELECT * FROM groups ORDER BY name_key"):
            group: dict[str, Any] = {"displayName": row["name"]}
            if row["description"]:
                group["description"] = row["description"]
            if row["external_id"] is not None:
                group["externalId"] = row["external_id"]
            group["members"] = members.get(row["id"], [])
            if row["source"] != "local":
                group["source"] = row["source"]
            if row["scim_id"] is not None:
                group["scimId"] = row["scim_id"]
            if row["scim_deleted_at"] is not None:
                group["scimDeleted"] = row["scim_deleted_at"]
            groups.append(group)
        accounts = [
            {"name": r["name"], "description": r["description"], "active": r["status"] == "active"}
            for r in conn.execute("SELECT * FROM accounts ORDER BY name_key")
        ]
        policies = [
            {"name": r["name"], "description": r["description"], "document": json.loads(r["document"])}
            for r in conn.execute("SELECT * FROM policies WHERE builtin = 0 ORDER BY name_key")
        ]
        attached: dict[int, list[str]] = {}
        for row in conn.execute(
            "SELECT psp.permission_set_id, p.name FROM permission_set_policies psp "
            "JOIN policies p ON p.id = psp.policy_id ORDER BY p.name_key"
        ):
            attached.setdefault(row[0], []).append(row[1])
        permission_sets = []
        for r in conn.execute("SELECT * FROM permission_sets ORDER BY name_key"):
            entry = {
                "name": r["name"],
                "description": r["description"],
                "sessionDuration": format_duration(r["session_duration"]),
                "inlinePolicy": _policy_value(r["inline_policy"]),
                "managedPolicies": attached.get(r["id"], []),
            }
            if r["boundary_policy"] is not None:
                entry["permissionsBoundary"] = _policy_value(r["boundary_policy"])
            permission_sets.append(entry)
        assignments = []
        for r in conn.execute(
            "SELECT CASE WHEN a.user_id IS NOT NULL THEN 'user' ELSE 'group' END AS kind, "
            "coalesce(u.user_name, g.name) AS principal, ac.name AS account, ps.name AS pset, a.expires_at "
            "FROM assignments a LEFT JOIN users u ON u.id = a.user_id "
            "LEFT JOIN groups g ON g.id = a.group_id "
            "JOIN accounts ac ON ac.id = a.account_id JOIN permission_sets ps ON ps.id = a.permission_set_id "
            "ORDER BY ac.name_key, ps.name_key, kind, coalesce(u.user_name_key, g.name_key)"
        ):
            item = {
                "principalType": r["kind"],
                "principal": r["principal"],
                "account": r["account"],
                "permissionSet": r["pset"],
            }
            if r["expires_at"] is not None:
                item["expiresAt"] = r["expires_at"]
            assignments.append(item)
    return {
        "users": users,
        "groups": groups,
        "accounts": accounts,
        "policies": policies,
        "permission_sets": permission_sets,
        "assignments": assignments,
    }
