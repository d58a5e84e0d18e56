"""What `make images` produces: every image built, non-root (uid 10001), a health check, a
scorer without TensorFlow under 350 MB, and no wheel or pip cache left in any image."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2700)]

MB = 1_000_000


def _config(podman, ref: str) -> dict:
    (info,) = json.loads(podman("image", "inspect", ref).stdout)
    return info


@pytest.mark.parametrize("name", ["scorer", "trainer", "tools"])
def test_image_runs_as_uid_10001_with_a_healthcheck(podman, images, name):
    info = _config(podman, images[name])
    assert info["Config"]["User"] == "10001:10001"
    assert info["Config"]["Entrypoint"] == ["fraudstream"]
    health = info.get("Healthcheck") or info["Config"].get("Healthcheck")
    assert health and health["Test"][0] == "CMD", health
    out = podman("run", "--rm", "--network", "host", "--entrypoint", "id", images[name]).stdout
    assert out.startswith("uid=10001(fraudstream) gid=10001(fraudstream)"), out


@pytest.mark.parametrize("name", ["scorer", "trainer", "tools"])
def test_no_wheels_or_pip_caches_in_the_image(podman, images, name):
    """Only the build stage sees the wheelhouse; the final stage copies the venv alone."""
    script = (
        "find / -xdev \\( -name '*.whl' -o -path '*/.cache/pip' -o -path /wheels \\) -print"
        " 2>/dev/null; /opt/venv/bin/python -c 'import pip' 2>/dev/null && echo has-pip; true"
    )
    res = podman(
        "run", "--rm", "--network", "host", "--entrypoint", "sh", images[name], "-c", script
    )
    # Debian's python3-pip-whl (the venv seed wheels) belongs to the base, not to our layers.
    found = [p for p in res.stdout.split() if not p.startswith("/usr/share/python-wheels/")]
    assert found == [], found


def test_scorer_is_slim(podman, images):
    info = _config(podman, images["scorer"])
    assert info["Size"] < 350 * MB, f"scorer image is {info['Size'] / MB:.0f} MB"
    res = podman("run", "--rm", "--network", "host", "--entrypoint", "python", images["scorer"],
                 "-c", "import importlib.util as u; print([m for m in ('tensorflow', 'keras',"
                 " 'sklearn', 'matplotlib') if u.find_spec(m)])")  # fmt: skip
    assert res.stdout.strip() == "[]"


def test_trainer_and_tools_have_their_extras(podman, images):
    probe = "import importlib.util as u; print(sorted(m for m in {} if u.find_spec(m)))"
    res = podman("run", "--rm", "--network", "host", "--entrypoint", "python", images["trainer"],
                 "-c", probe.format("('tensorflow', 'sklearn', 'matplotlib')"))  # fmt: skip
    assert res.stdout.strip() == "['matplotlib', 'sklearn', 'tensorflow']"
    res = podman("run", "--rm", "--network", "host", "--entrypoint", "ls", images["tools"], "/ksql")
    assert any(line.endswith(".sql") for line in res.stdout.split()), res.stdout
