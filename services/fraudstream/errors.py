"""One exception root for the whole project; each part raises its own subclass.

The tree (keep it current when adding a class; the leaves live in each part's `errors.py`):

    FraudstreamError
    ├── ConfigError                 invalid FRAUDSTREAM_* setting (message names the variable)
    ├── TransientError              a dependency did not answer: retry later, never drop or
    │   │                           dead-letter the record (a base, also of the two below)
    │   ├── KafkaUnavailableError   broker not reachable within the bounded wait
    │   └── RegistryUnavailableError (also a RegistryError, serde/errors.py)
    ├── KafkaToolkitError           a `fraudstream.kafka` mechanism failed (kafka/errors.py);
    │   │                           callers translate it into their own error at their boundary
    │   ├── DeliveryFailedError     a batch's outputs were not acknowledged: consumer rewound
    │   ├── TransactionAbortedError an abortable transaction error: aborted, input re-read
    │   ├── TransactionFatalError   the transactional producer is fenced/fatal: start anew
    │   ├── TopicLogError           the single-partition log could not be read or written
    │   └── TopicReadError          a topic could not be read (missing, or not to its end in time)
    ├── LocalStackError             the embedded local stack could not start or stop
    │   ├── PortInUseError          a port it needs is taken
    │   ├── ComponentStartError     a component died or never became ready (local/errors.py)
    │   ├── JobFailedError          a one-shot step (apply, train) failed (local/errors.py)
    │   └── StackStateError         the stack's state file disagrees with what runs
    ├── SerdeError                  bytes that do not decode / records that do not encode
    │   └── SerdeFailure            has a stable `.reason` for dead letters (serde/errors.py)
    │       ├── PayloadDecodeError  decode_error: not the wire format, corrupt body, bad JSON
    │       ├── SchemaNotFoundError schema_not_found: unknown schema id
    │       ├── MissingFieldError   missing_field
    │       ├── WrongTypeError      wrong_type
    │       ├── InvalidValueError   invalid_value: NaN, inf, out of range
    │       └── EncodeError         a record that does not fit its schema
    ├── RegistryError               Schema Registry client or server failure
    │   ├── RegistryUnavailableError the registry did not answer: retry, do not dead-letter
    │   ├── RegistryStoreError      the `_schemas` topic could not be read or written
    │   └── RestError               a Confluent error body (error_code + message):
    │                               SubjectNotFound 40401, VersionNotFound 40402,
    │                               SchemaNotFound 40403, IncompatibleSchema 409,
    │                               InvalidSchema 42201, StoreUnavailable 50002, ...
    ├── KsqlError                   KSQL client, parser or engine failure (ksql/errors.py)
    │   ├── KsqlParseError          syntax error with line:column and expected tokens
    │   ├── KsqlStatementError      a statement that cannot run (unknown source, types, ...)
    │   │   └── KsqlUnsupportedError a construct outside the supported subset, named
    │   └── KsqlProcessingError     a record a query could not process (processing log)
    ├── ProducerError               event source failure (producer/errors.py)
    │   ├── CsvFormatError          missing/unreadable file or wrong header
    │   ├── BadRowError             a bad CSV row in --strict mode; names the line
    │   └── SourceError             invalid generator/replay arguments
    ├── TrainerError                training could not produce a model (trainer/errors.py)
    │   ├── InputSchemaError        the input lacks features the model needs (names them)
    │   ├── NotEnoughDataError      fewer normal rows than the minimum
    │   └── ThresholdError          no threshold satisfies the strategy
    ├── ModelError                  a model artifact is missing, broken or incompatible
    │   ├── ModelNotFoundError      no LATEST / no such version (model/errors.py)
    │   ├── ModelCorruptError       unreadable manifest, NaN weights, wrong shapes
    │   ├── ModelStoreError         the model topic could not be read or written
    │   └── FeatureMismatchError    the model expects other input features
    ├── ScorerError                 the scoring service failed (scorer/errors.py)
    │   ├── RecordError             one input record is bad: dead-lettered with its reason
    │   ├── DeliveryError           outputs were not acknowledged: the batch is retried
    │   └── ModelRejectedError      a new model failed validation; the old one keeps serving
    ├── MonitorError                the live model-quality monitor failed (monitor/errors.py)
    │   └── BadLabelError           a labels-topic record is unusable: skipped and counted
    └── ReportError                 the dashboard report could not be rendered
        ├── PrometheusUnavailableError
        └── PrometheusQueryError

Callers that only care about "fraudstream failed" catch `FraudstreamError`; the CLI turns it
into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "FraudstreamError",
    "KafkaToolkitError",
    "KafkaUnavailableError",
    "KsqlError",
    "LocalStackError",
    "ModelError",
    "MonitorError",
    "PortInUseError",
    "ProducerError",
    "RegistryError",
    "ReportError",
    "ScorerError",
    "SerdeError",
    "TrainerError",
    "TransientError",
]


class FraudstreamError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(FraudstreamError):
    """A setting is invalid; the message names the environment variable."""


class TransientError(FraudstreamError):
    """A dependency (broker, Schema Registry) did not answer: retrying later can succeed, so
    the record at hand must be neither skipped nor dead-lettered. Loops pause and retry."""


class KafkaUnavailableError(TransientError):
    """The Kafka broker did not answer within the bounded wait."""


class KafkaToolkitError(FraudstreamError):
    """A `fraudstream.kafka` mechanism (delivery ledger, topic log, reader) failed."""


class LocalStackError(FraudstreamError):
    """A component of the embedded local stack failed to start or stop."""


class PortInUseError(LocalStackError):
    """A TCP port the local stack needs is already taken."""


class SerdeError(FraudstreamError):
    """A record could not be serialized or deserialized."""


class RegistryError(FraudstreamError):
    """Schema Registry failure (client side or embedded server)."""


class KsqlError(FraudstreamError):
    """KSQL failure (client, parser or embedded engine)."""


class ProducerError(FraudstreamError):
    """The event source could not read or publish its input."""


class TrainerError(FraudstreamError):
    """Training could not produce a model."""


class ModelError(FraudstreamError):
    """A model artifact is missing, broken or does not match the expected features."""


class ScorerError(FraudstreamError):
    """The scoring service failed."""


class MonitorError(FraudstreamError):
    """The live model-quality monitor failed."""


class ReportError(FraudstreamError):
    """The dashboard report could not be rendered (Prometheus unreachable, no data)."""
