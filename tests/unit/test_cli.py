from __future__ import annotations

import subprocess
import sys

COMMANDS = (
    "up",
    "down",
    "status",
    "produce",
    "train",
    "score",
    "report",
    "local",
    "registry",
    "ksql",
)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fraudstream", *args],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip


def test_help_lists_every_subcommand() -> None:
    res = _cli("--help")
    assert res.returncode == 0
    for cmd in COMMANDS:
        assert f" {cmd} " in res.stdout, cmd


def test_help_on_every_group() -> None:
    for group in ("local", "local kafka"):
        res = _cli(*group.split(), "--help")
        assert res.returncode == 0, res.stderr
        assert "Usage" in res.stdout


def test_unknown_command_is_usage_error() -> None:
    res = _cli("definitely-not-a-command")
    assert res.returncode == 2
    assert "No such command" in res.stderr


def test_bad_setting_is_one_line_naming_the_variable() -> None:
    import os

    env = {**os.environ, "FRAUDSTREAM_METRICS_PORT": "not-a-port"}
    res = _cli("local", "kafka", "status", env=env)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("config error: FRAUDSTREAM_METRICS_PORT:")


# -- conventions (issue 19): --version, -h everywhere, -o on data commands, one-line errors --

import json  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import typer  # noqa: E402
import yaml  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from fraudstream.cli import ExitCode, app, run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# Every command that prints data, and so must take -o/--output table|json|yaml.
DATA_COMMANDS = (
    "status",
    "doctor",
    "local kafka status",
    "registry subjects",
    "registry get",
    "registry register",
    "produce",
    "train",
    "ksql run",
    "ksql query",
    "ksql list",
    "ksql describe",
    "ksql apply",
    "ksql terminate",
    "ksql drop",
)


def _walk(cmd: typer.core.TyperGroup | object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        out += _walk(sub, (*path, name))
    return out


def _tree() -> list[tuple[str, ...]]:
    return _walk(typer.main.get_command(app))


def test_version_names_the_package_version_and_git_commit() -> None:
    import subprocess as sp

    res = _cli("--version")
    head = sp.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"fraudstream 0.1.0 (commit {head.stdout.strip()[:12]})"


def test_dash_h_works_on_every_command_and_group() -> None:
    runner = CliRunner()
    paths = _tree()
    assert len(paths) > 20
    for path in paths:
        res = runner.invoke(app, [*path, "-h"])
        assert res.exit_code == 0, (path, res.output)
        assert "Usage" in res.output and "--help" in res.output, path


def test_every_data_command_has_one_output_option() -> None:
    root = typer.main.get_command(app)
    with_output = set()
    for path in _tree():
        cmd = root
        for name in path:
            cmd = cmd.commands[name]  # type: ignore[attr-defined]
        opts = [p for p in cmd.params if "--output" in getattr(p, "opts", [])]
        if opts:
            [opt] = opts
            assert opt.opts == ["-o", "--output"], path
            res = CliRunner().invoke(app, [*path, "-h"], terminal_width=200)
            assert "table|json|yaml" in res.output, path
            with_output.add(" ".join(path))
        # no second spelling of the same thing
        flags = {f for p in cmd.params for f in getattr(p, "opts", [])}
        assert not flags & {"--json", "--format"}, path
    assert set(DATA_COMMANDS) <= with_output


def test_status_and_kafka_status_print_json_and_yaml(tmp_path: Path) -> None:
    res = _cli("status", "-o", "json", "--data-dir", str(tmp_path))
    assert res.returncode == 1  # nothing runs
    data = json.loads(res.stdout)
    assert data == {"data_dir": str(tmp_path.resolve()), "endpoints": {}, "components": []}
    res = _cli("local", "kafka", "status", "--output", "yaml", "--data-dir", str(tmp_path))
    assert res.returncode == 1
    data = yaml.safe_load(res.stdout)
    assert data["running"] is False and data["pid"] is None


def _env_all_down() -> dict[str, str]:
    return {
        **os.environ,
        "FRAUDSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "FRAUDSTREAM_REGISTRY_URL": "http://127.0.0.1:2",
        "FRAUDSTREAM_KSQL_URL": "http://127.0.0.1:3",
        "FRAUDSTREAM_PRODUCER_BROKER_WAIT_S": "3",
    }


def _one_line(res: subprocess.CompletedProcess[str]) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr and "%3|" not in res.stderr and "rdkafka" not in res.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("registry", "subjects"),
        ("registry", "get", "1"),
        ("registry", "register", "x-value", str(ROOT / "services/fraudstream/serde/schemas")),
        ("report", "--prometheus", "http://127.0.0.1:4", "--out", "/nonexistent/r.png"),
        ("ksql", "list", "streams"),
        ("ksql", "describe", "X"),
        ("ksql", "run", "SHOW STREAMS;"),
        ("ksql", "query", "SELECT * FROM X EMIT CHANGES;"),
        ("ksql", "apply", str(ROOT / "ksql"), "--wait", "0"),
        ("produce", "--synthetic", "10"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_stopped_servers_give_one_line_and_an_exit_code(args: tuple[str, ...]) -> None:
    if args[1] == "register":  # a real .avsc file
        avsc = sorted(Path(args[3]).glob("*.avsc"))[0]
        args = (*args[:3], str(avsc))
    res = _cli(*args, env=_env_all_down())
    line = _one_line(res)
    assert res.returncode == ExitCode.UNAVAILABLE, line
    assert line.startswith("error: ") and "127.0.0.1" in line


def test_train_against_a_stopped_broker_prints_one_line(tmp_path: Path) -> None:
    res = _cli("train", "--model-dir", str(tmp_path), env=_env_all_down())
    line = _one_line(res)
    assert res.returncode != 0 and line.startswith("error: ") and "127.0.0.1:1" in line
    assert res.stdout == ""


def test_doctor_says_what_to_fix_when_nothing_runs() -> None:
    res = _cli("doctor", "-o", "json", env=_env_all_down())
    assert res.returncode == 1
    checks = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert {"python", "java", "kafka jars", "disk", "ports", "broker", "registry", "ksql"} <= set(
        checks
    )
    for name, var in (
        ("broker", "FRAUDSTREAM_KAFKA_BOOTSTRAP"),
        ("registry", "FRAUDSTREAM_REGISTRY_URL"),
        ("ksql", "FRAUDSTREAM_KSQL_URL"),
    ):
        assert checks[name]["status"] == "fail", checks[name]
        assert var in checks[name]["fix"] and "fraudstream up" in checks[name]["fix"]
    assert checks["java"]["status"] == "ok"  # the machine running the tests has Java 17


def test_completion_script_for_bash() -> None:
    res = _cli("completion", "bash")
    assert res.returncode == 0
    assert "_FRAUDSTREAM_COMPLETE=complete_bash" in res.stdout
    assert "complete -o default -F" in res.stdout
    assert _cli("completion", "tcsh").returncode == 2


def test_native_stderr_goes_to_the_debug_log_not_the_terminal() -> None:
    code = (
        "import os, sys\n"
        "from fraudstream.logs import capture_native_stderr, setup_logging\n"
        "setup_logging(sys.argv[1])\n"
        "with capture_native_stderr():\n"
        "    os.write(2, b'%3|1700000000.000|FAIL|rdkafka#consumer-1| connect refused\\n')\n"
        "    print('python line', file=sys.stderr)\n"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", code, "INFO"], capture_output=True, text=True, timeout=30
    )
    assert quiet.stderr == "python line\n"
    loud = subprocess.run(
        [sys.executable, "-c", code, "DEBUG"], capture_output=True, text=True, timeout=30
    )
    assert "python line" in loud.stderr
    assert "DEBUG   fraudstream.native: %3|1700000000.000|FAIL|rdkafka" in loud.stderr


def test_run_turns_an_unexpected_exception_into_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @app.command("boom-test", hidden=True)
    def boom() -> None:
        raise ZeroDivisionError("division by zero")

    try:
        code = run(["boom-test"])
    finally:
        app.registered_commands = [c for c in app.registered_commands if c.name != "boom-test"]
    err = capsys.readouterr().err
    assert code == ExitCode.INTERNAL
    assert err.strip().splitlines() == [
        "internal error: ZeroDivisionError: division by zero "
        "(FRAUDSTREAM_LOG_LEVEL=DEBUG shows the traceback)"
    ]
