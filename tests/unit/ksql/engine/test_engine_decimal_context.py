"""DECIMAL arithmetic runs in the engine's own decimal context: importing the engine changes
nothing process-wide, and 38-digit values stay exact whatever the caller's context is."""

from __future__ import annotations

import decimal
import subprocess
import sys

from fraudstream.ksql.engine.engine import InRecord, KsqlEngine


def test_import_leaves_global_decimal_context_alone() -> None:
    code = (
        "import decimal\n"
        "before = (decimal.getcontext().prec, decimal.DefaultContext.prec)\n"
        "import fraudstream.ksql.engine.engine, fraudstream.ksql.server.runtime\n"
        "import fraudstream.ksql.server.service\n"
        "print(before == (decimal.getcontext().prec, decimal.DefaultContext.prec) == (28, 28))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr


def test_wide_decimals_exact_under_a_narrow_caller_context() -> None:
    engine = KsqlEngine()
    engine.execute(
        "CREATE STREAM s (a DECIMAL(38, 2), b DECIMAL(38, 2)) WITH (kafka_topic='s', "
        "value_format='JSON', partitions=1);"
        "CREATE STREAM o AS SELECT a + b AS s, -a AS n, a * 1 AS m, ABS(b) AS ab FROM s;"
        "CREATE TABLE t AS SELECT 1 AS k, SUM(a) AS total FROM s GROUP BY 1;"
    )
    proj, agg = engine.queries.values()
    value = b'{"a": "123456789012345678901234567890123.45", "b": "-0.05"}'
    with decimal.localcontext(decimal.Context(prec=5)):
        (out,) = proj.process(InRecord("s", None, value, 0))
        outs = agg.process(InRecord("s", None, value, 0))
        outs += agg.process(InRecord("s", None, value, 1))
    row = _dec_json(out.value)
    assert row == {
        "S": decimal.Decimal("123456789012345678901234567890123.40"),
        "N": decimal.Decimal("-123456789012345678901234567890123.45"),
        "M": decimal.Decimal("123456789012345678901234567890123.45"),
        "AB": decimal.Decimal("0.05"),
    }
    assert _dec_json(outs[-1].value)["TOTAL"] == decimal.Decimal(
        "246913578024691357802469135780246.90"
    )


def _dec_json(raw: bytes | None) -> dict[str, decimal.Decimal]:
    import json

    return dict(json.loads(raw or b"", parse_float=decimal.Decimal))
