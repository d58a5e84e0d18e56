from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fraudstream.errors import KafkaUnavailableError, PortInUseError
from fraudstream.kafka.admin import wait_for_broker
from fraudstream.local.kafka import LocalKafka
from fraudstream.local.procs import free_port, port_free, require_port, tail


def test_port_in_use_is_reported() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not port_free("127.0.0.1", port)
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port}"):
            require_port("127.0.0.1", port, "Kafka broker")


def test_broker_start_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        broker = LocalKafka(data_dir=tmp_path, port=port, controller_port=free_port())
        with pytest.raises(PortInUseError, match="already in use"):
            broker.start(timeout=5)
    assert not broker.running()


def test_unreachable_broker_names_the_address() -> None:
    port = free_port()
    with pytest.raises(KafkaUnavailableError, match=f"127.0.0.1:{port}"):
        wait_for_broker(f"127.0.0.1:{port}", timeout=1.5)


def test_tail_reads_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert tail(log, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert tail(tmp_path / "missing.log") == ""


def test_broker_start_failure_shows_java_output(tmp_path: Path) -> None:
    from fraudstream.errors import LocalStackError

    broker = LocalKafka(data_dir=tmp_path, port=free_port(), controller_port=free_port(), heap="1x")
    with pytest.raises(LocalStackError, match=r"Invalid (maximum|initial) heap size"):
        broker.start(timeout=20)
    assert not broker.running()


def test_cluster_ids_never_look_like_options() -> None:
    import base64

    from fraudstream.local.kafka import new_cluster_id

    ids = [new_cluster_id() for _ in range(2000)]
    assert not any(i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
