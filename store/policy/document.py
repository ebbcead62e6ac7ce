"""IAM policy documents: parse and validate identity policies (and role trust policies).

The checks run in the order moto runs them (moto mirrors AWS's IAM), so the first problem reported carries
the message AWS users know ("Syntax errors in policy.", "The policy failed legacy parsing", ...). Where that
message alone does not say what is wrong, a sentence naming the element follows it. On top of moto's rules the
parser refuses what a stored document must never hold: duplicate JSON keys, NaN/Infinity, control and format
characters in strings, nesting deeper than any policy needs, and documents over the size quota.

Size quota: 10,240 characters not counting whitespace by default -- the limit AWS IAM Identity Center puts on
a permission set's inline policy, which is what users write here. Pass ``max_chars=MANAGED_POLICY_MAX_CHARS``
(6,144, AWS's managed-policy quota) for documents meant to stand as managed policies.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from store.errors import ValidationError
from store.names import clipped, json_kind
from store.policy.patterns import mask_variables
from store.policy.values import (
    BOOL_FORM,
    NETWORK_FORM,
    NUMBER_FORM,
    parse_bool,
    parse_date,
    parse_network,
    parse_number,
)

Kind = Literal["identity", "trust"]
KindOrAuto = Literal["identity", "trust", "auto"]
Path = tuple[str | int, ...]

VERSION = "2012-10-17"
KNOWN_VERSIONS = ("2008-10-17", "2012-10-17")
INLINE_POLICY_MAX_CHARS = 10_240
MANAGED_POLICY_MAX_CHARS = 6_144
MAX_TEXT_CHARS = 262_144  # raw length, whitespace included: a whitespace bomb is refused before it is read
MAX_DEPTH = 8  # the deepest real element (Statement[i].Condition.Op.Key[j]) sits at depth 6

SYNTAX = "Syntax errors in policy."
VERSION_TOO_OLD = "Policy document must be version 2012-10-17 or greater."
LEGACY = "The policy failed legacy parsing"
SID_NOT_UNIQUE = "Statement IDs (SID) in a single policy must be unique."
NO_ACTIONS = "Policy statement must contain actions."
NO_RESOURCES = "Policy statement must contain resources."
NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
ONE_COLON = "Actions/Condition can contain only one colon."
HAS_PRINCIPAL = "Policy document should not specify a principal."
TRUST_ACTIONS = (
    "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML, "
    "and sts:AssumeRoleWithWebIdentity"
)
TRUST_RESOURCE = "Has prohibited field Resource."
TRUST_NO_PRINCIPAL = "Missing required field Principal."
DATA_TYPE_MISMATCH = "Data type mismatch:"  # IAM Access Analyzer: a value its operator cannot compare

TOP_ELEMENTS = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS = (
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Principal",
    "NotPrincipal",
)
CONDITION_OPERATORS = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    }
)
SET_PREFIXES = ("ForAnyValue:", "ForAllValues:")
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
PARTITIONS = frozenset(
    {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}
)
TRUST_ACTION_NAMES = frozenset(
    name.lower()
    for name in (
        "sts:AssumeRole",
        "sts:AssumeRoleWithSAML",
        "sts:AssumeRoleWithWebIdentity",
        "sts:SetSourceIdentity",
        "sts:TagSession",
    )
)
_REGION_ERRORS = {
    "iam": "IAM resource {resource} cannot contain region information.",
    "s3": "Resource {resource} can not contain region information.",
}
_IAM_PATHS = (
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
)
_IAM_PATH_ERROR = 'IAM resource path must either be "*" or start with ' + ", ".join(_IAM_PATHS) + "."
_VENDOR_BAD = re.compile(r"[^a-zA-Z0-9\-.]")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REFUSED_CATEGORIES = frozenset(
    {"Cc", "Cf", "Cs", "Zl", "Zp"}
)  # controls, format (bidi, zero-width), separators


# A message's value longer than a message should hold (see PolicyProblem): cut to its start and length.
_LONG_RUN = re.compile(r"\S{1001,}")
MESSAGE_MAX = 2000

# --- values


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One reason a document is refused: the message to show, the JSON path (``Statement[0].Effect``) and the
    1-based line of the text it is on, when known."""

    message: str
    field: str | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        # The messages keep moto's wording around the document's own values (an action, a resource, a key, a
        # number): a value of 100,000 characters made a 100 KB message. Each long run of one is cut, with its
        # length, and the whole message is bounded too (a long value with spaces in it).
        message = _LONG_RUN.sub(lambda found: clipped(found.group(0)), self.message)
        if len(message) > MESSAGE_MAX:
            message = f"{message[:MESSAGE_MAX]}… ({len(self.message):,} characters)"
        object.__setattr__(self, "message", message)

    def to_json(self) -> dict[str, object]:
        return {"message": self.message, "field": self.field, "line": self.line}


class PolicyValidationError(ValidationError):
    """A refused policy document; ``problems[0]`` is the one the message names."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        first = problems[0]
        super().__init__(first.message, field=first.field)
        self.problems = problems
        self.line = first.line


@dataclass(frozen=True, slots=True)
class Condition:
    """One ``operator -> key -> values`` triple of a Condition block; values are text, as AWS compares."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement, normalised: single strings became 1-tuples and ``Not...`` elements set the flags.

    ``resources`` is ``None`` only in trust policies (they name no resource); ``principals`` holds
    ``(type, value)`` pairs, ``("*", "*")`` for ``"Principal": "*"``, and is ``None`` in identity policies.
    """

    index: int
    sid: str | None
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    actions_negated: bool = False
    resources: tuple[str, ...] | None = None
    resources_negated: bool = False
    principals: tuple[tuple[str, str], ...] | None = None
    principals_negated: bool = False
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    version: str
    statements: tuple[Statement, ...]
    id: str | None = None
    kind: Kind = "identity"
    size: int = field(default=0, compare=False)  # characters, not counting whitespace


@dataclass(frozen=True, slots=True)
class _Number:
    """A JSON number kept as written: only condition values may be numbers, and they are compared as text."""

    text: str


class _Refused(Exception):
    def __init__(self, message: str, path: Path = (), line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line


_Found = tuple[str, Path]  # a problem before its line is looked up


# --- public API


def validate_policy(
    text: str, *, kind: KindOrAuto = "identity", max_chars: int = INLINE_POLICY_MAX_CHARS
) -> list[PolicyProblem]:
    """Every problem of the first failing check, the one AWS would report first; ``[]`` when valid."""
    return _analyse(text, kind, max_chars)[1]


def parse_policy(
    text: str, *, kind: KindOrAuto = "identity", max_chars: int = INLINE_POLICY_MAX_CHARS
) -> PolicyDocument:
    """The document ``text`` holds, or :class:`PolicyValidationError` naming the problem.

    ``kind="trust"`` reads a role trust policy (Principal required, Resource refused); ``"auto"`` picks trust
    when a statement names a Principal.
    """
    document, problems = _analyse(text, kind, max_chars)
    if document is None:
        raise PolicyValidationError(problems)
    return document


def problem_field(path: Path) -> str:
    """``("Statement", 0, "Effect")`` -> ``Statement[0].Effect``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# --- reading


def _analyse(
    text: str, kind: KindOrAuto, max_chars: int
) -> tuple[PolicyDocument | None, list[PolicyProblem]]:
    try:
        root, size = _decode(text, max_chars)
    except _Refused as refused:
        field_name = problem_field(refused.path) or None
        return None, [PolicyProblem(refused.message, field_name, refused.line)]
    resolved: Kind = kind if kind != "auto" else ("trust" if _names_principal(root) else "identity")
    found = _check(root, resolved)
    if found:
        lines = _locate(text)[0]
        return None, [
            PolicyProblem(message, problem_field(path) or None, _line_for(lines, path))
            for message, path in found
        ]
    return _build(root, resolved, size), []


def _decode(text: str, max_chars: int) -> tuple[dict[str, Any], int]:
    if not isinstance(text, str):
        raise _Refused(f"{SYNTAX} A policy document is text, not {type(text).__name__}.")
    quota = f"Cannot exceed quota for PolicySize: {max_chars}."
    if len(text) > MAX_TEXT_CHARS:
        raise _Refused(
            f"{quota} The document is {len(text):,} characters long; no more than {MAX_TEXT_CHARS:,} "
            f"are read, whitespace included."
        )
    size = len(text) - sum(text.count(space) for space in " \t\n\r")
    if size > max_chars:
        raise _Refused(f"{quota} The document has {size:,} characters, not counting whitespace.")
    blanked = _JSON_STRING.sub(lambda found: '"' + " " * (len(found.group()) - 2) + '"', text)
    _check_depth(text, blanked)
    duplicates: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    def refuse_constant(name: str) -> Any:
        raise _Refused(f"{SYNTAX} {name} is not a JSON value.", (), _constant_line(blanked, name))

    def finite_number(literal: str) -> _Number:
        if math.isinf(float(literal)):  # 1e999 (or 400 digits) would read as Infinity
            raise _Refused(
                f"{SYNTAX} The number {literal} is out of range.", (), _constant_line(blanked, literal)
            )
        return _Number(literal)

    try:
        root = json.loads(
            text,
            object_pairs_hook=pairs_hook,
            parse_constant=refuse_constant,
            parse_int=finite_number,
            parse_float=finite_number,
        )
    except json.JSONDecodeError as error:
        reason = error.msg.removesuffix(
            " at"
        )  # "Invalid control character at" reads oddly before "(line ...)"
        raise _Refused(
            f"{SYNTAX} Not valid JSON: {reason} (line {error.lineno}, column {error.colno}).",
            (),
            error.lineno,
        ) from None
    except RecursionError:
        raise _Refused(f"{SYNTAX} JSON nested deeper than {MAX_DEPTH} levels.") from None
    if duplicates:
        found = _locate(text)[1]
        path, line = found[0] if found else ((), None)
        key = path[-1] if path else duplicates[0]
        raise _Refused(
            f'{SYNTAX} Duplicate key "{key}"' + (f" in {problem_field(path[:-1])}." if path[:-1] else "."),
            path,
            line,
        )
    if not isinstance(root, dict):
        raise _Refused(
            f"{SYNTAX} A policy document is a JSON object, not {json_kind(root, (_Number,))}.", (), 1
        )
    bad = _find_refused_character(root, ())
    if bad is not None:
        path, char = bad
        where = problem_field(path) or "The document"
        raise _Refused(
            f"{SYNTAX} {where} contains the control or format character U+{ord(char):04X}.",
            path,
            _line_for(_locate(text)[0], path),
        )
    return root, size


def _check_depth(text: str, blanked: str) -> None:
    depth = 0
    for found in re.finditer(r"[\[\]{}]", blanked):
        if found.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, found.start()) + 1
                raise _Refused(f"{SYNTAX} JSON nested deeper than {MAX_DEPTH} levels.", (), line)
        else:
            depth -= 1


def _constant_line(blanked: str, name: str) -> int | None:
    found = re.search(r"(?<![\w\"])" + re.escape(name) + r"(?![\w\"])", blanked)
    return blanked.count("\n", 0, found.start()) + 1 if found else None


def _refused_character(text: str) -> str | None:
    if text.isascii():
        found = _ASCII_CONTROL.search(text)
        return found.group() if found else None
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return char
    return None


def _find_refused_character(value: Any, path: Path) -> tuple[Path, str] | None:
    if isinstance(value, str):
        char = _refused_character(value)
        return (path, char) if char else None
    if isinstance(value, dict):
        for key, item in value.items():
            char = _refused_character(key)
            if char:
                return path + (key,), char
            found = _find_refused_character(item, path + (key,))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_refused_character(item, path + (index,))
            if found:
                return found
    return None


def _locate(text: str) -> tuple[dict[Path, int], list[tuple[Path, int]]]:
    """Line of each JSON path in ``text`` (already known to be JSON), and the duplicate keys with theirs."""
    newlines = [found.start() for found in re.finditer("\n", text)]
    tokens = [(found.group(), found.start()) for found in _TOKEN.finditer(text)]
    lines: dict[Path, int] = {}
    duplicates: list[tuple[Path, int]] = []

    def line_of(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    def value(position: int, path: Path) -> int:
        token, offset = tokens[position]
        lines.setdefault(path, line_of(offset))
        if token not in ("{", "["):
            return position + 1
        closing = "}" if token == "{" else "]"
        position += 1
        seen: set[str] = set()
        index = 0
        while position < len(tokens) and tokens[position][0] != closing:
            if tokens[position][0] == ",":
                position += 1
                continue
            if token == "{":
                key = json.loads(tokens[position][0])
                child = path + (key,)
                if key in seen:
                    duplicates.append((child, line_of(tokens[position][1])))
                else:
                    lines.setdefault(child, line_of(tokens[position][1]))
                seen.add(key)
                position = value(position + 2, child)
            else:
                position = value(position, path + (index,))
                index += 1
        return position + 1

    try:
        if tokens:
            value(0, ())
    except (IndexError, ValueError, RecursionError):
        pass  # best effort: a line number is a courtesy, the message stands without it
    return lines, duplicates


def _line_for(lines: dict[Path, int], path: Path) -> int | None:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _names_principal(root: dict[str, Any]) -> bool:
    statements = root.get("Statement")
    items = statements if isinstance(statements, list) else [statements]
    return any(isinstance(item, dict) and ("Principal" in item or "NotPrincipal" in item) for item in items)


# --- checks


def _statements(root: dict[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    statement = root["Statement"]
    if isinstance(statement, dict):
        return [(("Statement",), statement)]
    return [(("Statement", index), item) for index, item in enumerate(statement)]


def _strip_operator(operator: str) -> str:
    for prefix in SET_PREFIXES:
        if operator.startswith(prefix):
            operator = operator[len(prefix) :]
            break
    return operator.removesuffix("IfExists")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check(root: dict[str, Any], kind: Kind) -> list[_Found]:
    found = _check_syntax(root, kind)
    if found:
        return found
    if root.get("Version") != VERSION:
        detail = (
            "The document has no Version."
            if "Version" not in root
            else (f'Version "{root["Version"]}" is too old; write "Version": "{VERSION}".')
        )
        return [(f"{VERSION_TOO_OLD} {detail}", ("Version",) if "Version" in root else ())]
    statements = _statements(root)
    found = _check_legacy(statements)
    if found:
        return found
    resource_found, legacy = _check_resource_formats(statements)
    if legacy:
        return [legacy]
    for phase in (_check_sids, _check_actions_exist):
        found = phase(statements)
        if found:
            return found
    # moto holds a resource format error back until the Sid and action checks have passed
    if resource_found:
        return resource_found
    found = _check_action_prefixes(statements)
    if found:
        return found
    found = _check_trust(statements) if kind == "trust" else _check_resources_exist(statements)
    return found or _check_condition_values(statements)


def _check_syntax(root: dict[str, Any], kind: Kind) -> list[_Found]:
    found: list[_Found] = []
    for key in root:
        if key not in TOP_ELEMENTS:
            message = f'{SYNTAX} Unknown element "{key}"; a policy has Version, Id and Statement.'
            found.append((message, (key,)))
    if "Version" in root and root["Version"] not in KNOWN_VERSIONS:
        found.append((f'{SYNTAX} Version must be "{VERSION}".', ("Version",)))
    if "Id" in root and not isinstance(root["Id"], str):
        found.append((f"{SYNTAX} Id must be a string.", ("Id",)))
    if "Statement" not in root:
        return found + [(f"{SYNTAX} The document has no Statement.", ())]
    statement = root["Statement"]
    if not isinstance(statement, (dict, list)):
        return found + [(f"{SYNTAX} Statement must be an object or a list of objects.", ("Statement",))]
    if statement == []:
        return found + [(f"{SYNTAX} Statement is an empty list.", ("Statement",))]
    for index, item in enumerate(_listed(statement)):
        path: Path = ("Statement", index) if isinstance(statement, list) else ("Statement",)
        if not isinstance(item, dict):
            found.append(
                (
                    f"{SYNTAX} {problem_field(path)} must be an object, not {json_kind(item, (_Number,))}.",
                    path,
                )
            )
            continue
        found.extend(_check_statement_syntax(item, path, kind))
    return found


def _check_statement_syntax(statement: dict[str, Any], path: Path, kind: Kind) -> list[_Found]:
    where = problem_field(path)
    found: list[_Found] = []
    for key in statement:
        if key not in STATEMENT_ELEMENTS:
            found.append((f'{SYNTAX} {where} has an unknown element "{key}".', path + (key,)))
    for one, other in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if one in statement and other in statement:
            found.append((f"{SYNTAX} {where} has both {one} and {other}; use exactly one.", path + (other,)))
    effect = statement.get("Effect")
    if "Effect" not in statement:
        found.append((f"{SYNTAX} {where} has no Effect.", path))
    elif not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        found.append((f'{SYNTAX} {where}.Effect must be "Allow" or "Deny".', path + ("Effect",)))
    for key in ("Action", "NotAction", "Resource", "NotResource"):
        if key in statement and not _strings(statement[key], nulls=key.endswith("Resource")):
            found.append((f"{SYNTAX} {where}.{key} must be a string or a list of strings.", path + (key,)))
    if "Condition" in statement:
        found.extend(_check_condition_syntax(statement["Condition"], path + ("Condition",)))
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        found.append((f"{SYNTAX} {where}.Sid must be a string.", path + ("Sid",)))
    for key in ("Principal", "NotPrincipal"):
        if key not in statement:
            continue
        if kind == "identity":
            message = f"{HAS_PRINCIPAL} {where} has a {key} element; identity policies name no principal."
            found.append((message, path + (key,)))
        elif not _valid_principal(statement[key]):
            message = (
                f'{SYNTAX} {where}.{key} must be "*" or an object such as {{"AWS": "<account or ARN>"}}.'
            )
            found.append((message, path + (key,)))
    return found


def _strings(value: Any, *, nulls: bool) -> bool:
    # moto (and AWS) let a Resource list carry null entries; they are dropped when the document is built.
    if isinstance(value, str):
        return True
    return isinstance(value, list) and all(
        isinstance(item, str) or (nulls and item is None) for item in value
    )


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, bool, _Number))


def _check_condition_syntax(condition: Any, path: Path) -> list[_Found]:
    where = problem_field(path)
    if not isinstance(condition, dict):
        example = '{"StringEquals": {"aws:username": "alice"}}'
        return [(f"{SYNTAX} {where} must be an object such as {example}.", path)]
    found: list[_Found] = []
    for operator, block in condition.items():
        if not isinstance(block, dict):
            message = f"{SYNTAX} {where}.{operator} must be an object mapping condition keys to values."
            found.append((message, path + (operator,)))
            continue
        for key, values in block.items():
            if not (_scalar(values) or (isinstance(values, list) and all(_scalar(item) for item in values))):
                message = f"{SYNTAX} {where}.{operator}.{key} must be a string or a list of strings."
                found.append((message, path + (operator, key)))
        if _strip_operator(operator) not in CONDITION_OPERATORS and block:
            found.append((f'{SYNTAX} {where} uses the unknown operator "{operator}".', path + (operator,)))
    return found


def _valid_principal(value: Any) -> bool:
    if value == "*":
        return True
    if not isinstance(value, dict) or not value:
        return False
    return all(
        kind in PRINCIPAL_TYPES and _strings(entries, nulls=False) and entries != []
        for kind, entries in value.items()
    )


def _check_legacy(statements: list[tuple[Path, dict[str, Any]]]) -> list[_Found]:
    found: list[_Found] = []
    for path, statement in statements:
        effect = statement["Effect"]
        if effect not in ("Allow", "Deny"):
            spelling = 'must be written exactly "Allow" or "Deny"'
            message = f'{LEGACY}. {problem_field(path)}.Effect "{effect}" {spelling}.'
            found.append((message, path + ("Effect",)))
        for operator, block in statement.get("Condition", {}).items():
            if not _strip_operator(operator).startswith("Date"):
                continue
            for key, values in block.items():
                for value in _listed(values):
                    text = _value_text(value)
                    if not _legacy_date(text):
                        where = path + ("Condition", operator, key)
                        reason = "is not a date (ISO 8601) or epoch seconds"
                        message = f'{LEGACY}. {problem_field(where)}: "{text}" {reason}.'
                        found.append((message, where))
    return found


def _legacy_date(text: str) -> bool:
    """moto's (and so AWS's) acceptance test for a Date condition value, quirks included (a day 31 in any
    month, a one-digit hour), but ASCII digits only: the evaluator reads exactly what this accepts."""
    return parse_date(text) is not None


def _resource_format_error(original: str) -> str | None:
    """moto's ARN shape checks for one Resource entry (message wording included).

    The checks read a copy with policy variables masked, so the colon in ``${aws:PrincipalAccount}`` is not
    taken for an ARN separator."""
    if original == "*":
        return None
    resource = mask_variables(original)
    _, colon, rest = resource.partition(":")
    if not colon:
        return f'Resource {original} must be in ARN format or "*".'
    partition, colon, rest = rest.partition(":")
    if partition != "*" and partition not in PARTITIONS and "${" not in partition:
        parts = rest.split(":")
        first = parts[0] if parts[0] != "" or len(parts) > 1 else "*"
        second = parts[1] if len(parts) > 1 else "*"
        third = parts[2] if len(parts) > 2 else "*"
        fourth = ":".join(parts[3:]) if len(parts) > 3 else "*"
        arn = f"arn:{partition}:{first}:{second}:{third}:{fourth}"
        return f'Partition "{partition}" is not valid for resource "{arn}".'
    if not colon:
        return "Resource vendor must be fully qualified and cannot contain regexes."
    service, _, rest = rest.partition(":")
    resource_id = rest.partition(":")[2].partition(":")[2]
    regional_access_point = service == "s3" and resource_id.startswith("accesspoint/")
    if service in _REGION_ERRORS and not rest.startswith(":") and not regional_access_point:
        return _REGION_ERRORS[service].format(resource=original)
    if service == "iam" and not _could_start_iam_path(resource_id):
        return _IAM_PATH_ERROR
    return None


def _could_start_iam_path(path: str) -> bool:
    # moto compares the path literally; a wildcard or variable could still reach user/, role/, ...: it passes.
    cut = min((path.find(mark) for mark in ("*", "?", "${") if mark in path), default=-1)
    if cut == -1:
        return path.startswith(_IAM_PATHS)
    head = path[:cut]
    return any(valid.startswith(head) or head.startswith(valid) for valid in _IAM_PATHS)


def _legacy_resource_ok(resource: str) -> bool:
    if resource == "*":
        return True
    resource = mask_variables(resource)
    parts = resource.split(":")
    return (resource.count(":") >= 5 or "::" not in resource) and len(parts) > 2 and parts[2] != ""


def _check_resource_formats(
    statements: list[tuple[Path, dict[str, Any]]],
) -> tuple[list[_Found], _Found | None]:
    """Resource format problems, and a legacy-parsing failure that pre-empts them.

    moto walks Resource then NotResource over every statement (a list's entries in reverse sorted order),
    keeps the *last* format error it meets, and legacy-parses a statement's resources only while no format
    error has been met. The error moto would report comes first; the others follow in that walk order.
    """
    errors: list[_Found] = []
    for key in ("Resource", "NotResource"):
        for path, statement in statements:
            if key not in statement:
                continue
            entries = [entry for entry in _listed(statement[key]) if entry is not None]
            for entry in sorted(entries, reverse=True) if isinstance(statement[key], list) else entries:
                message = _resource_format_error(entry)
                if message is not None:
                    index = statement[key].index(entry) if isinstance(statement[key], list) else None
                    errors.append((message, path + (key,) + ((index,) if index is not None else ())))
            if not errors:
                for entry in entries:
                    if not _legacy_resource_ok(entry):
                        return [], (
                            f'{LEGACY}. {problem_field(path)}.{key}: "{entry}" is not a valid ARN.',
                            path + (key,),
                        )
    if errors:
        return [errors[-1]] + errors[:-1], None
    # Beyond moto: an ARN starts with "arn:" (moto only looks at the partition).
    for key in ("Resource", "NotResource"):
        for path, statement in statements:
            for entry in _listed(statement.get(key, [])):
                if isinstance(entry, str) and entry != "*" and not entry.startswith("arn:"):
                    errors.append((f'Resource {entry} must be in ARN format or "*".', path + (key,)))
    return errors, None


def _check_sids(statements: list[tuple[Path, dict[str, Any]]]) -> list[_Found]:
    found: list[_Found] = []
    first_use: dict[str, Path] = {}
    for path, statement in statements:
        sid = statement.get("Sid")
        if sid:
            if sid in first_use:
                users = f"{problem_field(first_use[sid])} and {problem_field(path)}"
                found.append((f'{SID_NOT_UNIQUE} "{sid}" is used by {users}.', path + ("Sid",)))
            else:
                first_use[sid] = path
    return found


def _check_actions_exist(statements: list[tuple[Path, dict[str, Any]]]) -> list[_Found]:
    found: list[_Found] = []
    for path, statement in statements:
        key = "Action" if "Action" in statement else "NotAction" if "NotAction" in statement else None
        if key is None:
            found.append((f"{NO_ACTIONS} {problem_field(path)} has no Action or NotAction.", path))
        elif statement[key] == []:
            found.append((f"{NO_ACTIONS} {problem_field(path)}.{key} is an empty list.", path + (key,)))
    return found


def _check_action_prefixes(statements: list[tuple[Path, dict[str, Any]]]) -> list[_Found]:
    found: list[_Found] = []
    for key in ("Action", "NotAction"):
        for path, statement in statements:
            if key not in statement:
                continue
            for index, action in enumerate(_listed(statement[key])):
                where = path + (key,) + ((index,) if isinstance(statement[key], list) else ())
                parts = action.split(":")
                if len(parts) == 1 and parts[0] != "*":
                    found.append((f'{NO_VENDOR} ({problem_field(where)} is "{action}").', where))
                elif len(parts) > 2:
                    found.append((f'{ONE_COLON} ({problem_field(where)} is "{action}").', where))
                elif parts[0] != "*" and _VENDOR_BAD.search(parts[0]):
                    found.append((f"Vendor {parts[0]} is not valid", where))
    return found


def _check_resources_exist(statements: list[tuple[Path, dict[str, Any]]]) -> list[_Found]:
    found: list[_Found] = []
    for path, statement in statements:
        key = "Resource" if "Resource" in statement else "NotResource" if "NotResource" in statement else None
        if key is None:
            found.append((f"{NO_RESOURCES} {problem_field(path)} has no Resource or NotResource.", path))
        elif not [entry for entry in _listed(statement[key]) if entry is not None]:
            found.append((f"{NO_RESOURCES} {problem_field(path)}.{key} is an empty list.", path + (key,)))
    return found


def _check_trust(statements: list[tuple[Path, dict[str, Any]]]) -> list[_Found]:
    found: list[_Found] = []
    for path, statement in statements:
        for action in _listed(statement.get("Action", [])):
            if action.lower() not in TRUST_ACTION_NAMES:
                found.append((f'{TRUST_ACTIONS} ({problem_field(path)} has "{action}").', path + ("Action",)))
    for path, statement in statements:
        for key in ("Resource", "NotResource"):
            if key in statement:
                found.append((f"{TRUST_RESOURCE} ({problem_field(path)} has {key}).", path + (key,)))
    for path, statement in statements:
        if "Principal" not in statement and "NotPrincipal" not in statement:
            found.append((f"{TRUST_NO_PRINCIPAL} ({problem_field(path)} names no Principal).", path))
    return found


_VALUE_TYPES: dict[str, tuple[Callable[[str], object], str]] = {
    **{
        f"Numeric{name}": (parse_number, NUMBER_FORM)
        for name in ("Equals", "NotEquals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals")
    },
    "Bool": (parse_bool, BOOL_FORM),
    "Null": (parse_bool, BOOL_FORM),
    "IpAddress": (parse_network, NETWORK_FORM),
    "NotIpAddress": (parse_network, NETWORK_FORM),
}


def _check_condition_values(statements: list[tuple[Path, dict[str, Any]]]) -> list[_Found]:
    """Beyond moto (AWS's policy validation reports these): a value its operator cannot compare -- a Numeric
    "NaN" or "１０", a Bool "maybe", an IpAddress "999.1.1.1/99" -- would make the condition match nothing."""
    found: list[_Found] = []
    for path, statement in statements:
        for operator, block in statement.get("Condition", {}).items():
            expected = _VALUE_TYPES.get(_strip_operator(operator))
            if expected is None:
                continue
            parse, form = expected
            for key, values in block.items():
                for value in _listed(values):
                    text = _value_text(value)
                    if parse(text) is None:
                        where = path + ("Condition", operator, key)
                        message = f'{DATA_TYPE_MISMATCH} {problem_field(where)}: "{text}" is not {form}.'
                        found.append((message, where))
    return found


# --- building


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Number):
        return value.text
    return str(value)


def _build(root: dict[str, Any], kind: Kind, size: int) -> PolicyDocument:
    statements = []
    for index, (_, raw) in enumerate(_statements(root)):
        action_key = "Action" if "Action" in raw else "NotAction"
        resource_key = "Resource" if "Resource" in raw else "NotResource" if "NotResource" in raw else None
        principal_key = (
            "Principal" if "Principal" in raw else "NotPrincipal" if "NotPrincipal" in raw else None
        )
        conditions = tuple(
            Condition(operator, key, tuple(_value_text(value) for value in _listed(values)))
            for operator, block in raw.get("Condition", {}).items()
            for key, values in block.items()
        )
        statements.append(
            Statement(
                index=index,
                sid=raw.get("Sid") or None,
                effect="Allow" if raw["Effect"] == "Allow" else "Deny",
                actions=tuple(_listed(raw[action_key])),
                actions_negated=action_key == "NotAction",
                resources=(
                    tuple(entry for entry in _listed(raw[resource_key]) if entry is not None)
                    if resource_key
                    else None
                ),
                resources_negated=resource_key == "NotResource",
                principals=_principals(raw[principal_key]) if principal_key else None,
                principals_negated=principal_key == "NotPrincipal",
                conditions=conditions,
            )
        )
    return PolicyDocument(
        version=root["Version"], statements=tuple(statements), id=root.get("Id"), kind=kind, size=size
    )


def _principals(value: Any) -> tuple[tuple[str, str], ...]:
    if value == "*":
        return (("*", "*"),)
    return tuple((kind, entry) for kind, entries in value.items() for entry in _listed(entries))
