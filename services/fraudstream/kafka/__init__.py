"""The Kafka toolkit: one way to do each Kafka thing, shared by every stage.

- `clients`: producer/consumer configs; `admin`: broker wait, topic create/delete;
- `delivery`: the at-least-once ledger of consume -> produce loops (scorer, KSQL runtime);
- `topiclog`: a single-partition topic as a log (registry storage, KSQL command topic);
- `reader`: read a topic back (bounded snapshot or tail): the one `read_topic`;
- `errors`: the toolkit's errors (`KafkaToolkitError`); callers translate them.
"""

from fraudstream.kafka.admin import create_topics, delete_topics, wait_for_broker
from fraudstream.kafka.clients import consumer_config, producer_config

__all__ = [
    "consumer_config",
    "create_topics",
    "delete_topics",
    "producer_config",
    "wait_for_broker",
]
