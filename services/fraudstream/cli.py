"""The `fraudstream` command line: one entry point, a sub-command per component."""

from __future__ import annotations

import sys

import typer

from fraudstream.errors import ConfigError, FraudstreamError
from fraudstream.ksql.cli import app as ksql_app
from fraudstream.local.cli import app as local_app
from fraudstream.local.stack_cli import down, status, up
from fraudstream.producer.cli import produce
from fraudstream.registry.cli import app as registry_app
from fraudstream.report.cli import report
from fraudstream.scorer.cli import score
from fraudstream.trainer.cli import train

app = typer.Typer(
    name="fraudstream",
    help="Streaming credit-card fraud detection on Kafka: produce, preprocess (KSQL), "
    "train, score, watch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("up")(up)
app.command("down")(down)
app.command("status")(status)
app.add_typer(local_app, name="local")
app.add_typer(registry_app, name="registry")
app.add_typer(ksql_app, name="ksql")
app.command("produce")(produce)
app.command("train")(train)
app.command("score")(score)
app.command("report")(report)


def main() -> None:
    """Run the CLI; project errors become one clear line and a non-zero exit.

    Usage errors are typer's (exit 2); a bad setting exits 2; any other FraudstreamError 1.
    """
    try:
        app()
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        sys.exit(2)
    except FraudstreamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
