"""notebooks/quickstart.ipynb runs end to end against a local stack (issue 19), headless with
nbclient, so the data scientists' entry point cannot rot; and git holds it without outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudstream.local.liveview import scrape

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"


def test_the_committed_notebook_has_no_outputs() -> None:
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 8
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]


def _cli(*args: str, env: dict[str, str], timeout: float = 1800) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "fraudstream", *args],
        capture_output=True, text=True, timeout=timeout, env=env, check=False,
    )  # fmt: skip
    assert res.returncode == 0, f"fraudstream {' '.join(args)}:\n{res.stderr[-3000:]}"
    return res.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A detached local stack (synthetic data, a quick first model), with scores flowing."""
    tmp = tmp_path_factory.mktemp("nbstack")
    env = {
        **os.environ,
        # a quick first model: the notebook is under test here, not the trainer
        "FRAUDSTREAM_TRAINER_EPOCHS": "5",
        "FRAUDSTREAM_TRAINER_BASELINES": "false",
        "FRAUDSTREAM_STACK_SYNTHETIC_TRAINING": "3000",
        "FRAUDSTREAM_STACK_TRAIN_TIMEOUT": "1500",
        "FRAUDSTREAM_STACK_START_TIMEOUT": "300",
    }
    data = tmp / "stack"
    _cli(
        "up", "--detach", "--free-ports", "--no-prometheus", "--rate", "1000",
        "--data-dir", str(data), "--model-dir", str(tmp / "models"),
        "--partitions", "2",
        env=env,
    )  # fmt: skip
    try:
        ep = json.loads(_cli("status", "-o", "json", "--data-dir", str(data), env=env))["endpoints"]
        deadline = time.monotonic() + 300
        while scrape(f"{ep['metrics']}/metrics").scored < 500:
            assert time.monotonic() < deadline, "no live scores within 300 s"
            time.sleep(2)
        yield {**ep, "data_dir": str(data)}
    finally:
        subprocess.run(
            [sys.executable, "-m", "fraudstream", "down", "--data-dir", str(data)],
            capture_output=True, timeout=300, env=env, check=False,
        )  # fmt: skip


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_quickstart_runs_against_the_local_stack(
    stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    for var, key in (
        ("FRAUDSTREAM_KAFKA_BOOTSTRAP", "kafka"),
        ("FRAUDSTREAM_REGISTRY_URL", "registry"),
        ("FRAUDSTREAM_KSQL_URL", "ksql"),
        ("FRAUDSTREAM_MODEL_DIR", "model_dir"),
        ("FRAUDSTREAM_DATA_DIR", "data_dir"),
    ):
        monkeypatch.setenv(var, stack[key])  # the kernel inherits them
    monkeypatch.setenv("MPLBACKEND", "agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()

    def text(i: int) -> str:
        out = []
        for o in nb.cells[i].outputs:
            out.append(o.get("text", ""))
            out.append(str(o.get("data", {}).get("text/plain", "")))
        return "\n".join(out)

    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    joined = "\n".join(text(i) for i in code)
    latest = (Path(stack["model_dir"]) / "LATEST").read_text().strip()
    assert f"model {latest}" in joined  # it loaded the model `up` trained
    assert "CREDITCARDFRAUD_PREPROCESSED_AVRO" in joined  # SHOW STREAMS
    assert "built by {'fraudstream':" in joined
    images = sum(1 for i in code for o in nb.cells[i].outputs if "image/png" in o.get("data", {}))
    assert images >= 2  # the distributions + PR curve, and the live scores
    assert "recent scores" in joined and "recent alerts" in joined
