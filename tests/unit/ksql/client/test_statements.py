"""Where a typed statement ends: `;` outside quotes and comments, across lines."""

from __future__ import annotations

import pytest

from fraudstream.ksql.client.statements import split_complete


@pytest.mark.parametrize(
    ("buffer", "done", "rest"),
    [
        ("SHOW STREAMS", [], "SHOW STREAMS"),
        ("SHOW\n  STREAMS\n;", ["SHOW\n  STREAMS\n;"], ""),
        ("LIST TOPICS; DESCRIBE X;  ", ["LIST TOPICS;", "DESCRIBE X;"], "  "),
        ("SELECT 'a;b' FROM S", [], "SELECT 'a;b' FROM S"),
        ("SELECT 'it''s;' AS X FROM S;", ["SELECT 'it''s;' AS X FROM S;"], ""),
        ('SELECT `we;ird` FROM "S;";', ['SELECT `we;ird` FROM "S;";'], ""),
        ("-- a; comment\nSHOW TABLES;", ["-- a; comment\nSHOW TABLES;"], ""),
        ("/* ; */ SHOW TABLES", [], "/* ; */ SHOW TABLES"),
        (";;  ;", [], ""),
        ("SELECT 'unclosed; FROM S;", [], "SELECT 'unclosed; FROM S;"),
        ("SHOW STREAMS; SHOW", ["SHOW STREAMS;"], " SHOW"),
    ],
)
def test_split_complete(buffer: str, done: list[str], rest: str) -> None:
    assert split_complete(buffer) == (done, rest)
