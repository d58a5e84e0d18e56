"""The model topic's message: metadata of a published version, never weights; a broker that
does not acknowledge is a ModelError naming the version (the broker path is integration)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fraudstream.errors import ModelError
from fraudstream.model import DirectoryModelStore, save_model, write_latest
from fraudstream.model.announcements import (
    AnnouncementError,
    announce,
    announce_change,
    announcement,
)
from fraudstream.model.lifecycle import set_threshold


def test_announcement_is_metadata_only(build_model: Callable[..., Any]) -> None:
    manifest, _ = build_model()
    body = announcement(manifest, "/models/v1")
    assert body["version"] == manifest.version and body["path"] == "/models/v1"
    assert body["threshold"] == manifest.threshold and body["features"] == manifest.features
    assert set(body) == {
        "version", "path", "created_at", "threshold", "threshold_strategy", "score",
        "features", "metrics",
    }  # fmt: skip
    json.dumps(body)  # serializable as announced


def test_unreachable_broker_is_an_announcement_error(build_model: Callable[..., Any]) -> None:
    manifest, _ = build_model()
    with pytest.raises(AnnouncementError, match=manifest.version) as exc:
        announce("127.0.0.1:9", "models", manifest, "/m", timeout_s=0.5)
    assert isinstance(exc.value, ModelError)


def test_a_change_that_cannot_be_announced_is_a_warning_only(
    build_model: Callable[..., Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The change is made and recorded already; scorers find it at their next poll."""
    manifest, weights = build_model()
    save_model(tmp_path, manifest, weights)
    write_latest(tmp_path, manifest.version)
    store = DirectoryModelStore(tmp_path)
    event = set_threshold(store, 1.5, by="alice", reason="test")
    with caplog.at_level(logging.WARNING, logger="fraudstream.model.announcements"):
        announce_change(store, event, "127.0.0.1:9", "models", timeout_s=0.5)  # no raise
    (record,) = caplog.records
    assert manifest.version in record.getMessage() and "next poll" in record.getMessage()
    assert store.threshold_override(manifest.version) == 1.5
