"""The `train` extra resolves to wheels on linux/amd64, linux/arm64 and macOS arm64.

`tensorflow-cpu` has linux/amd64 wheels only, so an Apple-silicon laptop building the images
(linux/arm64) or installing natively (macOS) needs plain `tensorflow`: pyproject.toml selects
it with platform markers. pip evaluates markers against the machine it runs on, so the test
evaluates them for each target itself and asks pip's resolver (`install --dry-run
--platform`, wheel metadata only, nothing installed) for the rest of the dependency tree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "docker"))
from requirements import requirements  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1000)]


def _manylinux(arch: str) -> list[str]:
    """Every glibc a current Debian/Ubuntu arm64 or amd64 machine satisfies (pip does not
    widen a --platform manylinux_2_X tag to lower X; TensorFlow ships manylinux_2_27 and
    confluent-kafka manylinux_2_28 wheels for aarch64)."""
    return [f"manylinux2014_{arch}"] + [f"manylinux_2_{x}_{arch}" for x in range(17, 40)]


TARGETS = {
    "linux/arm64": (
        _manylinux("aarch64"),
        {"sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux"},
    ),
    "macos/arm64": (
        ["macosx_14_0_arm64"],
        {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"},
    ),
    "linux/amd64": (
        _manylinux("x86_64"),
        {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"},
    ),
}


def _for_target(env: dict[str, str]) -> list[str]:
    """The train extra's requirements whose markers hold on `env`, markers dropped."""
    marker_env = {**default_environment(), "python_version": "3.11", **env}
    out = []
    for line in requirements(ROOT / "pyproject.toml", ["train"]):
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(marker_env):
            req.marker = None
            out.append(str(req))
    return out


def _resolve(platforms: list[str], reqs: list[str], tmp: Path, deps: bool = True) -> dict:
    plat = [a for p in platforms for a in ("--platform", p)]
    tmp.mkdir(parents=True, exist_ok=True)  # pip writes the report, not its directory
    report = tmp / "report.json"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--quiet",
        "--ignore-installed",
        "--only-binary=:all:",
        *plat,
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--target",
        str(tmp / "target"),
        "--report",
        str(report),
        "--disable-pip-version-check",
        *([] if deps else ["--no-deps"]),
        *reqs,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    return {
        "rc": res.returncode,
        "err": res.stderr[-1500:],
        "report": json.loads(report.read_text()) if res.returncode == 0 else None,
    }


def test_markers_pick_tensorflow_cpu_only_on_linux_amd64():
    def names(target: str) -> set[str]:
        return {Requirement(r).name for r in _for_target(TARGETS[target][1])}

    assert {"tensorflow-cpu", "scikit-learn"} <= names("linux/amd64")
    assert "tensorflow" not in names("linux/amd64")
    for target in ("linux/arm64", "macos/arm64"):
        assert "tensorflow" in names(target) and "tensorflow-cpu" not in names(target), target


def test_train_extra_resolves_for_arm64_linux_and_macos(tmp_path: Path):
    jobs = {t: (TARGETS[t][0], _for_target(TARGETS[t][1])) for t in ("linux/arm64", "macos/arm64")}
    with ThreadPoolExecutor(len(jobs) + 1) as pool:
        futures = {
            t: pool.submit(_resolve, p, r, tmp_path / t.replace("/", "-"))
            for t, (p, r) in jobs.items()
        }
        # Why the markers exist: tensorflow-cpu has no linux/arm64 wheel at all.
        cpu = pool.submit(
            _resolve,
            TARGETS["linux/arm64"][0],
            ["tensorflow-cpu>=2.16,<3"],
            tmp_path / "cpu",
            False,
        )
        results = {t: f.result() for t, f in futures.items()}
    for target, res in results.items():
        assert res["rc"] == 0, f"{target}: {res['err']}"
        wheels = {
            i["metadata"]["name"].lower(): i["download_info"]["url"].rsplit("/", 1)[1]
            for i in res["report"]["install"]
        }
        tag = "aarch64" if target.startswith("linux") else "macosx"
        assert tag in wheels["tensorflow"], (target, wheels["tensorflow"])
        assert {"scikit-learn", "matplotlib", "tensorboard", "numpy"} <= set(wheels), target
    assert cpu.result()["rc"] != 0
    assert "No matching distribution" in cpu.result()["err"]
