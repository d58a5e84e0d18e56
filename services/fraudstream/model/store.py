"""The on-disk model store: `models/<version>/` directories and the `models/LATEST` pointer.

Writes are atomic so a scorer polling the store never sees half an artifact: a version is
written to a temporary directory and renamed into place, and LATEST is replaced with
`os.replace`. A failed training run therefore leaves LATEST untouched.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError

from fraudstream.model.errors import ModelCorruptError, ModelError, ModelNotFoundError
from fraudstream.model.lifecycle import LifecycleEvent, parse_event, threshold_overrides
from fraudstream.model.manifest import VERSION_RE, ModelManifest
from fraudstream.model.numpy_model import NumpyModel, check_supervised_weights, check_weights

MANIFEST = "manifest.json"
WEIGHTS = "weights.npz"
KERAS = "model.keras"
CLASSIFIER_KERAS = "classifier.keras"
# Supervised-part arrays of a hybrid in weights.npz: SW0, Sb0, SW1, Sb1, ...
SUPERVISED_PREFIX = "S"
METRICS = "metrics.json"
CARD = "README.md"
LATEST = "LATEST"
# The lifecycle audit of a directory store: one JSON event per line, append-only.
HISTORY = "history.jsonl"

Weights = Sequence[tuple[NDArray[Any], NDArray[Any]]]


def content_hash(weights: Weights, payload: Mapping[str, Any]) -> str:
    """sha256 over the weights' bytes and a canonical JSON of `payload` (hex)."""
    h = hashlib.sha256()
    for w, b in weights:
        for arr in (w, b):
            a = np.ascontiguousarray(arr)
            h.update(str(a.dtype).encode())
            h.update(str(a.shape).encode())
            h.update(a.tobytes())
    h.update(json.dumps(payload, sort_keys=True, default=str).encode())
    return h.hexdigest()


def make_version(weights: Weights, payload: Mapping[str, Any], when: datetime | None = None) -> str:
    """`YYYYMMDDTHHMMSSZ-<first 8 hex of content_hash>` (UTC)."""
    ts = (when or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{ts}-{content_hash(weights, payload)[:8]}"


def save_model(
    model_dir: Path | str,
    manifest: ModelManifest,
    weights: Weights,
    keras_path: Path | str | None = None,
    extra_files: Mapping[str, str | bytes] | None = None,
    supervised_weights: Weights | None = None,
    classifier_keras_path: Path | str | None = None,
) -> Path:
    """Write `model_dir/<manifest.version>/` atomically and return its path.

    `extra_files` maps file names (e.g. metrics.json, README.md) to their content. A hybrid
    manifest needs `supervised_weights` (stored beside the autoencoder's as SW0, Sb0, ...).
    LATEST is not touched: call `write_latest` once the caller is satisfied with the artifact.
    """
    check_weights(manifest, weights)
    check_supervised_weights(manifest, supervised_weights)
    root = Path(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / manifest.version
    if final.exists():
        raise ModelError(f"model version {manifest.version} already exists in {root}")
    tmp = root / f".tmp-{manifest.version}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        arrays: dict[str, NDArray[Any]] = {}
        for i, (w, b) in enumerate(weights):
            arrays[f"W{i}"] = np.asarray(w)
            arrays[f"b{i}"] = np.asarray(b)
        for i, (w, b) in enumerate(supervised_weights or []):
            arrays[f"{SUPERVISED_PREFIX}W{i}"] = np.asarray(w)
            arrays[f"{SUPERVISED_PREFIX}b{i}"] = np.asarray(b)
        with (tmp / WEIGHTS).open("wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
        (tmp / MANIFEST).write_text(
            manifest.model_dump_json(
                indent=2,
                # A plain autoencoder's manifest stays exactly as before hybrids existed.
                exclude={"supervised"} if manifest.supervised is None else None,
            )
            + "\n"
        )
        if keras_path is not None:
            shutil.copyfile(keras_path, tmp / KERAS)
        if classifier_keras_path is not None:
            shutil.copyfile(classifier_keras_path, tmp / CLASSIFIER_KERAS)
        for name, content in (extra_files or {}).items():
            if "/" in name or name.startswith("."):
                raise ModelError(f"extra file name {name!r} must be a plain file name")
            target = tmp / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_manifest(version_dir: Path | str) -> ModelManifest:
    """Parse and validate `manifest.json` of one version directory."""
    path = Path(version_dir) / MANIFEST
    if not path.is_file():
        raise ModelNotFoundError(f"no {MANIFEST} in {Path(version_dir)}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelCorruptError(f"{path}: unreadable manifest: {exc}") from None
    return parse_manifest(text, str(path))


def parse_manifest(text: str | bytes, where: str) -> ModelManifest:
    """Validate a manifest's JSON; `where` names its origin in the one-line error."""
    try:
        return ModelManifest.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "(root)"
        raise ModelCorruptError(f"{where}: invalid manifest at {loc}: {first['msg']}") from None


def read_weights(
    version_dir: Path | str, n_layers: int, prefix: str = ""
) -> list[tuple[NDArray[Any], NDArray[Any]]]:
    """Load {prefix}W0,{prefix}b0..{prefix}W{n-1},{prefix}b{n-1} from `weights.npz`
    (no pickles); prefix "S" reads a hybrid's supervised part."""
    path = Path(version_dir) / WEIGHTS
    if not path.is_file():
        raise ModelNotFoundError(f"no {WEIGHTS} in {Path(version_dir)}")
    return weights_from_npz(path, str(path), n_layers, prefix)


def weights_from_npz(
    source: Path | BinaryIO, where: str, n_layers: int, prefix: str = ""
) -> list[tuple[NDArray[Any], NDArray[Any]]]:
    """The layer arrays of an npz file or stream; ModelCorruptError naming `where`."""
    names = [(f"{prefix}W{i}", f"{prefix}b{i}") for i in range(n_layers)]
    try:
        with np.load(source, allow_pickle=False) as npz:
            missing = [k for pair in names for k in pair if k not in npz.files]
            if missing:
                raise ModelCorruptError(f"{where}: missing arrays {', '.join(missing)}")
            return [(npz[w], npz[b]) for w, b in names]
    except ModelError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ModelCorruptError(f"{where}: unreadable weights: {exc}") from None


def model_from_parts(manifest: ModelManifest, weights_npz: Path | bytes, where: str) -> NumpyModel:
    """A NumpyModel from a parsed manifest and its weights (a file or the npz bytes)."""

    def source() -> Path | BinaryIO:
        return weights_npz if isinstance(weights_npz, Path) else io.BytesIO(weights_npz)

    weights = weights_from_npz(source(), where, len(manifest.layers))
    supervised = (
        weights_from_npz(source(), where, len(manifest.supervised.layers), SUPERVISED_PREFIX)
        if manifest.supervised is not None
        else None
    )
    return NumpyModel(manifest, weights, supervised)


def load_model(path: Path | str) -> NumpyModel:
    """Load a model version directory, or the LATEST version of a model store directory.

    Raises ModelNotFoundError / ModelCorruptError (both `ModelError`) with the reason.
    """
    p = Path(path)
    if not p.exists():
        raise ModelNotFoundError(f"model path {p} does not exist")
    if not (p / MANIFEST).exists() and (p / LATEST).exists():
        latest = resolve_latest(p)
        assert latest is not None
        p = latest
    manifest = read_manifest(p)
    if not (p / WEIGHTS).is_file():
        raise ModelNotFoundError(f"no {WEIGHTS} in {p}")
    return model_from_parts(manifest, p / WEIGHTS, str(p / WEIGHTS))


def resolve_latest(model_dir: Path | str) -> Path | None:
    """The version directory LATEST points to; None when nothing was published yet."""
    root = Path(model_dir)
    pointer = root / LATEST
    try:
        version = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelCorruptError(f"{pointer}: unreadable: {exc}") from None
    if not VERSION_RE.match(version):
        raise ModelCorruptError(f"{pointer} holds {version!r}, not a model version name")
    target = root / version
    if not (target / MANIFEST).is_file():
        raise ModelNotFoundError(f"{pointer} names {version}, but {target} has no {MANIFEST}")
    return target


def write_latest(model_dir: Path | str, version: str) -> Path:
    """Point LATEST at `version` atomically (write a temp file, fsync, os.replace)."""
    root = Path(model_dir)
    if not VERSION_RE.match(version):
        raise ModelError(f"{version!r} is not a model version name")
    if not (root / version / MANIFEST).is_file():
        raise ModelNotFoundError(f"cannot publish {version}: {root / version} has no {MANIFEST}")
    tmp = root / f".{LATEST}.tmp-{os.getpid()}"
    with tmp.open("w") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / LATEST)
    return root / LATEST


def list_versions(model_dir: Path | str) -> list[str]:
    """Complete version directories in the store, oldest first."""
    root = Path(model_dir)
    if not root.is_dir():
        return []
    return sorted(
        d.name for d in root.iterdir() if VERSION_RE.match(d.name) and (d / MANIFEST).is_file()
    )


class DirectoryModelStore:
    """The `ModelStore` of a local directory: versions as sub-directories, LATEST the choice.

    LATEST is an explicit pointer (an operator may point it back at an older version), so
    it is the only candidate: a broken LATEST is refused, never silently replaced.
    """

    def __init__(self, model_dir: Path | str) -> None:
        self.model_dir = Path(model_dir)

    @property
    def location(self) -> str:
        return str(self.model_dir)

    def candidates(self) -> list[str]:
        target = resolve_latest(self.model_dir)
        return [] if target is None else [target.name]

    def load(self, version: str) -> NumpyModel:
        if not VERSION_RE.match(version):
            raise ModelNotFoundError(f"{version!r} is not a model version name")
        return load_model(self.model_dir / version)

    def publish(self, version_dir: Path | str) -> str:
        """Copy `version_dir` into the store (unless it is already there); point LATEST at it."""
        src = Path(version_dir)
        version = read_manifest(src).version
        target = self.model_dir / version
        if src.resolve() != target.resolve() and not target.exists():
            self.model_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.model_dir / f".tmp-{version}-{os.getpid()}"
            shutil.copytree(src, tmp)
            os.rename(tmp, target)
        write_latest(self.model_dir, version)
        return version

    # ------------------------------------------------------------------ lifecycle
    def versions(self) -> list[str]:
        return list_versions(self.model_dir)

    def manifest(self, version: str) -> ModelManifest:
        if not VERSION_RE.match(version):
            raise ModelNotFoundError(f"{version!r} is not a model version name")
        return read_manifest(self.model_dir / version)

    def champion(self) -> str | None:
        target = resolve_latest(self.model_dir)
        return None if target is None else target.name

    def make_champion(self, version: str) -> None:
        write_latest(self.model_dir, version)

    def record(self, event: LifecycleEvent) -> None:
        """Append one line to `history.jsonl` (O_APPEND, fsync'd: lines never interleave)."""
        self.model_dir.mkdir(parents=True, exist_ok=True)
        line = (event.model_dump_json() + "\n").encode()
        fd = os.open(self.model_dir / HISTORY, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def history(self) -> list[LifecycleEvent]:
        path = self.model_dir / HISTORY
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelCorruptError(f"{path}: unreadable: {exc}") from None
        return [parse_event(t, f"{path}:{n}") for n, t in enumerate(lines, 1) if t.strip()]

    def threshold_override(self, version: str) -> float | None:
        return threshold_overrides(self.history()).get(version)

    def close(self) -> None:
        """Nothing to release (the interface's other store holds Kafka clients)."""
