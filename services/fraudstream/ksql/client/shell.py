"""`fraudstream ksql` (or `ksql shell`): an interactive prompt like the ksqlDB CLI.

Statements span lines until a `;` (outside quotes and comments); line editing and history
come from readline (the history file lives under the user's data dir). The shell keeps, as
the ksqlDB CLI does, local properties (`SET 'auto.offset.reset'='earliest';`, `UNSET`) and
session variables (`DEFINE`, `UNDEFINE`, `SHOW VARIABLES`) and sends them with every
request; `RUN SCRIPT 'file.sql';` runs a file's statements in order. `SELECT` goes to
`/query` and streams its rows as they arrive in a table fitted to the terminal; Ctrl-C ends
the running query (closing its connection ends it on the server) and the shell goes on.
Everything else goes to `/ksql`. Only the REST API is used, so real ksqlDB and the embedded
server are driven alike.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from rich.console import Console

from fraudstream.errors import KsqlError
from fraudstream.ksql.client.client import KsqlClient, QueryFinal, QueryHeader
from fraudstream.ksql.client.render import RowTable, error_text, print_entities
from fraudstream.ksql.client.statements import split_complete

__all__ = ["History", "KsqlShell", "default_history_file"]

PROMPT = "ksql> "
CONTINUATION = ">"
HELP = """Statements end with ';' and may span lines. Besides any ksqlDB statement:
  SET '<property>'='<value>';   a property for the statements and queries that follow
                                (e.g. SET 'auto.offset.reset'='earliest';)
  UNSET '<property>';           back to the server's value
  DEFINE <name> = '<value>';    a variable, used as ${name}; UNDEFINE <name>;
  SHOW VARIABLES;               the variables defined in this session
  RUN SCRIPT '<file.sql>';      run a file's statements in order
  HELP                          this text
  EXIT / QUIT / Ctrl-D          leave the shell
A SELECT streams its rows as they arrive; Ctrl-C ends the query and keeps the shell."""

_STR = r"'((?:[^']|'')*)'"
_SET = re.compile(rf"^SET\s+{_STR}\s*=\s*{_STR}\s*;?$", re.I | re.S)
_UNSET = re.compile(rf"^UNSET\s+{_STR}\s*;?$", re.I | re.S)
_DEFINE = re.compile(rf"^DEFINE\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*{_STR}\s*;?$", re.I | re.S)
_UNDEFINE = re.compile(r"^UNDEFINE\s+([A-Za-z_][A-Za-z0-9_]*)\s*;?$", re.I | re.S)
_RUN_SCRIPT = re.compile(rf"^RUN\s+SCRIPT\s+{_STR}\s*;?$", re.I | re.S)
_VARIABLES = re.compile(r"^(SHOW|LIST)\s+VARIABLES\s*;?$", re.I)
_LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*\s*", re.S)
_WORDS_ONLY = {"EXIT", "QUIT", "HELP"}


def _unquote(text: str) -> str:
    return text.replace("''", "'")


def default_history_file() -> Path:
    """`$XDG_DATA_HOME/fraudstream/ksql-history` (~/.local/share when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "fraudstream" / "ksql-history"


class History:
    """readline's history, one entry per statement, kept in a private file between runs."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            import readline
        except ImportError:  # no readline (Windows): plain input, no history
            self.readline: Any = None
            return
        self.readline = readline
        readline.set_history_length(1000)
        if path is not None and path.is_file():
            with contextlib.suppress(OSError):
                readline.read_history_file(str(path))

    def mark(self) -> int:
        return int(self.readline.get_current_history_length()) if self.readline else 0

    def record(self, since: int, statement: str) -> None:
        """Replace the lines typed since `since` by the one statement they made."""
        rl = self.readline
        if rl is None:
            return
        while rl.get_current_history_length() > since:
            rl.remove_history_item(rl.get_current_history_length() - 1)
        rl.add_history(" ".join(statement.split()))
        self.save()

    def save(self) -> None:
        if self.readline is None or self.path is None:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.readline.write_history_file(str(self.path))
            self.path.chmod(0o600)  # statements may hold credentials (connector configs)


class KsqlShell:
    """The read-eval-print loop over one `KsqlClient`."""

    def __init__(
        self,
        client: KsqlClient,
        *,
        history_file: Path | None = None,
        out: IO[str] | None = None,
        read_line: Callable[[str], str] = input,
    ) -> None:
        self.client = client
        self.out = out or sys.stdout
        self.read_line = read_line
        self.properties: dict[str, Any] = {}
        self.variables: dict[str, str] = {}
        self.history = History(history_file)
        self.running = True

    # -- output ---------------------------------------------------------------------------

    def _width(self) -> int:
        return shutil.get_terminal_size((120, 24)).columns

    def _console(self) -> Console:
        return Console(file=self.out, width=self._width(), highlight=False, soft_wrap=False)

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # -- loop -----------------------------------------------------------------------------

    def banner(self) -> None:
        try:
            info = self.client.info().get("KsqlServerInfo", {})
            server = f"server {info.get('version', '?')} at {self.client.url}"
        except KsqlError as exc:
            server = f"no answer from {self.client.url} yet ({error_text(exc)})"
        self.say(f"fraudstream ksql shell, {server}")
        self.say("Statements end with ';'. Type 'help' for the commands, 'exit' to leave.\n")

    def loop(self) -> None:
        """Read statements until EXIT or end of input; Ctrl-C at the prompt clears the line."""
        self.banner()
        buffer = ""
        mark = self.history.mark()
        while self.running:
            try:
                line = self.read_line(PROMPT if not buffer.strip() else CONTINUATION)
            except EOFError:
                self.say("")
                break
            except KeyboardInterrupt:
                self.say("")
                buffer, mark = "", self.history.mark()
                continue
            if not buffer.strip() and line.strip().rstrip(";").strip().upper() in _WORDS_ONLY:
                self.history.record(mark, line)
                self.run(line.strip().rstrip(";").strip())
                mark = self.history.mark()
                continue
            buffer += line + "\n"
            statements, buffer = split_complete(buffer)
            if statements:
                self.history.record(mark, " ".join(statements))
                mark = self.history.mark()
            for statement in statements:
                if not self.running:
                    break
                try:
                    self.run(statement)
                except KeyboardInterrupt:  # Ctrl-C during a /ksql request: drop it, go on
                    self.say("")
                    break
        self.history.save()

    # -- statements -----------------------------------------------------------------------

    def run(self, statement: str) -> bool:
        """Run one statement (local command, query or /ksql); False when it failed."""
        text = statement.strip()
        word = _LEADING_COMMENTS.sub("", text).split(None, 1)[0].rstrip(";").upper()
        try:
            if word in ("EXIT", "QUIT"):
                self.running = False
            elif word == "HELP":
                self.say(HELP)
            elif self._local(text):
                pass
            elif word in ("SELECT", "PRINT"):
                self.query(text)
            else:
                entities = self.client.ksql(
                    text, properties=self.properties, variables=self.variables or None
                )
                print_entities(self._console(), entities)
        except KsqlError as exc:
            self.say(error_text(exc))
            return False
        return True

    def _local(self, text: str) -> bool:
        """SET, UNSET, DEFINE, UNDEFINE, SHOW VARIABLES, RUN SCRIPT: the shell's own."""
        if m := _SET.match(text):
            name, value = _unquote(m[1]), _unquote(m[2])
            self.properties[name] = value
            self.say(
                f"Successfully changed local property '{name}' to '{value}'. "
                "Use the UNSET command to revert your change."
            )
        elif m := _UNSET.match(text):
            name = _unquote(m[1])
            if name not in self.properties:
                raise KsqlError(f"Property '{name}' was not set in this session")
            old = self.properties.pop(name)
            self.say(f"Successfully unset local property '{name}' (value was '{old}').")
        elif m := _DEFINE.match(text):
            self.variables[m[1]] = _unquote(m[2])
        elif m := _UNDEFINE.match(text):
            if self.variables.pop(m[1], None) is None:
                self.say(f"Variable '{m[1]}' is undefined")
        elif _VARIABLES.match(text):
            width = max([len(k) for k in self.variables] + [13])
            self.say(f" {'Variable Name'.ljust(width)} | Value")
            for name, value in sorted(self.variables.items()):
                self.say(f" {name.ljust(width)} | {value}")
        elif m := _RUN_SCRIPT.match(text):
            self.run_script(Path(_unquote(m[1])).expanduser())
        else:
            return False
        return True

    def run_script(self, path: Path) -> None:
        """Every statement of the file in order; the first failure stops the script."""
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise KsqlError(f"Failed to read file: {path} ({exc.strerror})") from None
        statements, rest = split_complete(source)
        if rest.strip() and not rest.strip().startswith("--"):
            statements.append(rest.strip())
        for statement in statements:
            if not self.run(statement):
                return

    def query(self, sql: str) -> None:
        """Stream a query's rows as they arrive; Ctrl-C ends it and returns to the prompt."""
        events = self.client.query(sql, properties=self.properties, variables=self.variables)
        table: RowTable | None = None
        try:
            for event in events:
                if isinstance(event, QueryHeader):
                    table = RowTable(event.columns, self._width(), self.out)
                    table.header()
                elif isinstance(event, QueryFinal):
                    if event.is_error:
                        raise KsqlError(event.message)
                    if table is not None:
                        table.footer()
                        table = None
                    self.say(event.message)
                elif table is not None:
                    table.row(event)
        except KeyboardInterrupt:
            pass  # the terminal echoed ^C; the query ends below
        finally:
            events.close()  # closing the connection ends the query on the server
            if table is not None:
                table.footer()
        self.say("Query terminated")
