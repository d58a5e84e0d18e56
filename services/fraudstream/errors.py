"""One exception root for the whole project; each part raises its own subclass.

The tree (keep it current when adding a class):

    FraudstreamError
    ├── ConfigError            invalid FRAUDSTREAM_* setting (message names the variable)
    ├── KafkaUnavailableError  broker not reachable within the bounded wait
    ├── LocalStackError        the embedded local stack could not start or stop
    │   └── PortInUseError     a port it needs is taken
    ├── SerdeError             bytes that do not decode / records that do not encode
    ├── RegistryError          Schema Registry client or server failure
    ├── KsqlError              KSQL client, parser or engine failure
    ├── ProducerError          event source failure (bad CSV header, missing file, ...)
    ├── TrainerError           training could not produce a model
    ├── ModelError             a model artifact is missing, broken or incompatible
    ├── ScorerError            the scoring service failed
    └── ReportError            the dashboard report could not be rendered

Sub-packages may subclass their own base (e.g. `KsqlParseError(KsqlError)`) in their
`errors.py`; callers that only care about "fraudstream failed" catch `FraudstreamError`.
"""

from __future__ import annotations


class FraudstreamError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(FraudstreamError):
    """A setting is invalid; the message names the environment variable."""


class KafkaUnavailableError(FraudstreamError):
    """The Kafka broker did not answer within the bounded wait."""


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


class ReportError(FraudstreamError):
    """The dashboard report could not be rendered (Prometheus unreachable, no data)."""
