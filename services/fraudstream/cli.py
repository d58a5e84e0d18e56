"""The `fraudstream` command line: one entry point, a sub-command per component.

Conventions (kubectl, kcat, the confluent CLI): `--version`, `-h/--help` on every command,
`-o/--output table|json|yaml` on every command that prints data (`fraudstream.output`), shell
completion (`fraudstream completion bash|zsh|fish`), and failures as ONE line on stderr with
an exit code that says what kind of failure it was (`ExitCode`). Native libraries' stderr
(librdkafka, TensorFlow) goes to the debug log (FRAUDSTREAM_LOG_LEVEL=DEBUG shows it).
"""

from __future__ import annotations

import enum
import logging
import os
import sys

import typer

from fraudstream.errors import ConfigError, FraudstreamError, KafkaUnavailableError
from fraudstream.ksql.cli import app as ksql_app
from fraudstream.local.cli import app as local_app
from fraudstream.local.doctor import doctor
from fraudstream.local.stack_cli import down, status, up
from fraudstream.logs import capture_native_stderr, setup_logging
from fraudstream.model.cli import app as models_app
from fraudstream.monitor.cli import compare, monitor
from fraudstream.output import is_transport_error
from fraudstream.producer.cli import produce
from fraudstream.registry.cli import app as registry_app
from fraudstream.report.cli import report
from fraudstream.scorer.cli import score
from fraudstream.trainer.cli import train
from fraudstream.version import version_line

log = logging.getLogger("fraudstream.cli")

CONTEXT = {"help_option_names": ["-h", "--help"]}


class ExitCode(enum.IntEnum):
    """What a non-zero exit means (documented in docs/running.md)."""

    OK = 0
    ERROR = 1  # the command failed (the line says why)
    USAGE = 2  # bad option, argument or FRAUDSTREAM_* setting
    UNAVAILABLE = 3  # a server it needs (broker, registry, KSQL, Prometheus) did not answer
    INTERNAL = 70  # a bug: the traceback is in the debug log
    INTERRUPTED = 130  # Ctrl-C


def _version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


app = typer.Typer(
    name="fraudstream",
    help="Streaming credit-card fraud detection on Kafka: produce, preprocess (KSQL), "
    "train, score, watch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version and git commit, then exit.",
    ),
) -> None:
    """Streaming credit-card fraud detection on Kafka: produce, preprocess (KSQL), train,
    score, watch. `fraudstream doctor` checks this machine; `fraudstream up` runs it all."""


@app.command("completion")
def completion(
    shell: str = typer.Argument(..., help="bash, zsh, fish or powershell."),
) -> None:
    """Print the shell completion script, e.g. `source <(fraudstream completion bash)`."""
    from typer._completion_shared import get_completion_script

    if shell not in ("bash", "zsh", "fish", "powershell", "pwsh"):
        raise typer.BadParameter("must be bash, zsh, fish or powershell", param_hint="SHELL")
    typer.echo(
        get_completion_script(
            prog_name="fraudstream", complete_var="_FRAUDSTREAM_COMPLETE", shell=shell
        )
    )


app.command("up")(up)
app.command("down")(down)
app.command("status")(status)
app.command("doctor")(doctor)
app.add_typer(local_app, name="local")
app.add_typer(registry_app, name="registry")
app.add_typer(ksql_app, name="ksql")
models_app.command("compare")(compare)  # monitor's metrics: the monitor owns it
app.add_typer(models_app, name="models")
app.command("produce")(produce)
app.command("train")(train)
app.command("score")(score)
app.command("monitor")(monitor)
app.command("report")(report)


def _unavailable(exc: BaseException) -> bool:
    from fraudstream.ksql.client.client import KsqlConnectionError
    from fraudstream.report.errors import PrometheusUnavailableError
    from fraudstream.serde.errors import RegistryUnavailableError

    kinds = (
        KafkaUnavailableError,
        RegistryUnavailableError,
        PrometheusUnavailableError,
        KsqlConnectionError,
    )
    seen: BaseException | None = exc
    while seen is not None:  # "not ready after 60 s" raised from a connection error counts
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__
    return False


def _one_line(exc: BaseException) -> str:
    """The first line of the message (details such as log tails stay in the debug log)."""
    text = str(exc).strip() or type(exc).__name__
    first, _, rest = text.partition("\n")
    if rest:
        log.debug("%s (continued):\n%s", first, rest)
    return first


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` (default sys.argv); return the exit code, never raise."""
    level = os.environ.get("FRAUDSTREAM_LOG_LEVEL", "INFO").upper()
    try:
        setup_logging(level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
        app(args=argv, prog_name="fraudstream", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except ConfigError as exc:
        print(f"config error: {_one_line(exc)}", file=sys.stderr)
        return ExitCode.USAGE
    except FraudstreamError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return ExitCode.UNAVAILABLE if _unavailable(exc) else ExitCode.ERROR
    except Exception as exc:
        if is_transport_error(exc):
            where = _request_url(exc) or "the server"
            print(f"error: cannot reach {where}: {_one_line(exc)}", file=sys.stderr)
            return ExitCode.UNAVAILABLE
        log.debug("unexpected error", exc_info=True)
        print(
            f"internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(FRAUDSTREAM_LOG_LEVEL=DEBUG shows the traceback)",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL
    return ExitCode.OK


def _request_url(exc: BaseException) -> str | None:
    try:
        return str(exc.request.url)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when there is none
        return None


def main() -> None:
    """The console script: project errors become one clear line and a non-zero exit.

    Usage errors are typer's (exit 2); see `ExitCode` for the others.
    """
    with capture_native_stderr():
        code = run()
    sys.exit(code)


if __name__ == "__main__":
    main()
