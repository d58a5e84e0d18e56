"""Fixtures of the container tests: podman set up and the local Debian base made by
scripts/bootstrap-containers (cached), every project image built once per session by the same
script as `make images`, and a small podman driver. Containers share the host network, so
they reach the session's local stack (broker, registry, KSQL) on 127.0.0.1, as on a laptop
with `--network host`; this machine's podman has no other working network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE_NAMES = ("scorer", "trainer", "tools")


def image_tag() -> str:
    """The one IMAGE_TAG default: the package version (deploy/docker/build-images)."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


class Podman:
    """`podman` commands with a time bound; containers it starts are removed at the end."""

    def __init__(self) -> None:
        exe = shutil.which("podman")
        assert exe, "podman missing: scripts/bootstrap-containers installs it"
        self.exe = exe
        self.started: list[str] = []

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [self.exe, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and res.returncode != 0:
            raise AssertionError(f"podman {' '.join(args[:3])} ... exit {res.returncode}:\n"
                                 f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")  # fmt: skip
        return res

    @staticmethod
    def env_args(env: dict[str, str]) -> list[str]:
        return [a for k, v in sorted(env.items()) for a in ("--env", f"{k}={v}")]

    def run_once(
        self,
        image: str,
        args: Sequence[str],
        env: dict[str, str],
        volumes: Sequence[str] = (),
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run a one-shot container to its end; the result (not checked)."""
        vols = [a for v in volumes for a in ("--volume", v)]
        return self("run", "--rm", "--network", "host", *vols, *self.env_args(env),
                    image, *args, timeout=timeout, check=False)  # fmt: skip

    def start(
        self, image: str, args: Sequence[str], env: dict[str, str], volumes: Sequence[str] = ()
    ) -> str:
        """Start a detached container; its name."""
        name = f"fs-test-{uuid.uuid4().hex[:10]}"
        vols = [a for v in volumes for a in ("--volume", v)]
        self("run", "--detach", "--name", name, "--network", "host", *vols,
             *self.env_args(env), image, *args)  # fmt: skip
        self.started.append(name)
        return name

    def logs(self, name: str) -> str:
        res = self("logs", name, check=False)
        return res.stdout + res.stderr

    def inspect(self, name: str, fmt: str) -> str:
        return self("inspect", "--format", fmt, name).stdout.strip()

    def cleanup(self) -> None:
        for name in self.started:
            self("rm", "--force", "--time", "5", name, check=False)


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    p = Podman()
    yield p
    p.cleanup()


@pytest.fixture(scope="session")
def base_image() -> str:
    """The local Debian base (podman + runc + base image set up on first use)."""
    res = subprocess.run(
        ["bash", str(ROOT / "scripts" / "bootstrap-containers")],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    assert res.returncode == 0, f"scripts/bootstrap-containers failed:\n{res.stderr[-3000:]}"
    return res.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def images(base_image: str, podman: Podman) -> dict[str, str]:
    """name -> image reference, built by deploy/docker/build-images (= `make images`)."""
    env = {**os.environ, "ENGINE": "podman", "BASE": base_image, "PYTHON": sys.executable}
    env.pop("IMAGE_TAG", None)
    res = subprocess.run(
        ["bash", str(ROOT / "deploy" / "docker" / "build-images")],
        capture_output=True, text=True, timeout=2400, check=False, env=env,
    )  # fmt: skip
    assert res.returncode == 0, f"make images failed:\n{res.stderr[-4000:]}"
    refs = {n: f"localhost/fraudstream-{n}:{image_tag()}" for n in IMAGE_NAMES}
    for ref in refs.values():
        podman("image", "exists", ref)
    return {**refs, "base": base_image}
