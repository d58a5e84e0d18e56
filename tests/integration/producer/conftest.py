"""Helpers for the producer's integration tests: read a topic back completely, and its
records' JSON values and keys."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, Message

from fraudstream.kafka import consumer_config

SAMPLE = (
    Path(__file__).resolve().parents[3].parent
    / "shared/data/creditcard/creditcard_sample_bhavyasoni01.csv"
)


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Message]:
    """Every record of `topic`: waits for `expected`, then 1.5 s more to catch any extras."""
    consumer = Consumer(consumer_config(bootstrap, f"producer-it-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic])
    out: list[Message] = []
    deadline = time.monotonic() + timeout
    quiet_until: float | None = None
    try:
        while time.monotonic() < deadline:
            msgs = consumer.consume(5000, timeout=0.5)
            for m in msgs:
                assert m.error() is None, m.error()
                out.append(m)
            if len(out) >= expected:
                if quiet_until is None:
                    quiet_until = time.monotonic() + 1.5
                elif time.monotonic() >= quiet_until:
                    break
    finally:
        consumer.close()
    return out


def record_json(m: Message) -> Any:
    """The record's JSON value, decoded."""
    v = m.value()
    assert v is not None
    return orjson.loads(v)


def record_key(m: Message) -> bytes:
    """The record's key (the producer always sets one)."""
    k = m.key()
    assert isinstance(k, bytes)
    return k


@pytest.fixture
def read_topic(kafka_bootstrap: str) -> Callable[..., list[Message]]:
    def read(topic: str, expected: int, timeout: float = 60.0) -> list[Message]:
        return consume_all(kafka_bootstrap, topic, expected, timeout)

    return read


@pytest.fixture
def sample_csv() -> Path | None:
    """The real sample CSV when this checkout has it."""
    return SAMPLE if SAMPLE.is_file() else None
