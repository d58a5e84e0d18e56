"""The commands compose, the images and Kubernetes run are real `fraudstream` commands with
real options: each is parsed by the CLI itself (nothing is executed), so a renamed option
fails here instead of in a crash-looping container."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from fraudstream.cli import app

ROOT = Path(__file__).resolve().parents[3]
MOUNTS = {"/ksql": str(ROOT / "ksql")}  # compose bind mounts, as seen from the repository


def parse(args: list[str]) -> list[str]:
    """Parse like `fraudstream ARGS` down to the leaf command; return the command path."""
    command: Any = get_command(app)
    ctx = command.make_context("fraudstream", list(args))
    path = []
    while hasattr(command, "resolve_command"):  # a group (typer vendors its own click)
        # click >= 8.2 keeps the sub-command's name apart from its arguments
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            break
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        path.append(name)
        command, ctx = sub, sub.make_context(name, rest, parent=ctx)
    return path


def _compose_commands() -> dict[str, list[str]]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    out = {}
    for name, svc in services.items():
        if "build" not in svc:
            continue
        command = svc["command"]
        if svc.get("entrypoint") == ["/bin/sh", "-c"]:
            # "sleep 60 && exec fraudstream train ..." -> the fraudstream part
            command = command[0].split("exec fraudstream", 1)[1].split()
        out[name] = [MOUNTS.get(a, a) for a in command]
    return out


@pytest.mark.parametrize("service", sorted(_compose_commands()))
def test_compose_commands_parse(service):
    args = _compose_commands()[service]
    path = parse(args)
    assert (
        path
        == {
            "ksql-init": ["ksql", "apply"],
            "producer": ["produce"],
            "trainer": ["train"],
            "scorer": ["score"],
        }[service]
    )


def test_image_and_kubernetes_commands_parse():
    assert parse(["score"]) == ["score"]
    assert parse(["train"]) == ["train"]
    deploy = yaml.safe_load((ROOT / "deploy" / "k8s" / "base" / "deployment.yaml").read_text())
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    assert parse(container["args"]) == ["score"]


def test_a_misspelt_option_is_caught():
    with pytest.raises(Exception, match="No such option: --rates") as err:
        parse(["produce", "--synthetic", "10", "--rates", "5"])
    assert type(err.value).__name__ == "NoSuchOption"
