"""Errors of the Kafka toolkit (all subclass `fraudstream.errors.KafkaToolkitError`).

Toolkit code raises only these (and `KafkaUnavailableError`); each caller translates them
into its own error at its boundary (the scorer into `DeliveryError`, the registry into
`RegistryStoreError`, ...), so the toolkit never needs to know who uses it.
"""

from __future__ import annotations

from fraudstream.errors import KafkaToolkitError


class DeliveryFailedError(KafkaToolkitError):
    """A batch's outputs were not all acknowledged; the consumer was rewound to re-read it.

    `errors`: one line per failed output of the first failed batch."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors: list[str] = list(errors or [])


class TransactionAbortedError(KafkaToolkitError):
    """A transaction hit an abortable error and was aborted: nothing of it is visible to
    `read_committed` readers, so the caller re-reads its input (rewind) and tries again."""


class TransactionFatalError(KafkaToolkitError):
    """The transactional producer is fenced or failed fatally (or a commit stayed ambiguous
    past its deadline): only a new producer (`init_transactions`) can go on."""


class TopicLogError(KafkaToolkitError):
    """The single-partition topic log could not be read to an offset or written."""


class TopicReadError(KafkaToolkitError):
    """A topic could not be read: it does not exist, or was not read to its end in time."""


__all__ = [
    "DeliveryFailedError",
    "KafkaToolkitError",
    "TopicLogError",
    "TopicReadError",
    "TransactionAbortedError",
    "TransactionFatalError",
]
