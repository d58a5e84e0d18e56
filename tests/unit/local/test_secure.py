"""`up --secure` hands every component file paths, never a password, and the probes log in."""

from __future__ import annotations

import stat
from pathlib import Path

from fraudstream.config import Settings
from fraudstream.kafka.security import KafkaSecuritySettings, kafka_security
from fraudstream.local.pipeline import Pipeline, StackConfig
from fraudstream.local.secure import HTTP_USER, probe_kwargs
from fraudstream.serde.registry_client import RegistryClientSettings


def _pipeline(tmp_path: Path, secure: bool) -> Pipeline:
    cfg = StackConfig(data_dir=tmp_path / "stack", model_dir=tmp_path / "models", secure=secure)
    return Pipeline(cfg, Settings())


def test_plain_stack_adds_no_security(tmp_path: Path) -> None:
    pipe = _pipeline(tmp_path, secure=False)
    assert pipe.client_env() == {} and pipe.probe() == {}
    assert pipe.ep.registry_url.startswith("http://")
    assert not any(k.startswith("FRAUDSTREAM_HTTP_") for k in pipe.registry_service().env)


def test_secure_env_is_paths_only_and_resolves(tmp_path: Path) -> None:
    pipe = _pipeline(tmp_path, secure=True)
    assert pipe.ep.registry_url.startswith("https://") and pipe.ep.ksql_url.startswith("https://")
    env = pipe.env()
    secrets_dir = tmp_path / "stack" / "secrets"
    passwords = [p.read_text().strip() for p in secrets_dir.glob("*.password")]
    assert passwords and all(len(p) >= 24 for p in passwords)
    for svc in (pipe.registry_service(), pipe.ksql_service(), pipe.scorer_service()):
        assert not any(pw in v for pw in passwords for v in svc.env.values()), svc.name
        assert not any(pw in str(svc.model_dump()) for pw in passwords)
    for f in [*secrets_dir.iterdir(), *(tmp_path / "stack" / "tls").iterdir()]:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    server = pipe.registry_service().env
    assert server["FRAUDSTREAM_HTTP_BASIC_AUTH_USER"] == HTTP_USER
    assert Path(server["FRAUDSTREAM_HTTP_TLS_CERT_FILE"]).is_file()
    assert not any(k.startswith("FRAUDSTREAM_HTTP_") for k in pipe.scorer_service().env)
    # the variables configure the clients as intended
    kafka = kafka_security(
        KafkaSecuritySettings(
            **{k.removeprefix("FRAUDSTREAM_KAFKA_").lower(): v for k, v in env.items()
               if k.startswith("FRAUDSTREAM_KAFKA_") and k != "FRAUDSTREAM_KAFKA_BOOTSTRAP"}
        )
    ).librdkafka()  # fmt: skip
    assert kafka["security.protocol"] == "SASL_SSL" and kafka["sasl.password"] in passwords
    reg = RegistryClientSettings(
        basic_auth_user_info_file=env["FRAUDSTREAM_REGISTRY_BASIC_AUTH_USER_INFO_FILE"],
        ssl_ca_location=env["FRAUDSTREAM_REGISTRY_SSL_CA_LOCATION"],
    )
    assert reg.basic_auth_user_info_file is not None
    user, _, pw = reg.basic_auth_user_info_file.read_text().partition(":")
    assert user == HTTP_USER and pw in passwords
    kw = probe_kwargs(pipe.probe())
    assert kw["auth"][0] == HTTP_USER and kw["auth"][1] == pw
    assert pipe.registry_service().probe == pipe.probe()
