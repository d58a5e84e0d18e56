"""`FRAUDSTREAM_KAFKA_*`: one security config for every client; bad settings in one line."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from fraudstream.errors import ConfigError
from fraudstream.kafka.clients import admin_config, client_config, consumer_config, producer_config
from fraudstream.kafka.security import KafkaSecurity, kafka_security
from fraudstream.local.certs import LocalCa

SECRET = "s3cr3t-Pa55-w0rd"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("FRAUDSTREAM_KAFKA_")]:
        if var != "FRAUDSTREAM_KAFKA_BOOTSTRAP":
            monkeypatch.delenv(var)


def _env(monkeypatch: pytest.MonkeyPatch, **values: str | Path) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"FRAUDSTREAM_KAFKA_{key.upper()}", str(value))


def _one_line(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert SECRET not in msg
    return msg


def test_default_is_plaintext_and_adds_nothing() -> None:
    assert kafka_security().librdkafka() == {}
    assert producer_config("h:1")["bootstrap.servers"] == "h:1"
    assert "security.protocol" not in consumer_config("h:1", "g")


def test_sasl_ssl_scram_reaches_every_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = LocalCa(tmp_path / "tls").ca_file()
    _env(
        monkeypatch,
        security_protocol="sasl_ssl",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password=SECRET,
        ssl_ca_location=ca,
    )
    for conf in (
        producer_config("h:1", linger_ms=1),
        consumer_config("h:1", "g"),
        admin_config("h:1"),
        client_config("h:1", **{"group.id": "x"}),
    ):
        assert conf["security.protocol"] == "SASL_SSL"
        assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
        assert conf["sasl.username"] == "svc"
        assert conf["sasl.password"] == SECRET
        assert conf["ssl.ca.location"] == str(ca)
    assert producer_config("h:1", linger_ms=1)["linger.ms"] == 1
    assert admin_config("h:1")["log_level"] == 0


def test_secrets_from_files_drop_the_trailing_newline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pw = tmp_path / "password"
    pw.write_text(SECRET + "\n")
    _env(
        monkeypatch,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password="ignored-when-a-file-is-given",
        sasl_password_file=pw,
    )
    assert kafka_security().librdkafka()["sasl.password"] == SECRET


def test_secrets_never_in_repr_describe_or_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _env(
        monkeypatch,
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password=SECRET,
    )
    sec = kafka_security()
    assert SECRET not in repr(sec)
    assert SECRET not in str(sec.describe())
    assert sec.describe()["sasl.password"] == "[hidden]"
    from fraudstream.kafka.security import KafkaSecuritySettings

    settings = KafkaSecuritySettings()
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    assert SECRET not in caplog.text


def test_oauthbearer_oidc_client_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text(SECRET)
    _env(
        monkeypatch,
        security_protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauthbearer_token_endpoint_url="https://idp.example/oauth2/token",
        sasl_oauthbearer_client_id="fraudstream",
        sasl_oauthbearer_client_secret_file=secret,
        sasl_oauthbearer_scope="kafka",
        sasl_oauthbearer_extensions="logicalCluster=lkc-1,identityPoolId=pool-2",
    )
    conf = kafka_security().librdkafka()
    assert conf["sasl.oauthbearer.method"] == "oidc"
    assert conf["sasl.oauthbearer.client.secret"] == SECRET
    assert conf["sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/oauth2/token"
    assert conf["sasl.oauthbearer.extensions"] == "logicalCluster=lkc-1,identityPoolId=pool-2"
    # librdkafka itself accepts the resulting config (no unknown property, no bad value)
    from confluent_kafka import Producer

    Producer(producer_config("127.0.0.1:1")).flush(0)


def test_oidc_without_client_secret_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(
        monkeypatch,
        security_protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauthbearer_token_endpoint_url="https://idp.example/token",
        sasl_oauthbearer_client_id="c",
    )
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert _one_line(exc).startswith("FRAUDSTREAM_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET")


def test_unknown_protocol_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, security_protocol="TLS")
    with pytest.raises(ConfigError) as exc:
        producer_config("h:1")
    msg = _one_line(exc)
    assert msg.startswith("FRAUDSTREAM_KAFKA_SECURITY_PROTOCOL:")
    assert "SASL_SSL" in msg


def test_unknown_mechanism_and_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, security_protocol="SASL_SSL", sasl_mechanism="KERBEROS5")
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert _one_line(exc).startswith("FRAUDSTREAM_KAFKA_SASL_MECHANISM:")
    _env(monkeypatch, sasl_mechanism="SCRAM-SHA-256", sasl_password=SECRET)
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert _one_line(exc).startswith("FRAUDSTREAM_KAFKA_SASL_USERNAME:")
    monkeypatch.delenv("FRAUDSTREAM_KAFKA_SASL_MECHANISM")
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert "FRAUDSTREAM_KAFKA_SASL_MECHANISM: required" in _one_line(exc)


def test_missing_cert_file_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env(monkeypatch, security_protocol="SSL", ssl_ca_location=tmp_path / "nope.pem")
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert _one_line(exc).startswith("FRAUDSTREAM_KAFKA_SSL_CA_LOCATION:")


def test_unreadable_and_undecryptable_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = LocalCa(tmp_path / "tls")
    pair = ca.issue("client", client=True, password=SECRET)
    _env(
        monkeypatch,
        security_protocol="SSL",
        ssl_ca_location=ca.ca_file(),
        ssl_certificate_location=pair.cert,
        ssl_key_location=pair.key,
        ssl_key_password=SECRET,
    )
    conf = kafka_security().librdkafka()
    assert conf["ssl.key.password"] == SECRET
    from confluent_kafka import Producer

    Producer(producer_config("127.0.0.1:1")).flush(0)  # librdkafka loads the key too

    _env(monkeypatch, ssl_key_password="wrong-" + SECRET)
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert _one_line(exc).startswith("FRAUDSTREAM_KAFKA_SSL_KEY_PASSWORD:")

    monkeypatch.delenv("FRAUDSTREAM_KAFKA_SSL_KEY_PASSWORD")
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert "encrypted: set FRAUDSTREAM_KAFKA_SSL_KEY_PASSWORD" in _one_line(exc)

    garbage = tmp_path / "garbage-key.pem"
    garbage.write_text("not a key\n")
    _env(monkeypatch, ssl_key_location=garbage)
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert _one_line(exc).startswith("FRAUDSTREAM_KAFKA_SSL_KEY_LOCATION:")

    if os.geteuid() != 0:
        pair.key.chmod(0)
        _env(monkeypatch, ssl_key_location=pair.key)
        with pytest.raises(ConfigError) as exc:
            kafka_security()
        assert _one_line(exc).startswith("FRAUDSTREAM_KAFKA_SSL_KEY_LOCATION:")


def test_tls_files_with_plaintext_protocol_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _env(monkeypatch, ssl_ca_location=LocalCa(tmp_path).ca_file())
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert "SECURITY_PROTOCOL=SSL or SASL_SSL" in _one_line(exc)


def test_confluent_client_properties_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Confluent Cloud's client.properties works as is; the variables override it."""
    props = tmp_path / "client.properties"
    props.write_text(
        "bootstrap.servers=pkc-1.eu-west-1.aws.confluent.cloud:9092\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanisms=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f"username='APIKEY1' password='{SECRET}';\n"
        "session.timeout.ms=45000\n"
        "client.dns.lookup=use_all_dns_ips\n"
        "schema.registry.url=https://psrc-1.confluent.cloud\n"
        "basic.auth.credentials.source=USER_INFO\n"
    )
    _env(monkeypatch, config_file=props)
    conf = producer_config("b:9092")
    assert conf["bootstrap.servers"] == "b:9092"
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "PLAIN"
    assert (conf["sasl.username"], conf["sasl.password"]) == ("APIKEY1", SECRET)
    assert conf["session.timeout.ms"] == "45000"
    assert not any(k.startswith(("schema.registry", "basic.auth", "sasl.jaas")) for k in conf)
    from confluent_kafka import Producer

    Producer(conf).flush(0)

    _env(monkeypatch, sasl_username="OTHER")
    assert kafka_security().librdkafka()["sasl.username"] == "OTHER"


def test_config_file_with_a_java_truststore_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    props = tmp_path / "client.properties"
    props.write_text("security.protocol=SSL\nssl.truststore.location=/x/truststore.jks\n")
    _env(monkeypatch, config_file=props)
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    msg = _one_line(exc)
    assert msg.startswith("FRAUDSTREAM_KAFKA_CONFIG_FILE:") and "ssl.ca.location" in msg


def test_bad_protocol_in_config_file_names_the_file_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    props = tmp_path / "client.properties"
    props.write_text("security.protocol=TLS\n")
    _env(monkeypatch, config_file=props)
    with pytest.raises(ConfigError) as exc:
        kafka_security()
    assert _one_line(exc).startswith("FRAUDSTREAM_KAFKA_CONFIG_FILE:")


def test_explicit_security_object_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, security_protocol="TLS")  # broken env: not read at all
    sec = KafkaSecurity({"security.protocol": "SSL"})
    assert producer_config("h:1", security=sec)["security.protocol"] == "SSL"
