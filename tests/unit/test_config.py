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
        ("FRAUDSTREAM_MODEL_STORE", "s3"),
        ("FRAUDSTREAM_MODEL_CHUNK_BYTES", "10"),
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


def test_model_store_and_topic_layout_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings(Settings)
    assert (s.model_store, s.topic_model_store) == ("directory", "fraudstream_model_store")
    assert s.topic_partitions == {}
    monkeypatch.setenv("FRAUDSTREAM_MODEL_STORE", "topic")
    monkeypatch.setenv("FRAUDSTREAM_TOPIC_PARTITIONS", '{"fraud_scores": 12}')
    s = load_settings(Settings)
    assert s.model_store == "topic" and s.topic_partitions == {"fraud_scores": 12}
    monkeypatch.setenv("FRAUDSTREAM_TOPIC_PARTITIONS", '{"fraud_scores": 0}')
    with pytest.raises(ConfigError, match=r"^FRAUDSTREAM_TOPIC_PARTITIONS: .*at least 1"):
        load_settings(Settings)


def _settings_classes() -> list[tuple[type, str, str, str]]:
    """(class, env prefix, a field, an invalid value for it) for every settings class."""
    from fraudstream.local.kafka import LocalKafkaSettings
    from fraudstream.local.pipeline import StackConfig
    from fraudstream.logs import LogSettings
    from fraudstream.producer.settings import ProducerSettings
    from fraudstream.registry.settings import RegistrySettings
    from fraudstream.scorer.settings import ScorerSettings
    from fraudstream.trainer.settings import TrainerSettings

    return [
        (Settings, "FRAUDSTREAM_", "metrics_port", "-1"),
        (ScorerSettings, "FRAUDSTREAM_SCORER_", "batch_size", "zero"),
        (TrainerSettings, "FRAUDSTREAM_TRAINER_", "epochs", "many"),
        (RegistrySettings, "FRAUDSTREAM_REGISTRY_", "write_timeout_s", "-5"),
        (ProducerSettings, "FRAUDSTREAM_PRODUCER_", "rate", "-1"),
        (StackConfig, "FRAUDSTREAM_STACK_", "data_dir", ""),
        (LogSettings, "FRAUDSTREAM_LOG_", "format", "xml"),
        (LocalKafkaSettings, "FRAUDSTREAM_LOCAL_KAFKA_", "jvm_options", "kafka.Kafka"),
    ]


@pytest.mark.parametrize("case", range(8))
def test_every_settings_class_follows_the_one_pattern(
    monkeypatch: pytest.MonkeyPatch, case: int
) -> None:
    """One base, FRAUDSTREAM_<SECTION>_ variables (the existing names), frozen instances,
    and a bad value fails with one line naming the variable."""
    from pydantic import ValidationError

    from fraudstream.config import FraudstreamSettings

    cls, prefix, field, bad = _settings_classes()[case]
    assert issubclass(cls, FraudstreamSettings)
    assert cls.model_config["env_prefix"] == prefix
    assert field in cls.model_fields
    if bad == "":  # a field with no invalid text form: check frozen-ness and the prefix only
        inst = load_settings(cls)
        with pytest.raises(ValidationError):
            setattr(inst, field, "x")
        return
    var = f"{prefix}{field.upper()}"
    monkeypatch.setenv(var, bad)
    with pytest.raises(ConfigError) as info:
        load_settings(cls)
    msg = str(info.value)
    assert msg.startswith(f"{var}:") and "\n" not in msg
    monkeypatch.delenv(var)
    inst = load_settings(cls)
    with pytest.raises(ValidationError):
        setattr(inst, field, getattr(inst, field))
