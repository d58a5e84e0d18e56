"""The scorer's consumer fetch settings reach librdkafka (issue 18 item 2: fewer, larger
batches at a paced load), and the environment overrides them."""

from __future__ import annotations

import pytest

from fraudstream.config import Settings
from fraudstream.errors import ConfigError
from fraudstream.scorer.connect import client_configs
from fraudstream.scorer.settings import ScorerSettings, scorer_settings


def test_the_fetch_settings_reach_the_consumer_and_not_the_producer() -> None:
    s = ScorerSettings(fetch_min_bytes=4096, fetch_wait_max_ms=7).resolved(Settings())
    cconf, pconf = client_configs(s)
    assert cconf["fetch.min.bytes"] == 4096
    assert cconf["fetch.wait.max.ms"] == 7
    assert "fetch.min.bytes" not in pconf


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_SCORER_FETCH_MIN_BYTES", "65536")
    monkeypatch.setenv("FRAUDSTREAM_SCORER_FETCH_WAIT_MAX_MS", "3")
    cconf, _ = client_configs(scorer_settings())
    assert (cconf["fetch.min.bytes"], cconf["fetch.wait.max.ms"]) == (65536, 3)


def test_a_fetch_wait_beyond_a_minute_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_SCORER_FETCH_WAIT_MAX_MS", "600000")
    with pytest.raises(ConfigError, match="FRAUDSTREAM_SCORER_FETCH_WAIT_MAX_MS"):
        scorer_settings()
