"""`fraudstream models` on the directory store: every command, its output formats, its
audit record and its one-line errors (through the real CLI entry point and exit codes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fraudstream.cli import ExitCode, run
from fraudstream.config import get_settings
from fraudstream.model import DirectoryModelStore, save_model, write_latest
from fraudstream.model.store import HISTORY


@pytest.fixture
def store_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build_model: Callable[..., tuple]
) -> Iterator[tuple[Path, list[str]]]:
    """A directory store with three versions, the first one LATEST; $USER = alice."""
    versions = []
    for seed in (1, 2, 3):
        m, w = build_model(seed=seed)
        save_model(tmp_path, m, w)
        versions.append(m.version)
    write_latest(tmp_path, versions[0])
    monkeypatch.setenv("FRAUDSTREAM_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("FRAUDSTREAM_MODEL_STORE", "directory")
    monkeypatch.setenv("USER", "alice")
    get_settings.cache_clear()
    yield tmp_path, versions
    get_settings.cache_clear()


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    assert run(["models", *argv, "-o", "json"]) == ExitCode.OK, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_list_marks_the_champion_in_every_format(store_dir, capsys):
    _, versions = store_dir
    rows = _json(capsys, "list")
    assert isinstance(rows, list)
    assert [r["version"] for r in rows] == sorted(versions)
    assert [r["version"] for r in rows if r["champion"]] == [versions[0]]
    assert all(r["threshold"] == 1.5 and r["threshold_override"] is False for r in rows)
    assert run(["models", "list", "-o", "yaml"]) == ExitCode.OK
    assert f"version: {sorted(versions)[0]}" in capsys.readouterr().out
    assert run(["models", "list"]) == ExitCode.OK
    assert versions[2] in capsys.readouterr().out


def test_show_one_version_and_unknown_version_is_one_line(store_dir, capsys):
    _, versions = store_dir
    data = _json(capsys, "show", versions[1])
    assert isinstance(data, dict)
    assert data["version"] == versions[1] and data["champion"] is False
    assert data["serving_threshold"] == data["manifest_threshold"] == 1.5
    assert run(["models", "show", "20990101T000000Z-deadbeef"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: no version 20990101T000000Z-deadbeef") and err.count("\n") == 1


def test_promote_moves_latest_and_records_who_when_why(store_dir, capsys):
    root, versions = store_dir
    event = _json(capsys, "promote", versions[2], "--reason", "better recall", "--no-announce")
    assert isinstance(event, dict)
    assert (root / "LATEST").read_text().strip() == versions[2]
    assert DirectoryModelStore(root).candidates() == [versions[2]]
    assert event["action"] == "promote" and event["by"] == "alice"
    assert (event["previous"], event["new"]) == (versions[0], versions[2])
    assert event["reason"] == "better recall"
    lines = (root / HISTORY).read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["id"] == event["id"]
    # --by overrides $USER
    event = _json(capsys, "promote", versions[1], "--reason", "x", "--by", "bob", "--no-announce")
    assert isinstance(event, dict) and event["by"] == "bob"


def test_promote_needs_a_reason_and_refuses_the_champion_and_unknown(store_dir, capsys):
    root, versions = store_dir
    assert run(["models", "promote", versions[1], "--no-announce"]) == ExitCode.USAGE
    assert run(["models", "promote", versions[0], "--reason", "r", "--no-announce"]) == 1
    assert "already the champion" in capsys.readouterr().err
    assert run(["models", "promote", "20990101T000000Z-deadbeef", "--reason", "r"]) == 1
    assert (root / "LATEST").read_text().strip() == versions[0]
    assert not (root / HISTORY).exists(), "a refused change records nothing"


def test_rollback_returns_to_the_previous_champion_and_toggles(store_dir, capsys):
    root, versions = store_dir
    assert run(["models", "rollback", "--reason", "r", "--no-announce"]) == ExitCode.ERROR
    assert "nothing to roll back to" in capsys.readouterr().err
    _json(capsys, "promote", versions[1], "--reason", "a", "--no-announce")
    _json(capsys, "promote", versions[2], "--reason", "b", "--no-announce")
    event = _json(capsys, "rollback", "--reason", "alerts doubled", "--no-announce")
    assert isinstance(event, dict)
    assert (event["action"], event["previous"], event["new"]) == (
        "rollback",
        versions[2],
        versions[1],
    )
    assert (root / "LATEST").read_text().strip() == versions[1]
    _json(capsys, "rollback", "--reason", "undo", "--no-announce")
    assert (root / "LATEST").read_text().strip() == versions[2]


def test_set_threshold_is_an_override_of_the_champion_only(store_dir, capsys):
    root, versions = store_dir
    event = _json(capsys, "set-threshold", "2.25", "--reason", "alert budget", "--no-announce")
    assert isinstance(event, dict)
    assert (event["version"], event["previous"], event["new"]) == (versions[0], 1.5, 2.25)
    store = DirectoryModelStore(root)
    assert store.threshold_override(versions[0]) == 2.25
    assert store.threshold_override(versions[1]) is None
    event = _json(capsys, "set-threshold", "3", "--reason", "again", "--no-announce")
    assert isinstance(event, dict) and event["previous"] == 2.25
    data = _json(capsys, "show", versions[0])
    assert isinstance(data, dict)
    assert (data["serving_threshold"], data["manifest_threshold"]) == (3.0, 1.5)
    # the manifest on disk is untouched: the override lives in the audit only
    assert store.manifest(versions[0]).threshold == 1.5
    assert run(["models", "set-threshold", "nan", "--reason", "r", "--no-announce"]) == 1
    assert "finite" in capsys.readouterr().err
    assert run(["models", "set-threshold", "2", "--no-announce"]) == ExitCode.USAGE


def test_history_lists_every_change_in_order(store_dir, capsys):
    _, versions = store_dir
    assert run(["models", "history"]) == ExitCode.OK
    assert "no lifecycle changes" in capsys.readouterr().out
    _json(capsys, "promote", versions[1], "--reason", "a", "--no-announce")
    _json(capsys, "set-threshold", "2", "--reason", "b", "--no-announce")
    _json(capsys, "rollback", "--reason", "c", "--no-announce")
    rows = _json(capsys, "history")
    assert isinstance(rows, list)
    assert [(r["action"], r["reason"]) for r in rows] == [
        ("promote", "a"),
        ("set-threshold", "b"),
        ("rollback", "c"),
    ]
    assert all(r["by"] == "alice" and r["at"] for r in rows)


def test_a_corrupt_history_line_is_a_one_line_error(store_dir, capsys):
    root, _ = store_dir
    (root / HISTORY).write_text('{"action": "promote"}\n')
    assert run(["models", "history"]) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "history.jsonl:1: invalid lifecycle event" in err and err.count("\n") == 1


def test_promote_candidate_marks_a_challenger_until_promoted(store_dir, capsys):
    root, versions = store_dir
    event = _json(
        capsys, "promote", versions[1], "--candidate", "--reason", "shadow", "--no-announce"
    )
    assert isinstance(event, dict)
    assert (event["action"], event["version"], event["previous"]) == (
        "candidate",
        versions[1],
        None,
    )
    assert (root / "LATEST").read_text().strip() == versions[0], "the champion is unchanged"
    rows = _json(capsys, "list")
    assert isinstance(rows, list)
    assert [r["version"] for r in rows if r["candidate"]] == [versions[1]]
    assert run(["models", "promote", versions[0], "--candidate", "--reason", "r"]) == 1
    assert "cannot be its own challenger" in capsys.readouterr().err
    _json(capsys, "promote", versions[1], "--reason", "it won", "--no-announce")
    rows = _json(capsys, "list")
    assert isinstance(rows, list) and not any(r["candidate"] for r in rows)
