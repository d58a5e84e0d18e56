"""Dead letters are always producible: value, key and headers capped (and the cuts recorded
in headers); one librdkafka still refuses goes to the spill file and a counter, and its
batch is acknowledged instead of rewound. The producer is a real librdkafka producer (no
broker is needed: it checks message.max.bytes inside produce())."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from fraudstream.scorer.dlq import DeadLetterWriter, dead_letter_record
from fraudstream.serde.ksql_records import Reject
from fraudstream.testing.messages import Msg


def _producer(max_bytes: int = 1_000_000) -> Any:
    return Producer({"bootstrap.servers": "127.0.0.1:1", "message.max.bytes": max_bytes})


def _hostile() -> Reject:
    headers = [(f"h{i}", b"x" * 1000) for i in range(100)]
    msg = Msg(b"v" * 950_000, 4, b"k" * 150_000, headers)
    return Reject(msg, "decode_error", "not JSON")


def test_key_and_headers_are_capped_and_the_cuts_recorded() -> None:
    key, value, headers = dead_letter_record(_hostile(), "now", 900_000)
    h = dict(headers)
    assert key is not None and len(key) <= 4096
    assert h["dlq.key_truncated_from"] == b"150000"
    assert h["dlq.truncated_from"] == b"950000"
    assert value is not None and len(value) == 900_000
    kept = [n for n, _ in headers if n.startswith("h")]
    assert 0 < len(kept) < 100 and h["dlq.headers_dropped"] == str(100 - len(kept)).encode()
    assert h["dlq.reason"] == b"decode_error"
    size = len(key) + len(value) + sum(len(n) + len(v) for n, v in headers)
    assert size < 1_000_000


def test_a_150kB_key_does_not_stop_the_dead_letter(tmp_path: Path) -> None:
    acks: list[Any] = []
    w = DeadLetterWriter(_producer(), "dlq", 900_000, spill_path=tmp_path / "spill.jsonl")
    w.send([_hostile()], lambda err, msg: acks.append(err))
    assert w.spilled == 0 and not (tmp_path / "spill.jsonl").exists()


def test_an_unproducible_dead_letter_is_spilled_counted_and_acknowledged(tmp_path: Path) -> None:
    acks: list[Any] = []
    spill = tmp_path / "spill.jsonl"
    w = DeadLetterWriter(_producer(max_bytes=1000), "dlq", 900_000, spill_path=spill)
    w.send([_hostile(), _hostile()], lambda err, msg: acks.append(err))
    assert w.spilled == 2
    assert acks == [None, None], "the batch completes: no rewind loop"
    lines = [orjson.loads(x) for x in spill.read_bytes().splitlines()]
    assert len(lines) == 2
    assert lines[0]["reason"] == "decode_error" and lines[0]["source_offset"] == 4
    assert "MSG_SIZE_TOO_LARGE" in lines[0]["error"]


def test_caps_are_settings_and_every_cut_and_spill_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fraudstream.config import Settings
    from fraudstream.scorer.connect import Outputs
    from fraudstream.scorer.metrics import ScorerMetrics
    from fraudstream.scorer.outputs import OutputWriter
    from fraudstream.scorer.settings import scorer_settings

    spill = tmp_path / "s.jsonl"
    monkeypatch.setenv("FRAUDSTREAM_SCORER_DLQ_MAX_KEY_BYTES", "100")
    monkeypatch.setenv("FRAUDSTREAM_SCORER_DLQ_MAX_HEADERS_BYTES", "2000")
    monkeypatch.setenv("FRAUDSTREAM_SCORER_DLQ_SPILL_PATH", str(spill))
    s = scorer_settings().model_copy(update={"topic_dlq": Settings().topic_dlq})
    assert (s.dlq_max_key_bytes, s.dlq_max_headers_bytes, s.dlq_spill_path) == (100, 2000, spill)
    metrics = ScorerMetrics()
    writer = OutputWriter(_producer(max_bytes=1000), s, Outputs(b"", b""), metrics=metrics)
    writer.dead_letters.send([_hostile()], lambda err, msg: None)
    key, _, headers = dead_letter_record(_hostile(), "now", s.dlq_max_value_bytes, 100, 2000)
    assert key is not None and len(key) == 100
    assert sum(len(n) + len(v) for n, v in headers if n.startswith("h")) <= 2000

    def value(name: str, **labels: str) -> float:
        got = metrics.registry.get_sample_value(name, labels)
        return 0.0 if got is None else got

    for part in ("value", "key", "headers"):
        assert value("fraudstream_dead_letters_capped_total", part=part) == 1.0, part
    assert value("fraudstream_dead_letters_spilled_total") == 1.0
    assert spill.exists()
