"""What `fraudstream up` would start: ports, env, producer command, Prometheus config."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream.config import Settings
from fraudstream.local.pipeline import Pipeline, StackConfig, resolve_endpoints


def test_free_ports_are_distinct_and_defaults_documented() -> None:
    ep = resolve_endpoints(StackConfig(free_ports=True))
    ports = [ep.kafka_port, ep.controller_port, ep.registry_port, ep.ksql_port, ep.metrics_port]
    assert len(set(ports)) == len(ports)
    d = resolve_endpoints(StackConfig())
    assert (d.bootstrap, d.registry_url, d.ksql_url, d.metrics_url) == (
        "127.0.0.1:9092",
        "http://127.0.0.1:8081",
        "http://127.0.0.1:8088",
        "http://127.0.0.1:8000",
    )


def test_children_get_the_stack_endpoints(tmp_path: Path) -> None:
    cfg = StackConfig(data_dir=tmp_path / "d", model_dir=tmp_path / "m", free_ports=True)
    p = Pipeline(cfg, Settings())
    env = p.env()
    assert env["FRAUDSTREAM_KAFKA_BOOTSTRAP"] == p.ep.bootstrap
    assert env["FRAUDSTREAM_REGISTRY_URL"] == p.ep.registry_url
    assert env["FRAUDSTREAM_KSQL_URL"] == p.ep.ksql_url
    assert env["FRAUDSTREAM_MODEL_DIR"] == str((tmp_path / "m").resolve())
    assert env["FRAUDSTREAM_METRICS_PORT"] == str(p.ep.metrics_port)
    scorer = p.scorer_service()
    assert scorer.ready_url == f"{p.ep.metrics_url}/readyz"
    assert scorer.argv[-1] == "score" and scorer.env == env
    reg = p.registry_service()
    assert reg.argv[-4:] == ["--host", "127.0.0.1", "--port", str(p.ep.registry_port)]


def test_producer_replays_csv_with_loop_and_limit(tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("Time,V1,Class\n" + "".join(f"{i},0.1,0\n" for i in range(200)))
    cfg = StackConfig(data_dir=tmp_path, training_csv=csv, rate=123, events=1000)
    svc, need = Pipeline(cfg, Settings()).producer_service()
    assert need == 198  # 99 % of the rows: a few rejected rows must not block training
    args = svc.argv[svc.argv.index("produce") + 1 :]
    assert args[:2] == ["--csv", str(csv)]
    assert "--loop" in args
    assert args[args.index("--rate") + 1] == "123.0"
    assert args[args.index("--limit") + 1] == str(198 + 1000)


def test_producer_falls_back_to_synthetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fraudstream.local.pipeline as pl

    monkeypatch.setattr(pl, "SHARED_SAMPLE_DIR", tmp_path / "nothing-here")
    cfg = StackConfig(data_dir=tmp_path, synthetic_training=3000)
    svc, need = Pipeline(cfg, Settings()).producer_service()
    args = svc.argv[svc.argv.index("produce") + 1 :]
    assert args[:2] == ["--synthetic", "3000"] and need == 3000
    assert "--limit" not in args  # events=0: replay forever


def test_prometheus_config_scrapes_the_scorer(tmp_path: Path) -> None:
    p = Pipeline(StackConfig(data_dir=tmp_path, free_ports=True), Settings())
    svc = p.prometheus_service()
    if svc is None:
        pytest.skip("prometheus binary not installed on this machine")
    text = (tmp_path / "prometheus" / "prometheus.yml").read_text()
    assert f"127.0.0.1:{p.ep.metrics_port}" in text
    assert f"--web.listen-address=127.0.0.1:{p.ep.prometheus_port}" in svc.argv
    assert (
        Pipeline(StackConfig(data_dir=tmp_path, prometheus=False), Settings()).prometheus_service()
        is None
    )


def test_every_up_gets_its_own_event_ids(tmp_path: Path) -> None:
    """A second `up` on the same data dir must not replay the first run's Ids (issue 19)."""
    from fraudstream.local.pipeline import RUN_ID_SPAN, claim_id_range

    assert claim_id_range(tmp_path) == 0
    assert claim_id_range(tmp_path) == RUN_ID_SPAN
    assert claim_id_range(tmp_path) == 2 * RUN_ID_SPAN
    (tmp_path / "runs.json").write_text("garbage")
    assert claim_id_range(tmp_path) == 0  # unreadable: start over (with the broker data it's
    # stored beside, a wiped dir has no earlier Ids either)


def test_producer_gets_the_run_first_id_and_training_ids_are_known(tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("Time,V1,Class\n" + "".join(f"{i},0.1,0\n" for i in range(200)))
    pipe = Pipeline(StackConfig(data_dir=tmp_path, training_csv=csv), Settings())
    pipe.first_id = 7 * 10**10
    svc, _ = pipe.producer_service()
    args = svc.argv[svc.argv.index("produce") + 1 :]
    assert args[args.index("--first-id") + 1] == str(7 * 10**10)
    assert pipe.in_training(123) and pipe.in_training(7 * 10**10 + 10**6)  # a CSV loop: all


def test_synthetic_runs_know_which_ids_were_trained_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fraudstream.local.pipeline as pl

    monkeypatch.setattr(pl, "SHARED_SAMPLE_DIR", tmp_path / "nothing-here")
    pipe = Pipeline(StackConfig(data_dir=tmp_path, synthetic_training=3000), Settings())
    pipe.first_id = 10**10
    pipe.producer_service()
    assert pipe.in_training(10**10) and pipe.in_training(10**10 + 2999)
    assert not pipe.in_training(10**10 + 3000) and not pipe.in_training(5)


def test_endpoints_list_prometheus_only_once_it_runs(tmp_path: Path) -> None:
    """`up --no-prometheus` used to print a Prometheus URL nothing listened on (issue 19)."""
    pipe = Pipeline(StackConfig(data_dir=tmp_path, prometheus=False), Settings())
    assert "prometheus" not in pipe.endpoints()
    assert pipe.prometheus_service() is None
    assert "prometheus" not in pipe.watchdog().probes
    pipe.prometheus_running = True
    assert pipe.endpoints()["prometheus"] == "http://127.0.0.1:9190"  # not the system's 9090


def test_the_stack_runs_with_delayed_labels_and_a_monitor_by_default(tmp_path: Path) -> None:
    p = Pipeline(StackConfig(data_dir=tmp_path, free_ports=True), Settings())
    svc, _ = p.producer_service()
    args = svc.argv[svc.argv.index("produce") + 1 :]
    assert args[args.index("--labels") + 1] == "delayed"
    assert args[args.index("--label-delay") + 1] == "exp:5s"
    mon = p.monitor_service()
    assert mon.argv[mon.argv.index("monitor") + 1 :][:2] == ["--port", str(p.ep.monitor_port)]
    assert mon.ready_url == f"http://127.0.0.1:{p.ep.monitor_port}/healthz"
    assert p.ep.monitor_port not in (p.ep.metrics_port, p.ep.prometheus_port)
    inline = Pipeline(StackConfig(data_dir=tmp_path, labels="inline"), Settings())
    args = inline.producer_service()[0].argv
    assert args[args.index("--labels") + 1] == "inline" and "--label-delay" not in args
    if p.prometheus_service() is not None:
        text = (tmp_path / "prometheus" / "prometheus.yml").read_text()
        assert "job_name: fraudstream-monitor" in text
        assert f"127.0.0.1:{p.ep.monitor_port}" in text
