"""Where models come from: the one `ModelStore` interface and the store the settings name.

Two stores implement it: `DirectoryModelStore` (a local `models/` directory with its LATEST
pointer: the local stack, a laptop) and `TopicModelStore` (a compacted Kafka topic: every
scorer pod loads the model from Kafka, no shared volume). The trainer publishes through it,
the scorer's `ModelWatcher` reads through it; neither needs to know which one it has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from fraudstream.model.numpy_model import NumpyModel

__all__ = ["ModelStore", "StoreKind", "open_store"]

StoreKind = Literal["directory", "topic"]


class ModelStore(Protocol):
    """A store of model versions a scorer can load (see the module docstring)."""

    @property
    def location(self) -> str:
        """Where the store is, for log lines."""
        ...

    def candidates(self) -> list[str]:
        """Versions to serve, preferred first ([] while nothing is published)."""
        ...

    def load(self, version: str) -> NumpyModel:
        """The verified model of `version` (ModelError subclasses say why not)."""
        ...

    def publish(self, version_dir: Path | str) -> str:
        """Make a saved version directory the one to serve; return its version."""
        ...

    def close(self) -> None:
        """Release clients."""
        ...


def open_store(
    kind: StoreKind,
    *,
    model_dir: Path,
    bootstrap: str,
    topic: str,
    chunk_bytes: int,
    keep_versions: int = 10,
) -> ModelStore:
    """The store `FRAUDSTREAM_MODEL_STORE` names (`directory` or `topic`)."""
    if kind == "topic":
        from fraudstream.model.topic_store import TopicModelStore

        return TopicModelStore(
            bootstrap, topic, chunk_bytes=chunk_bytes, keep_versions=keep_versions
        )
    from fraudstream.model.store import DirectoryModelStore

    return DirectoryModelStore(model_dir)
