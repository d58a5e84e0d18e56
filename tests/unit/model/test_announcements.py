"""The model topic's message: metadata of a published version, never weights; a broker that
does not acknowledge is a ModelError naming the version (the broker path is integration)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fraudstream.errors import ModelError
from fraudstream.model.announcements import AnnouncementError, announce, announcement


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
