"""`fraudstream ksql apply` planning: statement splitting, idempotency, OR REPLACE, variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.config import Settings
from fraudstream.errors import KsqlError
from fraudstream.ksql.client import apply as applier
from fraudstream.ksql.sql.parser import parse
from fraudstream.ksql.sql.statements import split_statements

ROOT = Path(__file__).resolve().parents[4]
KSQL_DIR = ROOT / "ksql"


def test_splitter_ignores_semicolons_in_literals_and_comments() -> None:
    text = (
        "-- a comment; with a semicolon\n"
        "CREATE STREAM IF NOT EXISTS s (a INT) WITH (KAFKA_TOPIC='a;b', VALUE_FORMAT='JSON');\n"
        "/* block; comment */ LIST STREAMS;\n"
        "SELECT 'x;y' AS `q;` FROM s EMIT CHANGES"
    )
    stmts = split_statements(text)
    assert [s.kind for s in stmts] == ["CREATE", "LIST", "SELECT"]
    assert stmts[0].target() == ("STREAM", "S")
    assert stmts[0].text.endswith("VALUE_FORMAT='JSON');")
    assert stmts[2].text.startswith("SELECT 'x;y'")


def test_quoted_names_keep_case_and_unquoted_are_upper_cased() -> None:
    a, b = split_statements("CREATE TABLE `MiXed` (k INT PRIMARY KEY); DROP STREAM IF EXISTS low;")
    assert a.target() == ("TABLE", "MiXed")
    assert b.target() == ("STREAM", "LOW")


def test_or_replace_rewrite_drops_if_not_exists() -> None:
    (s,) = split_statements("create stream if not exists x (a int) with (kafka_topic='t');")
    assert s.with_or_replace() == "create OR REPLACE stream x (a int) with (kafka_topic='t');"
    (c,) = split_statements("CREATE STREAM y WITH (KAFKA_TOPIC='t') AS SELECT * FROM x;")
    assert c.kind == "CSAS"
    assert c.with_or_replace().startswith("CREATE OR REPLACE STREAM y WITH")


def test_project_statements_plan_in_file_order() -> None:
    files = applier.statement_files(KSQL_DIR)
    assert [f.name for f in files] == sorted(f.name for f in files)
    steps = applier.plan(files, set(), replace=False)
    assert [(s.action, s.target) for s in steps] == [
        ("create", "STREAM CREDITCARDFRAUD_SOURCE"),
        ("create", "TABLE USERS"),
        ("create", "STREAM CREDITCARDFRAUD_PREPROCESSED_AVRO"),
        ("create", "STREAM CREDITCARDFRAUD_LIVE_AVRO"),
        ("create", "STREAM CREDITCARDFRAUD_ENRICHED"),
        ("create", "STREAM CREDITCARDFRAUD_PER_USER"),
        ("create", "STREAM FRAUD_LABELS"),
        ("create", "STREAM CREDITCARDFRAUD_LABELLED"),
        ("run", "QUERY INSERTQUERY_TRAINING_LABELLED"),
    ]


def test_an_insert_with_a_running_query_id_is_skipped() -> None:
    """INSERT INTO is not idempotent on ksqlDB; its QUERY_ID tells apply it already runs."""
    files = applier.statement_files(KSQL_DIR)
    again = applier.plan(files, {"QUERY INSERTQUERY_TRAINING_LABELLED"}, replace=True)
    assert again[-1].action == "skip"
    assert again[-1].target == "QUERY INSERTQUERY_TRAINING_LABELLED"


def test_existing_objects_are_skipped_or_replaced() -> None:
    files = applier.statement_files(KSQL_DIR)
    existing = {"CREDITCARDFRAUD_SOURCE", "USERS"}
    skipped = applier.plan(files, existing, replace=False)
    assert [s.action for s in skipped[:3]] == ["skip", "skip", "create"]
    replaced = applier.plan(files, existing, replace=True)
    assert [s.action for s in replaced[:3]] == ["replace", "replace", "create"]
    assert "CREATE OR REPLACE STREAM creditcardfraud_source" in replaced[0].sql


def test_statements_use_current_ksqldb_syntax() -> None:
    text = "\n".join(f.read_text() for f in applier.statement_files(KSQL_DIR))
    sql = "\n".join(
        s.text for f in applier.statement_files(KSQL_DIR) for s in split_statements(f.read_text())
    )
    props = [
        name.upper()
        for st in parse(sql, applier.default_variables(Settings(), {}))
        for name in getattr(st, "properties", {})
    ]
    assert props and "KEY" not in props  # `WITH (KEY=...)` was removed in ksqlDB 0.10
    assert "userid VARCHAR PRIMARY KEY" in sql
    assert "MASK_LEFT(User, 2)" in sql
    assert "IFNULL(Class, -1)" in sql
    assert "WHERE Class IS NOT NULL" in sql
    assert "LIKE 'Premium%'" in sql
    assert "Class INT" in sql  # the type decision, documented in 01_source.sql
    assert text.count("VALUE_FORMAT = 'AVRO'") == 3
    # the delayed-label join is a windowed stream-stream join (ksqlDB's WITHIN grammar)
    assert "JOIN fraud_labels l WITHIN (30 SECONDS, 2 MINUTES) GRACE PERIOD 30 SECONDS" in sql


def test_variables_default_from_settings_and_existing_partitions() -> None:
    s = Settings()
    v = applier.default_variables(s, {s.topic_source: 6})
    assert v["source_topic"] == s.topic_source
    assert v["source_partitions"] == "6"
    assert v["live_partitions"] == "6"
    assert v["users_partitions"] == str(applier.DEFAULT_USERS_PARTITIONS)
    assert v["live_topic"] == s.topic_live
    fresh = applier.default_variables(s, {})
    assert fresh["source_partitions"] == str(applier.DEFAULT_SOURCE_PARTITIONS)
    # every ${var} the files use has a default
    used = {
        part.split("}", 1)[0]
        for f in applier.statement_files(KSQL_DIR)
        for part in f.read_text().split("${")[1:]
    }
    assert used <= set(v)


def test_parse_vars() -> None:
    assert applier.parse_vars(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(KsqlError, match="KEY=VALUE"):
        applier.parse_vars(["novalue"])


def test_missing_path_and_empty_dir_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(KsqlError, match="no such file"):
        applier.statement_files(tmp_path / "nope.sql")
    with pytest.raises(KsqlError, match=r"no \.sql files"):
        applier.statement_files(tmp_path)


def test_apply_against_an_absent_server_fails_clearly_after_the_wait() -> None:
    from typer.testing import CliRunner

    from fraudstream.ksql.cli import app
    from fraudstream.local.procs import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["apply", str(KSQL_DIR), "--wait", "1", "--url", url])
    assert result.exit_code != 0
    assert isinstance(result.exception, KsqlError)
    assert "not ready after 1s" in str(result.exception)


class _RecordingClient:
    """Answers /ksql as ksqlDB does (one entity with the new command's sequence number)."""

    def __init__(self) -> None:
        self.sent: list[int | None] = []

    def ksql(
        self, sql: str, *, variables: object = None, command_sequence_number: int | None = None
    ) -> list[dict[str, object]]:
        self.sent.append(command_sequence_number)
        return [{"@type": "currentStatus", "commandSequenceNumber": 10 + len(self.sent)}]


def test_each_statement_waits_for_the_previous_commands_sequence_number() -> None:
    steps = applier.plan(applier.statement_files(KSQL_DIR), {"USERS"}, replace=False)
    client = _RecordingClient()
    counts = applier.apply(client, steps, {})  # type: ignore[arg-type]
    assert counts["skip"] == 1 and counts["create"] == len(steps) - 2 and counts["run"] == 1
    assert client.sent == [None, 11, 12, 13, 14, 15, 16, 17]
