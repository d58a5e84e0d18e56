"""The registry client: what is a dead letter, what is retried, what is refused; and the
same calls against the embedded registry's REST app."""

from __future__ import annotations

import json

import httpx
import pytest

from fraudstream.errors import RegistryError
from fraudstream.serde.errors import (
    RegistryRefusedError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SerdeFailure,
    WrongTypeError,
)
from fraudstream.serde.registry_client import (
    RegistryClient,
    RegistryConfig,
    key_subject,
    value_subject,
)
from fraudstream.serde.schemas import load_schema

LIVE = load_schema("live")


def _client(handler: object) -> tuple[RegistryClient, list[str]]:
    calls: list[str] = []

    def wrapped(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        return handler(request)  # type: ignore[operator]

    return RegistryClient("http://registry", transport=httpx.MockTransport(wrapped)), calls


def test_schema_fetched_once_per_id() -> None:
    src, calls = _client(lambda r: httpx.Response(200, json={"schema": json.dumps(LIVE)}))
    assert src.schema(5) == LIVE
    assert src.schema(5) == LIVE
    assert src.schema_text(5) == json.dumps(LIVE)
    assert calls == ["GET /schemas/ids/5"]


def test_unknown_id_is_a_dead_letter_and_misses_are_cached_briefly() -> None:
    src, calls = _client(lambda r: httpx.Response(404, json={"error_code": 40403}))
    for _ in range(3):
        with pytest.raises(SchemaNotFoundError) as exc:
            src.schema(9)
        assert exc.value.reason == "schema_not_found"
    assert calls == ["GET /schemas/ids/9"], "a burst of bad records costs one request"
    src.miss_ttl_s = 0.0
    with pytest.raises(SchemaNotFoundError):
        src.schema(9)
    assert len(calls) == 2, "after the TTL the id is asked again (it may exist by now)"


@pytest.mark.parametrize(
    "body",
    [
        {"schema": '{"type": "object"}', "schemaType": "JSON"},
        {"schema": '"long"'},  # a bare primitive: no record decoder can use it
    ],
)
def test_unusable_schema_is_wrong_type(body: dict[str, str]) -> None:
    src, _ = _client(lambda r: httpx.Response(200, json=body))
    with pytest.raises(WrongTypeError) as exc:
        src.schema(1)
    assert exc.value.reason == "wrong_type"


def test_garbled_answer_is_a_record_failure_not_an_outage() -> None:
    src, _ = _client(lambda r: httpx.Response(200, json={"schema": "{not json"}))
    with pytest.raises(SerdeFailure) as exc:
        src.schema(1)
    assert exc.value.reason == "schema_not_found"


def test_outage_is_transient_not_a_dead_letter() -> None:
    src, _ = _client(lambda r: httpx.Response(503, json={"error_code": 50003, "message": "x"}))
    with pytest.raises(RegistryUnavailableError, match="503"):
        src.schema(1)

    def refuse(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    src2, _ = _client(refuse)
    with pytest.raises(RegistryUnavailableError, match="unreachable"):
        src2.schema(1)
    with pytest.raises(RegistryUnavailableError):
        src2.register("s-value", LIVE)
    assert not issubclass(RegistryUnavailableError, SerdeFailure), "never dead-lettered"


def test_register_returns_id_and_incompatible_schema_is_refused() -> None:
    src, calls = _client(lambda r: httpx.Response(200, json={"id": 42}))
    assert src.register("fraud_scores-value", LIVE) == 42
    assert src.register("fraud_scores-value", LIVE) == 42
    assert src.schema(42) == LIVE and calls == ["POST /subjects/fraud_scores-value/versions"]
    bad, _ = _client(lambda r: httpx.Response(409, json={"error_code": 409, "message": "no"}))
    with pytest.raises(RegistryRefusedError, match="refused") as exc:
        bad.register("fraud_scores-value", LIVE)
    assert exc.value.status == 409 and exc.value.error_code == 409
    assert isinstance(exc.value, RegistryError)
    assert not isinstance(exc.value, RegistryUnavailableError), "retrying cannot fix it"


def test_subject_names() -> None:
    assert value_subject("fraud_scores") == "fraud_scores-value"
    assert key_subject("fraud_scores") == "fraud_scores-key"


def test_config_strips_the_trailing_slash() -> None:
    client = RegistryClient(RegistryConfig("http://r:8081/", timeout_s=1.0))
    assert client.url == "http://r:8081"
    client.close()


# -- against the embedded registry (in-process REST app) -------------------------------


def test_register_lookup_latest_against_the_embedded_registry(
    embedded_registry: RegistryClient,
) -> None:
    client = embedded_registry
    subject = value_subject("live")
    assert client.latest(subject) is None
    sid = client.register(subject, LIVE)
    assert client.register(subject, json.dumps(LIVE)) == sid, "same schema, same id"
    assert client.lookup(subject, LIVE) == sid
    assert client.latest(subject) == (sid, client.schema_text(sid))
    assert client.schema(sid) == LIVE
    assert client.subjects() == [subject] and client.versions(subject) == [1]
    with pytest.raises(SchemaNotFoundError):
        client.lookup("other-value", LIVE)
    with pytest.raises(SchemaNotFoundError):
        client.schema(sid + 100)


def test_embedded_registry_refusals_carry_confluent_codes(
    embedded_registry: RegistryClient,
) -> None:
    client = embedded_registry
    with pytest.raises(RegistryRefusedError) as invalid:
        client.register("bad-value", '{"type": "no_such_type"}')
    assert invalid.value.status == 422 and invalid.value.error_code == 42201
    client.register("evolve-value", {"type": "record", "name": "R", "fields": []})
    incompatible = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "int"}]}
    with pytest.raises(RegistryRefusedError) as conflict:
        client.register("evolve-value", incompatible)
    assert conflict.value.status == 409
    with pytest.raises(RegistryRefusedError) as missing:
        client.versions("nope-value")
    assert missing.value.status == 404 and missing.value.error_code == 40401
