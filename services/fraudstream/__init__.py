"""fraudstream: streaming credit-card fraud detection on Kafka.

Public API: the settings, the event model and the exception root. Each part of the
architecture lives in its own sub-package (`producer`, `ksql`, `registry`, `trainer`,
`scorer`) and is reached through the `fraudstream` command line or its own module.
"""

from fraudstream.config import Settings, get_settings
from fraudstream.errors import FraudstreamError
from fraudstream.events import FEATURE_COLUMNS, RawCardEvent

__version__ = "0.1.0"

__all__ = [
    "FEATURE_COLUMNS",
    "FraudstreamError",
    "RawCardEvent",
    "Settings",
    "__version__",
    "get_settings",
]
