"""The scorer's delivery timeout is librdkafka's message timeout (issue 21 item 9): when the
ledger gives up on a batch and rewinds it, no copy of its outputs is still queued in the
producer to be delivered later as a duplicate."""

from __future__ import annotations

from fraudstream.config import Settings
from fraudstream.scorer.connect import client_configs, ledger_timeout_s
from fraudstream.scorer.settings import ScorerSettings


def test_producer_message_timeout_is_the_delivery_timeout() -> None:
    s = ScorerSettings(delivery_timeout_s=12.5).resolved(Settings())
    _, pconf = client_configs(s)
    assert pconf["message.timeout.ms"] == 12_500
    # the ledger waits a little longer than librdkafka, which then reports the failure itself
    assert 12.5 < ledger_timeout_s(s) <= 15.0


def test_exactly_once_keeps_the_message_timeout_within_the_transaction_timeout() -> None:
    s = ScorerSettings(
        delivery_timeout_s=120.0, exactly_once=True, transaction_timeout_ms=60_000
    ).resolved(Settings())
    cconf, pconf = client_configs(s)
    assert pconf["message.timeout.ms"] == 60_000
    assert pconf["transaction.timeout.ms"] == 60_000
    assert cconf["isolation.level"] == "read_committed"
    assert ledger_timeout_s(s) > 60.0
