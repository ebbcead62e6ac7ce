"""IAM wildcards (``*`` any run, ``?`` one character) match as a regular expression would, without one:
``re`` backtracked for minutes on ``*a*a…*b`` (hostile-input testing), and a policy imported from a file can
hold any pattern."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from store.policy.patterns import RequestContext, compile_glob

CONTEXT = RequestContext.build({"aws:username": "a*b?"})


def reference(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


@settings(max_examples=2000, deadline=None)
@given(st.text("ab*?\n", max_size=8), st.text("ab*?\n", max_size=10))
def test_a_pattern_matches_what_the_regular_expression_would(pattern: str, value: str) -> None:
    assert compile_glob(pattern)(value, CONTEXT) == reference(pattern, value), (pattern, value)


@settings(max_examples=500, deadline=None)
@given(st.text("ab*?", max_size=4), st.text("ab*?", max_size=4), st.text("ab*?/", max_size=10))
def test_a_variables_value_is_text_never_wildcards(before: str, after: str, value: str) -> None:
    """${aws:username} is "a*b?" here: its * and ? match only themselves."""
    pattern = before + "${aws:username}" + after
    expected = _literal_reference(before, after, value)
    assert compile_glob(pattern)(value, CONTEXT) == expected, (pattern, value)


def _literal_reference(before: str, after: str, value: str) -> bool:
    def part(glob: str) -> str:
        return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)

    return re.fullmatch(part(before) + re.escape("a*b?") + part(after), value, re.DOTALL) is not None


def test_a_pattern_made_to_backtrack_is_decided_at_once() -> None:
    pattern = "arn:aws:s3:::" + "*a" * 2000 + "*b"
    match = compile_glob(pattern)
    assert not match("arn:aws:s3:::" + "a" * 20_000, CONTEXT)
    assert match("arn:aws:s3:::" + "a" * 20_000 + "b", CONTEXT)
    assert compile_glob("S3:get*", ignore_case=True)("s3:getobject", CONTEXT)
