"""The images at work against the local stack (broker, registry and KSQL engine on this
machine): the tools container applies ksql/, the trainer container trains from the topic
KSQL fills, and the scorer container scores live events, answers /healthz and /readyz, runs
as uid 10001 and stops cleanly on SIGTERM (finishes, commits, says so, exit 0)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fraudstream.local.procs import free_port
from fraudstream.model import load_model, resolve_latest
from fraudstream.testing.harness import Harness

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2700)]

N_TRAIN = 3_000
N_LIVE = 500


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, images) -> Iterator[dict[str, Any]]:
    """Broker, topics, registry and KSQL server (no statements yet); a world-writable model
    directory for the trainer container (it runs as 10001, the test as whoever)."""
    root = Path(tmp_path_factory.mktemp("containers"))
    h = Harness(root, partitions=2)
    models = root / "models"
    models.mkdir()
    models.chmod(0o777)
    try:
        h.sup.claim({**h.ep.as_dict(), "model_dir": str(models)})
        h.pipe.start_kafka()
        h.pipe.create_topics()
        h.sup.start(h.pipe.registry_service())
        h.sup.start(h.pipe.ksql_service())
        env = {
            "FRAUDSTREAM_KAFKA_BOOTSTRAP": h.ep.bootstrap,
            "FRAUDSTREAM_REGISTRY_URL": h.ep.registry_url,
            "FRAUDSTREAM_KSQL_URL": h.ep.ksql_url,
            "FRAUDSTREAM_LOG_LEVEL": "INFO",
        }
        yield {"h": h, "env": env, "models": models, "images": images}
    finally:
        h.stop()


@pytest.fixture(scope="module")
def applied(stack, podman) -> Any:
    return podman.run_once(stack["images"]["tools"], ["ksql", "apply", "/ksql"], stack["env"])


@pytest.fixture(scope="module")
def trained(stack, applied, podman) -> Any:
    h: Harness = stack["h"]
    assert applied.returncode == 0, applied.stderr[-3000:]
    assert h.publish_users() == 1000
    events = h.events(N_TRAIN, id_offset=0, seed=21)
    assert h.produce(events).delivered == N_TRAIN
    labelled = sum(1 for e in events if e["Class"] is not None)
    h.wait_count(h.settings.topic_preprocessed, labelled, timeout=300)
    env = {**stack["env"], **h.trainer_env, "FRAUDSTREAM_TRAINER_EPOCHS": "5"}
    return podman.run_once(
        stack["images"]["trainer"], ["train"], env, volumes=[f"{stack['models']}:/models"]
    )


@pytest.fixture(scope="module")
def scorer(stack, trained, podman) -> dict[str, Any]:
    assert trained.returncode == 0, trained.stderr[-3000:]
    port = free_port()
    env = {
        **stack["env"],
        "FRAUDSTREAM_METRICS_PORT": str(port),
        "FRAUDSTREAM_BIND_HOST": "127.0.0.1",
    }
    name = podman.start(
        stack["images"]["scorer"], ["score"], env, volumes=[f"{stack['models']}:/models:ro"]
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(1)
    else:
        raise AssertionError(f"scorer never ready:\n{podman.logs(name)[-3000:]}")
    return {"name": name, "url": url}


def test_tools_container_applies_ksql(stack, applied):
    assert applied.returncode == 0, applied.stderr[-3000:]
    listed = httpx.post(
        f"{stack['h'].ep.ksql_url}/ksql", json={"ksql": "SHOW STREAMS;"}, timeout=10
    ).text.upper()
    s = stack["h"].settings
    for topic in (s.topic_source, s.topic_preprocessed, s.topic_live):
        assert topic.upper() in listed, topic


def test_trainer_container_trains_from_the_topic(stack, trained):
    assert trained.returncode == 0, trained.stderr[-3000:]
    version_dir = resolve_latest(stack["models"])
    model = load_model(version_dir)
    assert model.manifest.version == version_dir.name
    assert version_dir.stat().st_uid == 10001  # written by the container's user
    assert model.manifest.threshold > 0


def test_scorer_container_scores_and_answers_probes(stack, scorer, podman):
    h: Harness = stack["h"]
    assert httpx.get(f"{scorer['url']}/healthz", timeout=5).status_code == 200
    assert httpx.get(f"{scorer['url']}/readyz", timeout=5).status_code == 200
    live = h.events(N_LIVE, id_offset=N_TRAIN, seed=22)
    assert h.produce(live, rate=500).delivered == N_LIVE
    ledger, _ = h.wait_scored({e["Id"] for e in live}, timeout=180)
    assert not ledger.lost, ledger.summary()
    metrics = httpx.get(f"{scorer['url']}/metrics", timeout=5).text
    assert "fraudstream_events_scored_total" in metrics
    podman("healthcheck", "run", scorer["name"])  # the image's HEALTHCHECK passes


def test_scorer_container_runs_as_uid_10001(scorer, podman):
    assert podman("exec", scorer["name"], "id", "-u").stdout.strip() == "10001"
    assert podman.inspect(scorer["name"], "{{.Config.User}}") == "10001:10001"


def test_scorer_container_stops_cleanly_on_sigterm(scorer, podman):
    t0 = time.monotonic()
    podman("stop", "--time", "30", scorer["name"], timeout=60)
    took = time.monotonic() - t0
    assert podman.inspect(scorer["name"], "{{.State.ExitCode}}") == "0"
    assert took < 25, f"not stopped by SIGTERM ({took:.0f}s: killed at the grace period?)"
    assert "scorer stopped:" in podman.logs(scorer["name"])
