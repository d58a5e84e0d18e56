"""Registry client behaviour: what is a dead letter, what is retried, what is fatal."""

from __future__ import annotations

import json

import httpx
import pytest

from fraudstream.errors import ScorerError
from fraudstream.schemas import load_schema
from fraudstream.scorer.errors import RecordError
from fraudstream.scorer.schemas import SchemaSource
from fraudstream.serde.errors import RegistryUnavailableError

LIVE = load_schema("live")


def _source(handler: object) -> tuple[SchemaSource, list[str]]:
    calls: list[str] = []

    def wrapped(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        return handler(request)  # type: ignore[operator]

    return SchemaSource("http://registry", transport=httpx.MockTransport(wrapped)), calls


def test_schema_fetched_once_per_id() -> None:
    src, calls = _source(lambda r: httpx.Response(200, json={"schema": json.dumps(LIVE)}))
    assert src.get(5) == LIVE
    assert src.get(5) == LIVE
    assert calls == ["GET /schemas/ids/5"]


def test_unknown_id_is_a_dead_letter_and_misses_are_cached_briefly() -> None:
    src, calls = _source(lambda r: httpx.Response(404, json={"error_code": 40403}))
    for _ in range(3):
        with pytest.raises(RecordError) as exc:
            src.get(9)
        assert exc.value.reason == "schema_not_found"
    assert calls == ["GET /schemas/ids/9"], "a burst of bad records costs one request"
    src.miss_ttl_s = 0.0
    with pytest.raises(RecordError):
        src.get(9)
    assert len(calls) == 2, "after the TTL the id is asked again (it may exist by now)"


def test_non_avro_schema_is_wrong_type() -> None:
    body = {"schema": '{"type": "object"}', "schemaType": "JSON"}
    src, _ = _source(lambda r: httpx.Response(200, json=body))
    with pytest.raises(RecordError) as exc:
        src.get(1)
    assert exc.value.reason == "wrong_type"


def test_outage_is_transient_not_a_dead_letter() -> None:
    src, _ = _source(lambda r: httpx.Response(503, text="busy"))
    with pytest.raises(RegistryUnavailableError):
        src.get(1)

    def refuse(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    src2, _ = _source(refuse)
    with pytest.raises(RegistryUnavailableError, match="unreachable"):
        src2.get(1)
    with pytest.raises(RegistryUnavailableError):
        src2.register("s-value", LIVE)


def test_register_returns_id_and_incompatible_schema_is_fatal() -> None:
    src, calls = _source(lambda r: httpx.Response(200, json={"id": 42}))
    assert src.register("fraud_scores-value", LIVE) == 42
    assert src.get(42) == LIVE and calls == ["POST /subjects/fraud_scores-value/versions"]
    bad, _ = _source(lambda r: httpx.Response(409, json={"error_code": 409}))
    with pytest.raises(ScorerError, match="refused") as exc:
        bad.register("fraud_scores-value", LIVE)
    assert not isinstance(exc.value, RegistryUnavailableError), "retrying cannot fix it"
