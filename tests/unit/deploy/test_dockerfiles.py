"""Images: pinned base, non-root, health check, a scorer without TensorFlow, and a build
context (.dockerignore) that holds every file the Dockerfiles copy."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCKER = ROOT / "deploy" / "docker"
IMAGES = ["scorer", "trainer", "tools"]


def _dockerfile(name: str) -> str:
    return (DOCKER / f"{name}.Dockerfile").read_text()


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, args = line.partition(" ")
            out.append((op.upper(), args.strip()))
    return out


@pytest.mark.parametrize("name", IMAGES)
def test_base_is_one_build_arg_defaulting_to_python_slim_bookworm(name):
    ins = _instructions(_dockerfile(name))
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for op, a in ins if op == "ARG" and "=" in a}
    base = args["BASE"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert all(a.split()[0] == "${BASE}" for op, a in ins if op == "FROM")


@pytest.mark.parametrize("name", IMAGES)
def test_wheels_are_only_bind_mounted(name):
    """The wheelhouse is mounted for the installing RUNs, never copied into a layer; the venv
    gets no pip of its own (the base's pip installs into it)."""
    ins = _instructions(_dockerfile(name))
    assert not any(op in {"COPY", "ADD"} and "wheels" in a for op, a in ins)
    installs = [a for op, a in ins if op == "RUN" and "-m pip " in a]
    # common dependencies, the image's extra (not the scorer's), the project itself
    assert len(installs) == (2 if name == "scorer" else 3)
    for a in installs:
        assert a.startswith("--mount=type=bind,source=deploy/docker/wheels,target=/wheels ")
        assert "--python /opt/venv/bin/python install" in a
    assert any("venv --without-pip /opt/venv" in a for op, a in ins if op == "RUN")


@pytest.mark.parametrize("name", IMAGES)
def test_runs_as_non_root_with_a_healthcheck(name):
    ins = _instructions(_dockerfile(name))
    users = [a for op, a in ins if op == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    last_user = max(i for i, (op, _) in enumerate(ins) if op == "USER")
    entry = max(i for i, (op, _) in enumerate(ins) if op in {"ENTRYPOINT", "CMD"})
    assert last_user < entry
    health = [a for op, a in ins if op == "HEALTHCHECK"]
    assert len(health) == 1 and "CMD" in health[0] and not health[0].startswith("NONE")


@pytest.mark.parametrize("name", IMAGES)
def test_exec_forms_are_valid_json(name):
    """Docker silently runs an invalid JSON array as a shell string; make sure none is."""
    forms = 0
    for op, args in _instructions(_dockerfile(name)):
        if op == "HEALTHCHECK":
            args = args[args.index("CMD") + 3 :].strip()
        if op in {"CMD", "ENTRYPOINT", "HEALTHCHECK"}:
            assert args.startswith("["), f"{op} {args}: use the exec form"
            parsed = json.loads(args)
            assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed)
            forms += 1
    assert forms == 3


@pytest.mark.parametrize("name", IMAGES)
def test_pip_installs_leave_no_cache(name):
    for op, args in _instructions(_dockerfile(name)):
        if op == "RUN" and re.search(r"\bpip\b.*\b(install|wheel)\b", args):
            assert "--no-cache-dir" in args, args


def _up_to_common_dependencies(name: str) -> list[tuple[str, str]]:
    ins = _instructions(_dockerfile(name))
    first_install = next(i for i, (op, a) in enumerate(ins) if op == "RUN" and "-m pip " in a)
    return ins[: first_install + 1]


def test_the_common_dependency_layer_is_one_layer_shared_by_every_image():
    """Word-for-word the same instructions down to the common dependencies: a layer cache
    (podman's, BuildKit's) builds that layer once for the three images. It installs the
    base dependencies only, offline under the wheelhouse's pins, and the pins' digest is a
    build argument of it (new pins rebuild it)."""
    prefixes = {name: _up_to_common_dependencies(name) for name in IMAGES}
    assert prefixes["trainer"] == prefixes["scorer"] == prefixes["tools"]
    *_, (arg_op, arg), (_, install) = prefixes["scorer"]
    assert (arg_op, arg.split("=")[0]) == ("ARG", "DEPS_LOCK")
    assert "requirements.py /tmp/src/pyproject.toml > " in install  # no extra
    assert "--no-index -c /wheels/pins.txt" in install


def test_only_the_trainer_image_installs_the_train_extra():
    extras = {}
    for name in IMAGES:
        rest = _instructions(_dockerfile(name))[len(_up_to_common_dependencies(name)) :]
        extras[name] = [
            a.split("pyproject.toml ", 1)[1].split()[0]
            for op, a in rest
            if op == "RUN" and "requirements.py" in a
        ]
    assert extras == {"scorer": [], "trainer": ["train"], "tools": ["report"]}


def test_scorer_image_has_no_training_stack():
    text = _dockerfile("scorer")
    installs = [a for op, a in _instructions(text) if op == "RUN" and "pip " in a]
    assert installs and not any("train" in a or "tensorflow" in a for a in installs)
    assert "find_spec('tensorflow') is not None" in text  # the build fails if TF sneaks in
    assert "/healthz" in text
    trainer = [a for op, a in _instructions(_dockerfile("trainer")) if op == "RUN"]
    assert any("pyproject.toml train " in a for a in trainer)


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore semantics (last match wins, `!` re-includes), enough for ours."""
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        pat = pat.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        hit = any(fnmatch.fnmatch(p, pat) for p in prefixes) or fnmatch.fnmatch(path, pat)
        if pat.startswith("**/"):
            hit = hit or any(fnmatch.fnmatch(p, pat[3:]) for p in parts)
        if hit:
            ignored = not neg
    return ignored


def test_dockerignore_keeps_what_the_dockerfiles_copy_and_drops_the_rest():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name in IMAGES:
        for op, args in _instructions(_dockerfile(name)):
            if op == "COPY" and "--from=" not in args:
                for src in args.split()[:-1]:
                    assert (ROOT / src).exists(), f"{name}: COPY source {src} missing"
                    assert not _ignored(src, patterns), f"{name}: {src} excluded by .dockerignore"
    assert not _ignored("services/fraudstream/cli.py", patterns)
    for junk in (".git", "models/LATEST", "tests/conftest.py", ".fraudstream/x", "deploy/local"):
        assert _ignored(junk, patterns), junk
    assert _ignored("services/fraudstream/__pycache__/cli.cpython-311.pyc", patterns)


BLOCKED_IMPORTS = """
import contextlib, importlib.abc, io, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"tensorflow", "keras", "sklearn", "matplotlib", "tensorboard"}:
            raise ImportError("not in the slim image: " + name)
sys.meta_path.insert(0, Block())
from fraudstream.cli import app
for command in (["score", "--help"], ["report", "--help"], ["--help"]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            app(command, standalone_mode=False)
        except SystemExit as exc:
            assert not exc.code, (command, exc.code)
    assert "Usage" in out.getvalue(), command
    print("ok", " ".join(command))
"""


def test_cli_runs_without_the_training_stack():
    """What the slim scorer image runs: the CLI must not import TensorFlow or matplotlib."""
    res = subprocess.run(
        [sys.executable, "-c", BLOCKED_IMPORTS],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split("\n")[:3] == ["ok score --help", "ok report --help", "ok --help"]
