"""Every Kafka client config of the product is built by `kafka/clients.py`."""

from __future__ import annotations

import re
from pathlib import Path

import fraudstream

SERVICES = Path(fraudstream.__file__).resolve().parent


def test_no_client_config_is_written_by_hand() -> None:
    """A literal `bootstrap.servers` key outside clients.py would be a client that skips the
    security settings (SASL/TLS) of FRAUDSTREAM_KAFKA_*."""
    offenders = [
        f"{path.relative_to(SERVICES)}:{n}"
        for path in sorted(SERVICES.rglob("*.py"))
        if path.name != "clients.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"""["']bootstrap\.servers["']\s*:""", line)
    ]
    assert offenders == []


def test_every_client_construction_takes_a_built_config() -> None:
    pattern = re.compile(r"\b(Producer|Consumer|AdminClient)\(\s*\{")
    offenders = [
        f"{path.relative_to(SERVICES)}:{m.group(0)}"
        for path in sorted(SERVICES.rglob("*.py"))
        for m in pattern.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
