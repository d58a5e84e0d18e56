"""Java regular expressions translated to Python exactly, or refused; the REGEXP_* UDFs."""

from __future__ import annotations

from typing import Any

import pytest

from fraudstream.ksql.engine import functions as F
from fraudstream.ksql.engine.functions_regex import java_regex
from fraudstream.ksql.errors import KsqlProcessingError, KsqlUnsupportedError
from fraudstream.ksql.sql import types as T

S = T.T_STRING


def call(name: str, types: list[T.SqlType], *args: Any) -> Any:
    res = F.resolve(name, types)
    if res.null_safe and any(a is None for a in args):
        return None
    return res.impl(*args)


def test_translation_keeps_java_meanings() -> None:
    assert java_regex(r"\w+").fullmatch("é") is None  # Java's \w is ASCII
    assert java_regex(r"\d").fullmatch("٣") is None
    assert java_regex("a.c").fullmatch("a\u2028c") is None  # . stops at Java's terminators
    assert java_regex("abc$").search("abc\r\n") is not None
    assert java_regex(r"\Qa.b\E").fullmatch("a.b") and not java_regex(r"\Qa.b\E").fullmatch("axb")
    assert java_regex(r"(?<y>\d{4})-\k<y>").fullmatch("2020-2020")
    for bad in (r"(?i)a", r"\bx", r"\p{L}", "[a[b]]", "[a&&b]", r"\R"):
        with pytest.raises(KsqlUnsupportedError, match="regular expression"):
            java_regex(bad)
    with pytest.raises(KsqlProcessingError):
        java_regex("a{")


def test_extract_replace_split() -> None:
    assert call("REGEXP_EXTRACT", [S, S, T.T_INTEGER], "(.*) (.*)", "a b", 2) == "b"
    assert call("REGEXP_EXTRACT", [S, S, T.T_INTEGER], "(a)", "a", 2) is None
    assert call("REGEXP_EXTRACT_ALL", [S, S], "test.", "test_testa") == ["test_", "testa"]
    assert call("REGEXP_REPLACE", [S, S, S], "a1b22", r"(\d+)", "<$1\\$>") == "a<1$>b<22$>"
    with pytest.raises(KsqlProcessingError):
        call("REGEXP_REPLACE", [S, S, S], "a", "(a)", "$2")
    assert call("REGEXP_SPLIT_TO_ARRAY", [S, S], "a--b-", "-") == ["a", "", "b", ""]
    assert call("REGEXP_SPLIT_TO_ARRAY", [S, S], "abc", "") == ["a", "b", "c"]
    # Pattern.split: the empty match right after "," gives an empty piece, trailing ones drop
    assert call("REGEXP_SPLIT_TO_ARRAY", [S, S], "a,b,,", ",*") == ["a", "", "b"]
