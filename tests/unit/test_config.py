from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.config import Settings, load_settings
from fraudstream.errors import ConfigError


def test_defaults_are_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FRAUDSTREAM_KAFKA_BOOTSTRAP", "FRAUDSTREAM_METRICS_PORT"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings(Settings)
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.registry_url == "http://127.0.0.1:8081"
    assert s.ksql_url == "http://127.0.0.1:8088"
    assert s.metrics_port == 8000
    assert s.bind_host == "127.0.0.1"
    assert s.topic_live == "creditcardfraud_live_avro"
    assert s.topic_replication_factor == -1  # the broker's default.replication.factor


def test_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_KAFKA_BOOTSTRAP", "kafka:29092")
    monkeypatch.setenv("FRAUDSTREAM_MODEL_DIR", "/srv/models")
    s = load_settings(Settings)
    assert s.kafka_bootstrap == "kafka:29092"
    assert s.model_dir == Path("/srv/models")


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("FRAUDSTREAM_METRICS_PORT", "abc"),
        ("FRAUDSTREAM_METRICS_PORT", "70000"),
        ("FRAUDSTREAM_LOG_LEVEL", "LOUD"),
        ("FRAUDSTREAM_TOPIC_REPLICATION_FACTOR", "0"),
        ("FRAUDSTREAM_TOPIC_REPLICATION_FACTOR", "-2"),
    ],
)
def test_invalid_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings(Settings)
    msg = str(info.value)
    assert msg.startswith(f"{var}:")
    assert value in msg
    assert "\n" not in msg
