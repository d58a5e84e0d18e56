"""Offset bookkeeping of a batch: first offset per partition (rewind), last + 1 (store)."""

from __future__ import annotations

from fraudstream.scorer.service import _offsets
from fraudstream.scorer.testing import Msg


class PMsg(Msg):
    def __init__(self, partition: int, offset: int) -> None:
        super().__init__(b"", offset)
        self._partition = partition

    def partition(self) -> int:
        return self._partition


def test_first_and_next_offsets_per_partition_in_interleaved_batch() -> None:
    msgs = [PMsg(1, 10), PMsg(0, 5), PMsg(1, 11), PMsg(2, 7), PMsg(0, 6), PMsg(1, 12)]
    first, nxt = _offsets(msgs)
    assert [(t.topic, t.partition, t.offset) for t in first] == [
        ("in", 0, 5),
        ("in", 1, 10),
        ("in", 2, 7),
    ]
    assert [(t.partition, t.offset) for t in nxt] == [(0, 7), (1, 13), (2, 8)]
