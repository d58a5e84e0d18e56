"""The embedded local stack: a real Kafka broker (and, from their packages, the registry
and KSQL servers) started and stopped as background processes under one data dir."""

from fraudstream.local.kafka import LocalKafka

__all__ = ["LocalKafka"]
