"""The one statement splitter: pieces, words, spans, and line numbers relative to the text."""

from __future__ import annotations

import itertools

import pytest

from fraudstream.ksql.errors import KsqlParseError
from fraudstream.ksql.sql.parser import parse
from fraudstream.ksql.sql.statements import split_statements

SCRIPT = """-- header comment; with a semicolon
CREATE STREAM a (x INT) WITH (kafka_topic='t;1', value_format='JSON');

/* block; comment */
DEFINE v = 'x;y';
SELECT `weird;name` FROM a EMIT CHANGES
"""


def test_semicolons_inside_quotes_and_comments_do_not_split() -> None:
    stmts = split_statements(SCRIPT)
    assert [s.kind for s in stmts] == ["CREATE", "DEFINE", "SELECT"]
    assert stmts[0].text.startswith("-- header comment")  # leading comments stay in the text
    assert stmts[0].text.endswith("value_format='JSON');")
    assert stmts[1].text == "/* block; comment */\nDEFINE v = 'x;y';"
    assert stmts[2].text == "SELECT `weird;name` FROM a EMIT CHANGES"  # the tail needs no `;`
    assert "`weird;name`" in stmts[2].words  # back-quoted identifiers are words, literals not


def test_spans_cover_the_raw_pieces_back_to_back() -> None:
    stmts = split_statements(SCRIPT)
    assert stmts[0].span[0] == 0
    for before, after in itertools.pairwise(stmts):
        assert before.span[1] == after.span[0]
    assert stmts[-1].span[1] == len(SCRIPT)
    for s in stmts:
        assert s.text in s.piece(SCRIPT)
        assert SCRIPT[s.start : s.start + len(s.text)] == s.text


def test_comment_only_and_empty_pieces_are_no_statements() -> None:
    assert split_statements("-- nothing here;\n/* nor; here */ ;  ;\n") == []
    assert split_statements("") == []


def test_a_piece_without_words_is_still_a_statement_for_the_parser_to_reject() -> None:
    (stmt,) = split_statements("'just a literal';")
    assert stmt.words == ()
    with pytest.raises(KsqlParseError):
        parse(stmt.parser_input("'just a literal';"))


def test_parser_input_keeps_error_lines_relative_to_the_whole_text() -> None:
    text = "LIST STREAMS;\n\nLIST TABLES;\nCREATE STREAM (;"
    bad = split_statements(text)[-1]
    with pytest.raises(KsqlParseError, match=r"^line 4:15: Syntax Error"):
        parse(bad.parser_input(text))
    with pytest.raises(KsqlParseError, match=r"^line 2:15: Syntax Error"):
        parse(bad.piece(text))  # the raw piece alone starts on the previous line's end


def test_variables_are_words_of_their_own() -> None:
    (stmt,) = split_statements("CREATE STREAM ${name} (x INT) WITH (kafka_topic='${t}');")
    assert stmt.words[:3] == ("CREATE", "STREAM", "${name}")
