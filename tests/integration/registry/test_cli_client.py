"""`fraudstream registry register / subjects / get` against the embedded registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fraudstream.registry.cli import app
from fraudstream.serde.schemas import load_schema

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_register_list_get(schema_registry_url: str, unique_id: str, tmp_path: Path) -> None:
    avsc = tmp_path / "score.avsc"
    avsc.write_text(json.dumps(load_schema("score")))
    subject = f"cli-{unique_id}-value"
    runner = CliRunner()
    out = runner.invoke(app, ["register", subject, str(avsc), "--url", schema_registry_url])
    assert out.exit_code == 0, out.output
    sid = int(out.output.strip().rsplit(" ", 1)[1])
    listed = runner.invoke(app, ["subjects", "--url", schema_registry_url, "-o", "json"])
    assert listed.exit_code == 0, listed.output
    assert {"subject": subject, "versions": [1], "latest_id": sid} in json.loads(listed.output)
    got = runner.invoke(app, ["get", str(sid), "--url", schema_registry_url])
    assert got.exit_code == 0 and json.loads(got.output) == load_schema("score")
