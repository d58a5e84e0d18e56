"""Which build this is: version + commit, for --version, the build-info metric and manifests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fraudstream import version as v
from fraudstream.model.manifest import ModelManifest
from fraudstream.testing.scorer import pca_model

ROOT = Path(__file__).resolve().parents[2]


def test_commit_is_the_checkout_head(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRAUDSTREAM_GIT_COMMIT", raising=False)
    v.git_commit.cache_clear()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert v.git_commit() == head
    assert v.version_line() == f"fraudstream {v.__version__} (commit {head[:12]})"


def test_image_builds_pass_the_commit_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDSTREAM_GIT_COMMIT", "0123456789ABCDEF0123456789abcdef01234567")
    v.git_commit.cache_clear()
    try:
        assert v.git_commit() == "0123456789abcdef0123456789abcdef01234567"
        monkeypatch.setenv("FRAUDSTREAM_GIT_COMMIT", "not a commit; rm -rf /")
        v.git_commit.cache_clear()
        assert v.git_commit() != "not a commit; rm -rf /"  # garbage is ignored
    finally:
        v.git_commit.cache_clear()


def test_every_new_manifest_records_the_build_that_wrote_it() -> None:
    from fraudstream.producer.synthetic import generate_arrays

    x = generate_arrays(2000, seed=3)[0]
    manifest, _ = pca_model(x)
    assert manifest.built_by == {"fraudstream": v.__version__, "commit": v.git_commit()}
    again = ModelManifest.model_validate_json(manifest.model_dump_json())
    assert again.built_by == manifest.built_by
