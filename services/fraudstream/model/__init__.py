"""The model artifact: a versioned directory the trainer writes and the scorer loads.

Framework-free on purpose: loading and scoring need NumPy only (never TensorFlow), so the
scorer starts fast and stays small. See docs/training.md for the layout.
"""

from fraudstream.model.errors import (
    FeatureMismatchError,
    ModelCorruptError,
    ModelError,
    ModelNotFoundError,
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
from fraudstream.model.store import (
    LATEST,
    MANIFEST,
    WEIGHTS,
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
    "ErrorComponent",
    "FeatureMismatchError",
    "LayerSpec",
    "ModelCorruptError",
    "ModelError",
    "ModelManifest",
    "ModelNotFoundError",
    "NumpyModel",
    "Preprocessing",
    "ScoreSpec",
    "SupervisedSpec",
    "content_hash",
    "hybrid_score",
    "list_versions",
    "load_model",
    "make_version",
    "read_manifest",
    "resolve_latest",
    "save_model",
    "write_latest",
]
