"""The model artifact: a versioned directory the trainer writes and the scorer loads, kept
in a `ModelStore` (a local directory, or a compacted Kafka topic for scorer pods).

Framework-free on purpose: loading and scoring need NumPy only (never TensorFlow), so the
scorer starts fast and stays small. See docs/training.md for the layout.
"""

from fraudstream.model.errors import (
    FeatureMismatchError,
    ModelCorruptError,
    ModelError,
    ModelNotFoundError,
    ModelStoreError,
)
from fraudstream.model.manifest import (
    FORMAT_VERSION,
    HYBRID_FORMAT_VERSION,
    ErrorComponent,
    LayerSpec,
    ModelManifest,
    Preprocessing,
    ScoreSpec,
    SupervisedSpec,
)
from fraudstream.model.numpy_model import NumpyModel, hybrid_score
from fraudstream.model.source import ModelStore, StoreKind, open_store
from fraudstream.model.store import (
    LATEST,
    MANIFEST,
    WEIGHTS,
    DirectoryModelStore,
    content_hash,
    list_versions,
    load_model,
    make_version,
    read_manifest,
    resolve_latest,
    save_model,
    write_latest,
)

__all__ = [
    "FORMAT_VERSION",
    "HYBRID_FORMAT_VERSION",
    "LATEST",
    "MANIFEST",
    "WEIGHTS",
    "DirectoryModelStore",
    "ErrorComponent",
    "FeatureMismatchError",
    "LayerSpec",
    "ModelCorruptError",
    "ModelError",
    "ModelManifest",
    "ModelNotFoundError",
    "ModelStore",
    "ModelStoreError",
    "NumpyModel",
    "Preprocessing",
    "ScoreSpec",
    "StoreKind",
    "SupervisedSpec",
    "content_hash",
    "hybrid_score",
    "list_versions",
    "load_model",
    "make_version",
    "open_store",
    "read_manifest",
    "resolve_latest",
    "save_model",
    "write_latest",
]
