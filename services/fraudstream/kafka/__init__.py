"""Thin typed wrappers over confluent-kafka: client configs, admin helpers, broker wait."""

from fraudstream.kafka.admin import create_topics, delete_topics, wait_for_broker
from fraudstream.kafka.clients import consumer_config, producer_config

__all__ = [
    "consumer_config",
    "create_topics",
    "delete_topics",
    "producer_config",
    "wait_for_broker",
]
