"""A whole stack on free ports under one directory, driven step by step: what the e2e test and
the fault suite run (and what a notebook can use to poke at a live pipeline).

The components are the same as `fraudstream up` starts (the `Pipeline`'s services); events are
produced in-process with the producer package (synthetic generator + `replay`), so a test
chooses the Id range, the rate and the moment to inject a fault.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fraudstream.config import Settings
from fraudstream.local.liveview import MetricsSample, scrape
from fraudstream.local.pipeline import Pipeline, StackConfig
from fraudstream.local.stack import ComponentRecord
from fraudstream.local.topics import wait_for_count
from fraudstream.local.watchdog import Watchdog
from fraudstream.testing.verify import IdLedger, Record, ValueDecoder, read_records, wait_for_ids

__all__ = [
    "Harness",
]

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per probe drowns the test log


class Harness:
    """Start/stop/kill components of one stack; produce events; read topics back."""

    def __init__(
        self,
        root: Path,
        partitions: int = 4,
        scorer_env: dict[str, str] | None = None,
        trainer_env: dict[str, str] | None = None,
    ):
        self.root = root
        cfg = StackConfig(
            data_dir=root / "stack",
            model_dir=root / "models",
            free_ports=True,
            prometheus=False,
            partitions=partitions,
        )
        self.settings = Settings()
        self.pipe = Pipeline(cfg, self.settings, progress=lambda m: log.info("%s", m))
        self.sup = self.pipe.sup
        self.ep = self.pipe.ep
        self.scorer_env = scorer_env or {}
        # Bounded training for tests: fewer epochs, bigger batches, no baseline models.
        self.trainer_env = {
            "FRAUDSTREAM_TRAINER_EPOCHS": "30",
            "FRAUDSTREAM_TRAINER_BATCH_SIZE": "256",
            "FRAUDSTREAM_TRAINER_BASELINES": "false",
            **(trainer_env or {}),
        }
        self._decoder: ValueDecoder | None = None
        self.timings: dict[str, float] = {}
        self.dog: Watchdog | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def _timed(self, name: str, t0: float) -> None:
        self.timings[name] = time.monotonic() - t0
        log.info("%s took %.1fs", name, self.timings[name])

    def start_infra(self) -> None:
        """Broker, registry, KSQL engine, statements applied."""
        t0 = time.monotonic()
        self.sup.claim({**self.ep.as_dict(), "model_dir": str(self.pipe.model_dir)})
        self.pipe.start_kafka()
        self.pipe.create_topics()
        self.sup.start(self.pipe.registry_service())
        self.sup.start(self.pipe.ksql_service())
        self.pipe.apply_ksql()
        self._timed("infra", t0)

    def train(self, name: str = "train") -> Path:
        """Run `fraudstream train` on the training topic; the version dir it wrote."""
        t0 = time.monotonic()
        self.pipe.train(name, self.trainer_env)
        self._timed(name, t0)
        latest = (self.pipe.model_dir / "LATEST").read_text().strip()
        return self.pipe.model_dir / latest

    def start_scorer(self) -> ComponentRecord:
        svc = self.pipe.scorer_service()
        svc.env.update(self.scorer_env)
        return self.sup.start(svc)

    def start_watchdog(self, interval: float = 2.0) -> Watchdog:
        """Restart dead/unhealthy servers in the background, as `fraudstream up` does."""
        self.dog = self.pipe.watchdog()
        self.dog.interval = interval
        self.dog.start()
        return self.dog

    def stop(self) -> None:
        if self.dog is not None:
            self.dog.stop()
        self.sup.stop_all()

    # -- events --------------------------------------------------------------------------------
    def events(
        self,
        n: int,
        id_offset: int,
        seed: int = 11,
        unlabelled: float = 0.2,
        fraud_rate: float = 0.01,
    ) -> list[dict[str, Any]]:
        """Synthetic raw events with Ids id_offset .. id_offset+n-1 (the producer's generator)."""
        from fraudstream.producer.synthetic import generate_events
        from fraudstream.producer.users import make_users

        users = [u["userid"] for u in make_users(1000, 42)]
        return list(
            generate_events(
                n,
                seed=seed,
                fraud_rate=fraud_rate,
                users=users,
                unlabelled=unlabelled,
                id_offset=id_offset,
            )
        )

    def publish_users(self) -> int:
        from fraudstream.producer.users import make_users, publish_users

        return publish_users(
            make_users(1000, 42), bootstrap=self.ep.bootstrap, topic=self.settings.topic_users
        )

    def produce(self, events: Iterable[dict[str, Any]], rate: float = 0.0) -> Any:
        """Publish raw events as JSON to the source topic (the producer's replay loop)."""
        from fraudstream.producer.replay import replay

        evs = list(events)
        stats = replay(
            evs,
            bootstrap=self.ep.bootstrap,
            topic=self.settings.topic_source,
            rate=rate,
            flush_timeout=180.0,  # the producer's own defaults otherwise: faults test them
        )
        log.info("produced: %s", stats.summary())
        return stats

    def produce_in_background(
        self, events: Iterable[dict[str, Any]], rate: float
    ) -> tuple[threading.Thread, list[Any]]:
        out: list[Any] = []
        t = threading.Thread(target=lambda: out.append(self.produce(events, rate)), daemon=True)
        t.start()
        return t, out

    # -- reading back --------------------------------------------------------------------------
    @property
    def decode(self) -> ValueDecoder:
        if self._decoder is None:
            self._decoder = ValueDecoder(self.ep.registry_url)
        return self._decoder

    def read(self, topic: str) -> list[Record]:
        return read_records(self.ep.bootstrap, topic)

    def read_values(self, topic: str) -> list[dict[str, Any]]:
        return [self.decode(r.value) for r in self.read(topic) if r.value is not None]

    def ids_in(self, topic: str) -> list[int]:
        out = []
        for v in self.read_values(topic):
            i = v.get("id")
            if isinstance(i, int):
                out.append(i)
        return out

    def wait_count(self, topic: str, n: int, timeout: float) -> int:
        return wait_for_count(self.ep.bootstrap, topic, n, timeout=timeout, settle_s=0.0)

    def wait_scored(self, ids: set[int], timeout: float) -> tuple[IdLedger, float]:
        """Poll the scores topic until every id in `ids` is there; (ledger over ids, seconds)."""

        def block() -> list[int]:
            return [i for i in self.ids_in(self.settings.topic_scores) if i in ids]

        return wait_for_ids(block, ids, timeout=timeout, interval=2.0)

    def topics_matching(self, fragment: str) -> list[str]:
        """Topic names containing `fragment` (case-insensitive), e.g. the processing log."""
        from confluent_kafka.admin import AdminClient

        from fraudstream.kafka.clients import admin_config

        admin = AdminClient(admin_config(self.ep.bootstrap))
        names = admin.list_topics(timeout=10).topics
        return sorted(t for t in names if fragment.lower() in t.lower())

    def metrics(self) -> MetricsSample:
        return scrape(f"{self.ep.metrics_url}/metrics")

    def metrics_text(self) -> str:
        import httpx

        return httpx.get(f"{self.ep.metrics_url}/metrics", timeout=5).text
