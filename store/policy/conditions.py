"""Condition operators, compiled once per statement into ``(context) -> bool`` checks.

Semantics as AWS documents them:
- every operator block and every key in a block must hold (AND); the values listed for one key are
  alternatives (OR) -- for a negated operator (``StringNotEquals`` ...) the request value must match none;
- a key missing from the request makes a positive operator false and a negated one true; ``...IfExists``
  makes any operator true when the key is missing; ``Null`` tests presence itself;
- ``ForAnyValue:`` needs one request value to satisfy the operator (false when the key is missing),
  ``ForAllValues:`` needs every request value to (true when the key is missing or empty);
- condition key names are case-insensitive; String* and Arn* values may use policy variables.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from store.policy.document import Condition
from store.policy.patterns import (
    RequestContext,
    compile_glob,
    has_variables,
    resolve_text,
    split_arn,
    split_variables,
)
from store.policy.values import parse_address, parse_bool, parse_date, parse_network, parse_number

ValueTest = Callable[[str, RequestContext], bool]  # does one request value satisfy one policy value?
CompiledCondition = Callable[[RequestContext], bool]
_Ordered = Decimal | Fraction

_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


@dataclass(frozen=True, slots=True)
class Operator:
    """``ForAnyValue:StringNotLikeIfExists`` -> set "any", base "StringLike", negated, if_exists."""

    base: str
    negated: bool = False
    if_exists: bool = False
    set_operator: str | None = None  # "any" | "all"

    @classmethod
    def parse(cls, name: str) -> Operator:
        set_operator = None
        for prefix, meaning in (("ForAnyValue:", "any"), ("ForAllValues:", "all")):
            if name.startswith(prefix):
                name, set_operator = name[len(prefix) :], meaning
                break
        if_exists = name.endswith("IfExists")
        if if_exists:
            name = name[: -len("IfExists")]
        negated = name in _NEGATED
        return cls(_NEGATED.get(name, name), negated, if_exists, set_operator)


def compile_condition(condition: Condition) -> CompiledCondition:
    operator = Operator.parse(condition.operator)
    key = condition.key.lower()
    if operator.base == "Null":
        wanted = {value.lower() for value in condition.values}

        def null_check(context: RequestContext) -> bool:
            present = bool(context.values.get(key))
            return ("false" in wanted and present) or ("true" in wanted and not present)

        return null_check
    tests = [_value_test(operator.base, value) for value in condition.values]
    readable = _READERS.get(operator.base, _any_text)

    def positive(value: str, context: RequestContext) -> bool:
        return any(test(value, context) for test in tests)

    negated, if_exists, set_operator = operator.negated, operator.if_exists, operator.set_operator

    def holds(value: str, context: RequestContext) -> bool:
        # A request value the operator cannot read (a "NaN" for Numeric*, "maybe" for Bool) matches
        # nothing, negated operators included: it is not a number that differs from the policy's.
        return readable(value) and positive(value, context) != negated

    def check(context: RequestContext) -> bool:
        values = context.values.get(key)
        if not values:
            if if_exists or set_operator == "all":
                return True
            return False if set_operator == "any" else negated
        if set_operator == "all":
            return all(holds(value, context) for value in values)
        if set_operator == "any":
            return any(holds(value, context) for value in values)
        comparable = [value for value in values if readable(value)]
        if not comparable:
            return False
        return any(positive(value, context) for value in comparable) != negated

    return check


def _never(value: str, context: RequestContext) -> bool:
    return False


def _any_text(value: str) -> bool:
    return True


_READERS: dict[str, Callable[[str], bool]] = {
    **{
        base: reader
        for prefix, reader in (
            ("Numeric", lambda value: parse_number(value) is not None),
            ("Date", lambda value: parse_date(value) is not None),
        )
        for base in (
            f"{prefix}Equals",
            f"{prefix}LessThan",
            f"{prefix}LessThanEquals",
            f"{prefix}GreaterThan",
            f"{prefix}GreaterThanEquals",
        )
    },
    "Bool": lambda value: parse_bool(value) is not None,
    "IpAddress": lambda value: parse_address(value) is not None,
}


def _value_test(base: str, policy_value: str) -> ValueTest:
    factory = _FACTORIES.get(base)
    return factory(policy_value) if factory else _never


def _string_equals(policy_value: str) -> ValueTest:
    pieces = split_variables(policy_value)
    if not has_variables(pieces):
        literal = resolve_text(pieces, RequestContext())

        def equals(value: str, context: RequestContext) -> bool:
            return value == literal

        return equals

    def equals_resolved(value: str, context: RequestContext) -> bool:
        return value == resolve_text(pieces, context)

    return equals_resolved


def _string_equals_ignore_case(policy_value: str) -> ValueTest:
    pieces = split_variables(policy_value)

    def equals(value: str, context: RequestContext) -> bool:
        resolved = resolve_text(pieces, context)
        return resolved is not None and value.casefold() == resolved.casefold()

    return equals


def _string_like(policy_value: str) -> ValueTest:
    return compile_glob(policy_value)


def _ordered(
    parse: Callable[[str], _Ordered | None], compare: Callable[[Any, Any], bool]
) -> Callable[[str], ValueTest]:
    def factory(policy_value: str) -> ValueTest:
        limit = parse(policy_value)
        if limit is None:
            return _never

        def test(value: str, context: RequestContext) -> bool:
            given = parse(value)
            return given is not None and compare(given, limit)

        return test

    return factory


def _bool(policy_value: str) -> ValueTest:
    wanted = parse_bool(policy_value)
    if wanted is None:
        return _never

    def test(value: str, context: RequestContext) -> bool:
        return parse_bool(value) is wanted

    return test


def _binary(policy_value: str) -> ValueTest:
    def decode(text: str) -> bytes | None:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None

    wanted = decode(policy_value)

    def test(value: str, context: RequestContext) -> bool:
        return wanted is not None and decode(value) == wanted

    return test


def _ip_address(policy_value: str) -> ValueTest:
    network = parse_network(policy_value)
    if network is None:
        return _never

    def test(value: str, context: RequestContext) -> bool:
        address = parse_address(value)
        return address is not None and address.version == network.version and address in network

    return test


def _arn_like(policy_value: str) -> ValueTest:
    # Each of the six colon-separated parts is matched on its own, so a wildcard never crosses a part's colon;
    # the last part (the resource) may itself contain colons.
    if policy_value == "*":
        return compile_glob("*")
    parts = split_arn(policy_value)
    if len(parts) != 6:
        return _never
    matchers = [compile_glob(part) for part in parts]

    def test(value: str, context: RequestContext) -> bool:
        given = value.split(":", 5)
        if len(given) != 6:
            return False
        return all(match(part, context) for match, part in zip(matchers, given, strict=True))

    return test


_FACTORIES: dict[str, Callable[[str], ValueTest]] = {
    "StringEquals": _string_equals,
    "StringEqualsIgnoreCase": _string_equals_ignore_case,
    "StringLike": _string_like,
    "NumericEquals": _ordered(parse_number, lambda given, limit: given == limit),
    "NumericLessThan": _ordered(parse_number, lambda given, limit: given < limit),
    "NumericLessThanEquals": _ordered(parse_number, lambda given, limit: given <= limit),
    "NumericGreaterThan": _ordered(parse_number, lambda given, limit: given > limit),
    "NumericGreaterThanEquals": _ordered(parse_number, lambda given, limit: given >= limit),
    "DateEquals": _ordered(parse_date, lambda given, limit: given == limit),
    "DateLessThan": _ordered(parse_date, lambda given, limit: given < limit),
    "DateLessThanEquals": _ordered(parse_date, lambda given, limit: given <= limit),
    "DateGreaterThan": _ordered(parse_date, lambda given, limit: given > limit),
    "DateGreaterThanEquals": _ordered(parse_date, lambda given, limit: given >= limit),
    "Bool": _bool,
    "BinaryEquals": _binary,
    "IpAddress": _ip_address,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
}
