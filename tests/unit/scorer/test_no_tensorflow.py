"""The scorer's hot path never imports TensorFlow (a slim image must be able to run it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
import numpy as np
from fraudstream.scorer.service import Scorer
from fraudstream.scorer.cli import score
from fraudstream.scorer.reload import ModelWatcher
from fraudstream.serde.ksql_records import RecordDecoder as Decoder
from fraudstream.model import save_model
import fraudstream.cli
from fraudstream.testing.scorer import publish_pca_model
d = sys.argv[1]
publish_pca_model(d, seed=1)
w = ModelWatcher(d)
assert w.check()
scores, fe = w.current.score(np.random.default_rng(0).normal(size=(100, 30)) ** 2)
assert np.isfinite(scores).all()
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
print("TF_MODULES", bad)
sys.exit(1 if bad else 0)
"""


def test_scorer_runs_without_importing_tensorflow(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "TF_MODULES []" in res.stdout
