"""The local broker with a SASL_SSL listener (SCRAM users, the stack's private CA): a round
trip through kafka/clients.py with the right password, a one-line refusal with a wrong one
or without credentials, owner-only files, and no password in the broker's logs."""

from __future__ import annotations

import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from fraudstream.errors import KafkaUnavailableError
from fraudstream.kafka.admin import create_topics, wait_for_broker
from fraudstream.kafka.clients import consumer_config, producer_config
from fraudstream.kafka.security import KafkaSecurity
from fraudstream.local.kafka import BROKER_USER, LocalKafka
from fraudstream.local.procs import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    broker = LocalKafka(
        data_dir=tmp_path_factory.mktemp("secure-stack"),
        port=free_port(),
        controller_port=free_port(),
        log_level="INFO",
        heap="384m",
        secure=True,
    )
    broker.start(timeout=120)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def client_env(secure_broker: LocalKafka, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for var in [v for v in os.environ if v.startswith("FRAUDSTREAM_KAFKA_")]:
        monkeypatch.delenv(var)
    env = secure_broker.client_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_round_trip_with_the_right_password(
    secure_broker: LocalKafka, client_env: dict[str, str]
) -> None:
    assert client_env["FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert "PASSWORD_FILE" in " ".join(client_env)  # a file, never the value
    bootstrap = secure_broker.bootstrap
    admin = wait_for_broker(bootstrap, timeout=30)  # security from the environment
    topic = f"secure-{uuid.uuid4().hex[:8]}"
    create_topics(admin, [topic], partitions=1)
    producer = Producer(producer_config(bootstrap))
    for i in range(10):
        producer.produce(topic, f"v{i}".encode(), f"k{i}".encode())
    assert producer.flush(30) == 0
    consumer = Consumer(consumer_config(bootstrap, f"g-{uuid.uuid4().hex[:6]}"))
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(got) < 10 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got.append(msg.value() or b"")
    consumer.close()
    assert got == [f"v{i}".encode() for i in range(10)]


def test_wrong_password_is_refused_in_one_line(
    secure_broker: LocalKafka, client_env: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-the-password-Zq9")
    monkeypatch.setenv("FRAUDSTREAM_KAFKA_SASL_PASSWORD_FILE", str(wrong))
    t0 = time.monotonic()
    with pytest.raises(KafkaUnavailableError) as exc:
        wait_for_broker(secure_broker.bootstrap, timeout=30)
    assert time.monotonic() - t0 < 20, "a refused login fails fast, not at the timeout"
    msg = str(exc.value)
    assert "\n" not in msg
    assert "refused the connection" in msg and "uthentication" in msg
    assert "not-the-password-Zq9" not in msg


def test_plaintext_and_unauthenticated_clients_get_nothing(secure_broker: LocalKafka) -> None:
    with pytest.raises(KafkaUnavailableError):
        wait_for_broker(secure_broker.bootstrap, timeout=6, security=KafkaSecurity({}))
    ca = str(secure_broker.ca_file())
    no_user = KafkaSecurity(
        {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-256",
            "sasl.username": "intruder",
            "sasl.password": "guess",
            "ssl.ca.location": ca,
        }
    )
    with pytest.raises(KafkaUnavailableError, match="uthentication"):
        wait_for_broker(secure_broker.bootstrap, timeout=20, security=no_user)


def test_files_are_owner_only_and_logs_hold_no_password(secure_broker: LocalKafka) -> None:
    data = secure_broker.data_dir
    for d in (secure_broker.home, data / "tls", data / "secrets", secure_broker.home / "data"):
        assert stat.S_IMODE(d.stat().st_mode) & 0o077 == 0, d
    private = [*(data / "tls").glob("*.pem"), *(data / "secrets").iterdir()]
    private.append(secure_broker.home / "server.properties")
    for f in private:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    for f in (secure_broker.home / "data").rglob("*"):
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f  # umask 077: topic data
    passwords = [
        secure_broker.password_file().read_text().strip(),
        secure_broker.password_file(BROKER_USER).read_text().strip(),
    ]
    logs = "".join(p.read_text(errors="replace") for p in secure_broker.home.glob("*.log"))
    assert "SASL_SSL" in logs  # the broker did log its config...
    assert not any(p in logs for p in passwords)  # ...with the JAAS passwords hidden
