"""Start-up failures are one clear error, not a hang or a half-started server."""

from __future__ import annotations

import socket
import threading

import pytest
from typer.testing import CliRunner

from fraudstream.errors import FraudstreamError, RegistryError
from fraudstream.local.procs import free_port
from fraudstream.registry.cli import app
from fraudstream.registry.server import RegistryServer

pytestmark = pytest.mark.timeout(30)


def test_port_in_use_fails_before_touching_kafka() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        server = RegistryServer("127.0.0.1:1", port=port, topic="_schemas-x")
        with pytest.raises(RegistryError, match="already in use"):
            server.start(timeout=5)


def test_unreachable_broker_is_a_bounded_clear_error() -> None:
    before = threading.active_count()
    server = RegistryServer("127.0.0.1:1", port=free_port(), topic="_schemas-x")
    with pytest.raises(FraudstreamError, match="did not answer"):
        server.start(timeout=2)
    assert threading.active_count() <= before + 1  # no reader/HTTP thread left behind


def test_cli_lists_commands() -> None:
    out = CliRunner().invoke(app, ["--help"])
    assert out.exit_code == 0
    for cmd in ("serve", "subjects", "get", "register"):
        assert cmd in out.output
