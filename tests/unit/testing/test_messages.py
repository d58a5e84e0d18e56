"""The Message stand-in answers every accessor the project's consumers read."""

from __future__ import annotations

from confluent_kafka import Message

from fraudstream.testing.messages import Msg

# every accessor of confluent_kafka.Message that services/ read from consumed records
_READ = ("value", "key", "headers", "topic", "partition", "offset", "timestamp", "error")


def test_it_has_each_accessor_the_real_message_has() -> None:
    for name in _READ:
        assert callable(getattr(Message, name)), name  # the real class has it
        assert callable(getattr(Msg(), name)), name


def test_positional_fields_are_the_decoders_order_and_the_rest_keywords() -> None:
    m = Msg(b"v", 7, b"key", [("h", b"1")], topic="t", partition=3, timestamp=(1, 5), error="e")
    assert (m.value(), m.offset(), m.key(), m.headers()) == (b"v", 7, b"key", [("h", b"1")])
    assert (m.topic(), m.partition(), m.timestamp(), m.error()) == ("t", 3, (1, 5), "e")


def test_defaults_are_a_good_record_at_offset_zero() -> None:
    m = Msg()
    assert m.error() is None and m.value() is None and m.offset() == 0 and m.key() == b"k"
    assert m.timestamp()[0] == 1  # TIMESTAMP_CREATE_TIME
