"""A sample of ksqlDB's own conformance cases run through the real broker.

The in-process runner (`tests/conformance/ksql_qtt.py`, part A) feeds records straight into
`process()`; here the same cases go through Kafka and the embedded server: the case's
statements are sent to `/ksql`, its inputs produced to real topics, and the records the
persistent queries write are read back and checked by the runner's own comparison. Topic
names get a unique suffix (and sinks a unique prefix) so cases never see each other.

The sample: stateless cases (no joins, windows or aggregates) with JSON / DELIMITED / KAFKA
formats, one input topic and one output topic, that pass in-process; every k-th of them so
the sample spans the files.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from fraudstream.kafka.admin import create_topics
from fraudstream.kafka.clients import consumer_config, producer_config
from fraudstream.ksql.client.client import KsqlClient
from fraudstream.ksql.server.app import KsqlServer
from fraudstream.local.procs import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

QTT_PATH = Path(__file__).resolve().parents[2] / "conformance" / "ksql_qtt.py"
SAMPLE_SIZE = 12
STATEFUL = ("JOIN", "GROUP BY", "WINDOW", "INSERT INTO", "DROP ", "TERMINATE")


def _load_qtt() -> ModuleType | None:
    if not QTT_PATH.is_file():
        return None
    spec = importlib.util.spec_from_file_location("ksql_qtt_via_broker", QTT_PATH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _eligible(qtt: ModuleType, case: Any) -> bool:
    t = case.test
    text = " ".join(case.statements).upper()
    if t.get("expectedException") or any(s in text for s in STATEFUL):
        return False
    if case.format_variant not in ("", "JSON", "DELIMITED", "KAFKA"):
        return False
    if any(f in text for f in ("AVRO", "PROTOBUF", "JSON_SR")) or t.get("topics"):
        return False
    inputs = t.get("inputs") or []
    outputs = t.get("outputs") or []
    if not inputs or not outputs:
        return False
    if len({i["topic"] for i in inputs}) != 1 or len({o["topic"] for o in outputs}) != 1:
        return False
    if any("timestamp" in o for o in outputs) and any(
        int(i.get("timestamp", 0) or 0) <= 0 for i in inputs
    ):
        return False  # a producer cannot write timestamp 0 (librdkafka means "now")
    return bool(qtt.run_case(case).status == "pass")


def _sample() -> tuple[ModuleType | None, list[Any]]:
    qtt = _load_qtt()
    if qtt is None:
        return None, []
    cases = [c for c in qtt.load_cases() if _eligible(qtt, c)]
    step = max(1, len(cases) // SAMPLE_SIZE)
    return qtt, cases[::step][:SAMPLE_SIZE]


QTT, SAMPLE = _sample()


def test_the_sample_is_not_empty() -> None:
    assert QTT is not None, f"conformance runner missing at {QTT_PATH}"
    assert len(SAMPLE) >= 8, f"only {len(SAMPLE)} eligible conformance cases"


def _read(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[Any]:
    c = Consumer(consumer_config(bootstrap, f"qtt-{uuid.uuid4().hex[:8]}"))
    c.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(out) < expected:
            out.extend(m for m in c.consume(100, 0.5) if m.error() is None)
        end = time.monotonic() + 1.0  # extra records would be a failure too
        while time.monotonic() < end:
            out.extend(m for m in c.consume(100, 0.2) if m.error() is None)
    finally:
        c.close()
    return out


@pytest.mark.parametrize("case", SAMPLE, ids=[c.full_name for c in SAMPLE])
def test_conformance_case_through_kafka(
    case: Any, kafka_bootstrap: str, kafka_admin: Any, unique_id: str
) -> None:
    assert QTT is not None
    t = case.test
    in_topic = t["inputs"][0]["topic"]
    out_topic = t["outputs"][0]["topic"]
    rename = {name: f"{name}-{unique_id}" for name in (in_topic, out_topic)}
    statements = []
    for s in case.statements:
        for old, new in rename.items():
            s = s.replace(f"'{old}'", f"'{new}'")
        statements.append(s)
    create_topics(kafka_admin, [rename[in_topic]], partitions=1)

    # The runner's in-memory engine knows the sources: it encodes inputs and decodes outputs.
    runner = QTT.CaseRunner(case)
    for s in case.statements:
        runner.engine.execute(s)

    prefix = f"{unique_id}_"
    server = KsqlServer(
        kafka_bootstrap,
        None,
        port=free_port(),
        service_id=f"qtt{unique_id}_",
        properties={**case.properties, "ksql.output.topic.name.prefix": prefix},
    )
    server.start(timeout=60)
    try:
        with KsqlClient(server.url) as client:
            for s in statements:
                client.ksql(s)
        producer = Producer(producer_config(kafka_bootstrap))
        for i, inp in enumerate(t["inputs"]):
            rec = runner._encode_input(inp, i)
            producer.produce(
                rename[in_topic], value=rec.value, key=rec.key, timestamp=rec.timestamp or 0
            )
        assert producer.flush(30) == 0

        names = set(kafka_admin.list_topics(timeout=10).topics)
        broker_topic = rename[out_topic] if rename[out_topic] in names else prefix + out_topic
        expected = len([o for o in t["outputs"] if o["topic"] == out_topic])
        msgs = _read(kafka_bootstrap, broker_topic, expected)
    finally:
        server.stop()

    runner.outputs.clear()
    for m in msgs:
        runner.outputs[out_topic].append(
            QTT.OutRecord(out_topic, m.key(), m.value(), m.timestamp()[1])
        )
    runner._compare_outputs()  # raises the runner's Failure with the mismatch
