"""Persistent and push queries as consume -> process -> produce loops on the real broker.

The engine's queries are pure (`process(InRecord) -> list[OutRecord]`); this package feeds
them from Kafka, one module per job:

* `runner`: one persistent query on its own consumer (`QueryRunner`), at-least-once through
  the one delivery ledger (`kafka.delivery`), pausing on a transient failure;
* `shared`: stateless queries reading the same topics on one consumer and one decode
  (`SharedQueryRunner`, ksqlDB's shared runtimes), each query keeping its own position;
* `changelog`: a stateful query's state in a compacted topic, restored at start and undone
  when a batch is read again (`StateJournal`), so aggregates never count a record twice;
* `feeder`: the table side of stream-table joins, caught up before each stream batch;
* `push`: push queries over HTTP;
* `reporting`: counters, processing-log records and group names, as ksqlDB names them;
* `loop`: the thread both runners live in (start/stop, paced warnings, backoff).
"""

from fraudstream.ksql.server.runtime.changelog import (
    Changelog,
    StateJournal,
    Undo,
    changelog_topic,
    group_has_offsets,
)
from fraudstream.ksql.server.runtime.feeder import TableFeeder, start_feeder
from fraudstream.ksql.server.runtime.push import PushQueryRunner
from fraudstream.ksql.server.runtime.reporting import (
    ProcessingLogSink,
    RunnerStats,
    encode_log_record,
    entry_to_dict,
    processing_log_record,
    query_group_id,
)
from fraudstream.ksql.server.runtime.runner import QueryRunner
from fraudstream.ksql.server.runtime.shared import (
    SharedMember,
    SharedQueryRunner,
    share_groups,
    shareable,
    shared_group_id,
)

__all__ = [
    "Changelog",
    "ProcessingLogSink",
    "PushQueryRunner",
    "QueryRunner",
    "RunnerStats",
    "SharedMember",
    "SharedQueryRunner",
    "StateJournal",
    "TableFeeder",
    "Undo",
    "changelog_topic",
    "encode_log_record",
    "entry_to_dict",
    "group_has_offsets",
    "processing_log_record",
    "query_group_id",
    "share_groups",
    "shareable",
    "shared_group_id",
    "start_feeder",
]
